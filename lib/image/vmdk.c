/* VMDK reader: descriptors (standalone or embedded), FLAT/VMFS, ZERO,
 * hosted sparse ("KDMV", incl. streamOptimized), ESXi VMFSSPARSE ("COWD")
 * and SESPARSE extents. Read-only.
 *
 * Every offset taken from a file is checked against that file's size and
 * the limits in image.h before it is used; errors name the file, the
 * structure and the offset. Grain tables are loaded lazily into a small
 * per-extent cache guarded by a mutex, so reads may run concurrently. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/error.h"
#include "image/image.h"
#include "image/vmdk_descriptor.h"

#define SECTOR 512u
#define KDMV_MAGIC 0x564d444bu /* "KDMV" read as little-endian */
#define COWD_MAGIC 0x44574f43u /* "COWD" */
#define SESPARSE_MAGIC UINT64_C(0xcafebabe)
#define SESPARSE_VOLATILE_MAGIC UINT64_C(0xcafecafe)
#define SESPARSE_VERSION UINT64_C(0x0000000200000001)
#define GD_AT_END UINT64_MAX

/* Hosted sparse header flags. */
#define KDMV_FLAG_NL_CHECK (1u << 0)
#define KDMV_FLAG_RGD (1u << 1)
#define KDMV_FLAG_ZERO_GRAIN (1u << 2)
#define KDMV_FLAG_COMPRESSED (1u << 16)
#define KDMV_FLAG_MARKERS (1u << 17)
#define KDMV_COMPRESS_DEFLATE 1

#define MARKER_EOS 0
#define MARKER_FOOTER 3

#define MAX_GRAIN_SECTORS 2048u /* 1 MiB: bounds per-read buffers */
#define MAX_GTES 65536u         /* entries in one grain table */
#define COWD_GTES 4096u         /* fixed by the COWD format */
#define GRAIN_MARKER_BYTES 12u  /* lba (8) + compressed size (4) */
#define GT_CACHE_SLOTS 64u

enum ext_kind { EXT_FLAT, EXT_ZERO, EXT_HOSTED, EXT_COWD, EXT_SESPARSE };

struct gt_slot {
  uint64_t tag; /* grain table index + 1; 0 = empty */
  uint8_t *data;
};

struct extent {
  enum ext_kind kind;
  h2k_file *file;    /* NULL for ZERO */
  uint64_t start;    /* guest byte offset */
  uint64_t length;   /* guest bytes */
  uint64_t flat_off; /* FLAT: byte offset of the data in the file */

  /* Sparse kinds. */
  uint64_t grain;     /* bytes */
  uint32_t gtes;      /* entries per grain table */
  unsigned gte_bytes; /* 4 or 8 */
  uint64_t *gd;       /* byte offset of each grain table; 0 = none */
  uint64_t n_gd;
  bool zero_grains;      /* hosted: GTE 1 means "reads as zeros" */
  bool compressed;       /* streamOptimized deflate grains */
  uint64_t grains_off;   /* SESPARSE: start of the grain area */
  uint64_t grains_count; /* SESPARSE: grains the area can hold */
  pthread_mutex_t lock;  /* guards cache */
  bool lock_init;
  struct gt_slot *cache;
};

struct vmdk {
  struct extent *ext;
  size_t n_ext;
  bool has_cid;
  uint32_t cid;
  uint32_t parent_cid;
};

enum grain_kind { GRAIN_UNALLOC, GRAIN_ZERO, GRAIN_DATA, GRAIN_DEFLATE };

struct grain_loc {
  enum grain_kind kind;
  uint64_t off; /* file byte offset (DATA) or of the grain marker (DEFLATE) */
};

/* ---- little helpers ---- */

static uint16_t le16(const uint8_t *p) {
  return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) {
  return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static bool is_pow2(uint64_t v) {
  return v && !(v & (v - 1));
}

static uint64_t div_round_up(uint64_t a, uint64_t b) {
  return a / b + (a % b != 0);
}

/* [off, off+len) lies inside a file of `size` bytes, without overflow. */
static bool range_ok(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

/* sectors * 512 into *bytes, refusing values that would overflow. */
static bool sectors_to_bytes(uint64_t sectors, uint64_t *bytes) {
  if (sectors > UINT64_MAX / SECTOR)
    return false;
  *bytes = sectors * SECTOR;
  return true;
}

static int bad(h2k_error *err, const h2k_file *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* H2K_E_INPUT "VMDK <file>: <what>". */
static int bad(h2k_error *err, const h2k_file *f, const char *fmt, ...) {
  char what[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  h2k_err_set(err, H2K_E_INPUT, "VMDK %s: %s", f->path, what);
  return -1;
}

static int oom(h2k_error *err) {
  h2k_err_set(err, H2K_E_FAIL, "VMDK: out of memory");
  return -1;
}

/* ---- grain tables ---- */

static uint64_t gt_bytes(const struct extent *e) {
  return (uint64_t)e->gtes * e->gte_bytes;
}

/* Raw entry `i` of grain table `gt` (whose GD entry is non-zero). */
static int gt_entry(struct extent *e, uint64_t gt, uint32_t i, uint64_t *val,
                    h2k_error *err) {
  int rc = 0;
  pthread_mutex_lock(&e->lock);
  if (!e->cache)
    e->cache = calloc(GT_CACHE_SLOTS, sizeof *e->cache);
  if (!e->cache) {
    rc = oom(err);
    goto out;
  }
  struct gt_slot *s = &e->cache[gt % GT_CACHE_SLOTS];
  if (s->tag != gt + 1) {
    s->tag = 0;
    if (!s->data)
      s->data = malloc(gt_bytes(e));
    if (!s->data) {
      rc = oom(err);
      goto out;
    }
    rc = h2k_file_pread(e->file, s->data, gt_bytes(e), e->gd[gt],
                        "VMDK grain table", err);
    if (rc < 0)
      goto out;
    s->tag = gt + 1;
  }
  const uint8_t *p = s->data + (size_t)i * e->gte_bytes;
  *val = e->gte_bytes == 8 ? le64(p) : le32(p);
out:
  pthread_mutex_unlock(&e->lock);
  return rc;
}

/* Bytes of grain `g` that belong to the extent (the last may be short). */
static uint64_t grain_span(const struct extent *e, uint64_t g) {
  uint64_t start = g * e->grain;
  return e->length - start < e->grain ? e->length - start : e->grain;
}

static int decode_sesparse(struct extent *e, uint64_t gt, uint32_t i,
                           uint64_t v, struct grain_loc *loc, h2k_error *err) {
  switch (v >> 60) {
  case 0x0:
    if (v != 0)
      break;
    loc->kind = GRAIN_UNALLOC;
    return 0;
  case 0x1: /* unmapped (discarded): reads as zeros */
  case 0x2: /* zero grain */
    loc->kind = GRAIN_ZERO;
    return 0;
  case 0x3: {
    uint64_t idx = ((v >> 48) & 0xfff) | ((v & UINT64_C(0xffffffffffff)) << 12);
    if (idx >= e->grains_count)
      return bad(err, e->file,
                 "seSparse grain table %" PRIu64 " entry %u: grain %" PRIu64
                 " is outside the grain area (%" PRIu64 " grains)",
                 gt, i, idx, e->grains_count);
    loc->kind = GRAIN_DATA;
    loc->off = e->grains_off + idx * e->grain;
    return 0;
  }
  default:
    break;
  }
  return bad(err, e->file,
             "seSparse grain table %" PRIu64
             " entry %u: invalid value 0x%016" PRIx64,
             gt, i, v);
}

static int decode_sector_entry(struct extent *e, uint64_t g, uint64_t v,
                               struct grain_loc *loc, h2k_error *err) {
  if (v == 0) {
    loc->kind = GRAIN_UNALLOC;
    return 0;
  }
  if (v == 1 && e->zero_grains) {
    loc->kind = GRAIN_ZERO;
    return 0;
  }
  uint64_t off = v * SECTOR;
  uint64_t need = e->compressed ? GRAIN_MARKER_BYTES : grain_span(e, g);
  if (!range_ok(off, need, e->file->size))
    return bad(err, e->file,
               "grain table entry for grain %" PRIu64
               " points at offset %" PRIu64
               ", past the end of the file (%" PRIu64 " bytes)",
               g, off, e->file->size);
  loc->kind = e->compressed ? GRAIN_DEFLATE : GRAIN_DATA;
  loc->off = off;
  return 0;
}

/* Where grain `g` (index inside the extent) lives. */
static int grain_lookup(struct extent *e, uint64_t g, struct grain_loc *loc,
                        h2k_error *err) {
  uint64_t gt = g / e->gtes;
  uint32_t i = (uint32_t)(g % e->gtes);
  if (gt >= e->n_gd)
    return bad(err, e->file, "grain %" PRIu64 " is beyond the grain directory",
               g);
  if (e->gd[gt] == 0) {
    loc->kind = GRAIN_UNALLOC;
    return 0;
  }
  uint64_t v;
  if (gt_entry(e, gt, i, &v, err) < 0)
    return -1;
  if (e->kind == EXT_SESPARSE)
    return decode_sesparse(e, gt, i, v, loc, err);
  return decode_sector_entry(e, g, v, loc, err);
}

/* ---- grain directories ---- */

/* Decode and check the grain directory of a hosted or COWD extent: 32-bit
 * sector offsets of grain tables. */
static int load_sector_gd(struct extent *e, uint64_t gd_off, h2k_error *err) {
  uint64_t bytes = e->n_gd * 4;
  if (!range_ok(gd_off, bytes, e->file->size))
    return bad(err, e->file,
               "grain directory at offset %" PRIu64 " (%" PRIu64
               " bytes) is past the end of the file (%" PRIu64 " bytes)",
               gd_off, bytes, e->file->size);
  uint8_t *raw = malloc(bytes ? bytes : 1);
  uint64_t *gd = calloc(e->n_gd ? e->n_gd : 1, sizeof *gd);
  if (!raw || !gd) {
    free(raw);
    free(gd);
    return oom(err);
  }
  if (h2k_file_pread(e->file, raw, bytes, gd_off, "VMDK grain directory", err) <
      0)
    goto fail;
  for (uint64_t i = 0; i < e->n_gd; i++) {
    uint64_t off = (uint64_t)le32(raw + i * 4) * SECTOR;
    if (off && !range_ok(off, gt_bytes(e), e->file->size)) {
      bad(err, e->file,
          "grain directory entry %" PRIu64 " (at offset %" PRIu64
          ") points at a grain table at offset %" PRIu64
          ", past the end of the file (%" PRIu64 " bytes)",
          i, gd_off + i * 4, off, e->file->size);
      goto fail;
    }
    gd[i] = off;
  }
  free(raw);
  e->gd = gd;
  return 0;
fail:
  free(raw);
  free(gd);
  return -1;
}

/* Common sizing of a sparse extent's tables; bounded by the limits. */
static int size_tables(struct extent *e, uint64_t *table_budget,
                       h2k_error *err) {
  uint64_t grains = div_round_up(e->length, e->grain);
  e->n_gd = div_round_up(grains, e->gtes);
  uint64_t gd_bytes = e->n_gd * 8; /* decoded size */
  if (gd_bytes > *table_budget)
    return bad(err, e->file,
               "grain directory of %" PRIu64
               " entries exceeds the metadata limit",
               e->n_gd);
  *table_budget -= gd_bytes;
  return 0;
}

/* Read the first sector of an extent file after checking its magic, so a
 * file of the wrong kind gets a clear message whatever its size. */
static int read_extent_header(h2k_file *f, uint8_t b[SECTOR], uint64_t magic,
                              unsigned magic_len, const char *what,
                              h2k_error *err) {
  uint8_t m[8] = {0};
  if (f->size >= magic_len &&
      h2k_file_pread(f, m, magic_len, 0, "VMDK extent magic", err) < 0)
    return -1;
  if (f->size < magic_len || (magic_len == 8 ? le64(m) : le32(m)) != magic)
    return bad(err, f, "not a %s", what);
  return h2k_file_pread(f, b, SECTOR, 0, "VMDK extent header", err);
}

/* ---- hosted sparse (KDMV) ---- */

struct kdmv_header {
  uint32_t version, flags, gtes;
  uint64_t capacity, grain, desc_off, desc_size, rgd_off, gd_off;
  uint16_t compress;
  uint8_t nl[4];
};

static void kdmv_decode(const uint8_t *b, struct kdmv_header *h) {
  h->version = le32(b + 4);
  h->flags = le32(b + 8);
  h->capacity = le64(b + 12);
  h->grain = le64(b + 20);
  h->desc_off = le64(b + 28);
  h->desc_size = le64(b + 36);
  h->gtes = le32(b + 44);
  h->rgd_off = le64(b + 48);
  h->gd_off = le64(b + 56);
  memcpy(h->nl, b + 73, 4);
  h->compress = le16(b + 77);
}

static bool marker_is(const uint8_t *m, uint64_t val, uint32_t type) {
  return le64(m) == val && le32(m + 8) == 0 && le32(m + 12) == type;
}

/* streamOptimized: the real header is the footer near the end of file:
 * footer marker, footer (a header copy), end-of-stream marker. */
static int kdmv_read_footer(h2k_file *f, struct kdmv_header *h,
                            h2k_error *err) {
  uint8_t tail[3 * SECTOR];
  if (f->size < 4 * SECTOR)
    return bad(err, f, "streamOptimized footer missing: file too short");
  uint64_t at = f->size - sizeof tail;
  if (h2k_file_pread(f, tail, sizeof tail, at, "VMDK footer", err) < 0)
    return -1;
  if (!marker_is(tail, 1, MARKER_FOOTER) || le32(tail + SECTOR) != KDMV_MAGIC ||
      !marker_is(tail + 2 * SECTOR, 0, MARKER_EOS))
    return bad(err, f,
               "header says the grain directory is in the footer, but no "
               "valid footer is at offset %" PRIu64 " (file truncated?)",
               at);
  kdmv_decode(tail + SECTOR, h);
  if (h->gd_off == GD_AT_END)
    return bad(err, f,
               "the footer at offset %" PRIu64 " has no grain directory offset",
               at + SECTOR);
  return 0;
}

static int kdmv_check(h2k_file *f, const struct kdmv_header *h,
                      h2k_error *err) {
  if (h->version < 1 || h->version > 3)
    return bad(err, f, "unsupported sparse header version %" PRIu32,
               h->version);
  if ((h->flags & KDMV_FLAG_NL_CHECK) && memcmp(h->nl, "\n \r\n", 4) != 0)
    return bad(err, f,
               "header line-ending check failed: the file was damaged "
               "by a text-mode (ASCII) transfer; copy it again in "
               "binary mode");
  if (!is_pow2(h->grain) || h->grain > MAX_GRAIN_SECTORS)
    return bad(err, f,
               "grain size of %" PRIu64
               " sectors (header offset 20) is not a power of two in 1..%u",
               h->grain, MAX_GRAIN_SECTORS);
  if (h->gtes == 0 || h->gtes > MAX_GTES)
    return bad(err, f,
               "%" PRIu32 " entries per grain table (header offset 44) is "
               "out of range 1..%u",
               h->gtes, MAX_GTES);
  if (h->capacity == 0 || h->capacity > H2K_MAX_VIRTUAL_SIZE / SECTOR)
    return bad(err, f,
               "capacity of %" PRIu64 " sectors (header offset 12) is 0 or "
               "above the 64 TiB limit",
               h->capacity);
  if ((h->flags & KDMV_FLAG_COMPRESSED) && h->compress != KDMV_COMPRESS_DEFLATE)
    return bad(err, f, "unsupported grain compression algorithm %u",
               h->compress);
  return 0;
}

static int kdmv_read_header(h2k_file *f, struct kdmv_header *h,
                            h2k_error *err) {
  uint8_t b[SECTOR];
  if (read_extent_header(f, b, KDMV_MAGIC, 4,
                         "hosted sparse extent (no KDMV magic)", err) < 0)
    return -1;
  kdmv_decode(b, h);
  if (h->gd_off == GD_AT_END && kdmv_read_footer(f, h, err) < 0)
    return -1;
  return kdmv_check(f, h, err);
}

static int kdmv_setup(struct extent *e, const struct kdmv_header *h,
                      uint64_t *budget, h2k_error *err) {
  if (h->capacity * SECTOR < e->length)
    return bad(err, e->file,
               "sparse header capacity (%" PRIu64
               " sectors) is smaller than the extent (%" PRIu64 " sectors)",
               h->capacity, e->length / SECTOR);
  e->kind = EXT_HOSTED;
  e->grain = h->grain * SECTOR;
  e->gtes = h->gtes;
  e->gte_bytes = 4;
  e->zero_grains = h->flags & KDMV_FLAG_ZERO_GRAIN;
  e->compressed = h->flags & KDMV_FLAG_COMPRESSED;
  if (size_tables(e, budget, err) < 0)
    return -1;
  uint64_t gd_off, rgd_off = 0;
  bool use_rgd = (h->flags & KDMV_FLAG_RGD) && h->rgd_off;
  if (!sectors_to_bytes(h->gd_off, &gd_off) ||
      (use_rgd && !sectors_to_bytes(h->rgd_off, &rgd_off)))
    return bad(err, e->file, "grain directory offset out of range");
  if (h->gd_off == 0 && use_rgd)
    return load_sector_gd(e, rgd_off, err);
  if (load_sector_gd(e, gd_off, err) == 0)
    return 0;
  if (!use_rgd)
    return -1;
  /* The primary directory is damaged: try the redundant copy. */
  h2k_error second = {0};
  if (load_sector_gd(e, rgd_off, &second) == 0) {
    h2k_err_clear(err);
    return 0;
  }
  return -1; /* report the primary's problem */
}

/* ---- ESXi COWD (VMFSSPARSE) ---- */

static int cowd_setup(struct extent *e, uint64_t *budget, h2k_error *err) {
  uint8_t b[SECTOR];
  if (read_extent_header(e->file, b, COWD_MAGIC, 4,
                         "VMFSSPARSE extent (no COWD magic)", err) < 0)
    return -1;
  uint64_t capacity = le32(b + 12), grain = le32(b + 16);
  uint64_t gd_sector = le32(b + 20), gd_entries = le32(b + 24);
  if (!is_pow2(grain) || grain > MAX_GRAIN_SECTORS)
    return bad(err, e->file,
               "COWD grain size of %" PRIu64
               " sectors (header offset 16) is not a power of two in 1..%u",
               grain, MAX_GRAIN_SECTORS);
  if (capacity * SECTOR < e->length)
    return bad(err, e->file,
               "COWD capacity (%" PRIu64
               " sectors) is smaller than the extent (%" PRIu64 " sectors)",
               capacity, e->length / SECTOR);
  e->kind = EXT_COWD;
  e->grain = grain * SECTOR;
  e->gtes = COWD_GTES;
  e->gte_bytes = 4;
  if (size_tables(e, budget, err) < 0)
    return -1;
  if (gd_entries < e->n_gd)
    return bad(err, e->file,
               "COWD grain directory has %" PRIu64 " entries, %" PRIu64
               " needed for the extent",
               gd_entries, e->n_gd);
  return load_sector_gd(e, gd_sector * SECTOR, err);
}

/* ---- ESXi SESPARSE ---- */

struct sesparse_header {
  uint64_t capacity, grain, gt_size, vol_off, gd_off, gd_size, gt_off, gt_area,
      grains_off, grains_size;
};

static int sesparse_read_header(h2k_file *f, struct sesparse_header *h,
                                h2k_error *err) {
  uint8_t b[SECTOR];
  if (read_extent_header(f, b, SESPARSE_MAGIC, 8,
                         "SESPARSE extent (no 0xcafebabe magic)", err) < 0)
    return -1;
  if (le64(b + 8) != SESPARSE_VERSION)
    return bad(err, f, "unsupported seSparse version 0x%016" PRIx64,
               le64(b + 8));
  h->capacity = le64(b + 16);
  h->grain = le64(b + 24);
  h->gt_size = le64(b + 32);
  if (le64(b + 40) != 0)
    return bad(err, f, "unsupported seSparse flags 0x%" PRIx64, le64(b + 40));
  h->vol_off = le64(b + 80);
  h->gd_off = le64(b + 128);
  h->gd_size = le64(b + 136);
  h->gt_off = le64(b + 144);
  h->gt_area = le64(b + 152);
  h->grains_off = le64(b + 192);
  h->grains_size = le64(b + 200);
  if (h->grain != 8 || h->gt_size != 64)
    return bad(err, f,
               "seSparse grain size %" PRIu64 " / grain table size %" PRIu64
               " sectors unsupported (expected 8 / 64)",
               h->grain, h->gt_size);
  return 0;
}

static int sesparse_check_volatile(h2k_file *f, uint64_t vol_sector,
                                   h2k_error *err) {
  uint8_t b[32];
  uint64_t off;
  if (!sectors_to_bytes(vol_sector, &off))
    return bad(err, f, "seSparse volatile header offset out of range");
  if (h2k_file_pread(f, b, sizeof b, off, "VMDK seSparse volatile header",
                     err) < 0)
    return -1;
  if (le64(b) != SESPARSE_VOLATILE_MAGIC)
    return bad(err, f, "bad seSparse volatile header magic at offset %" PRIu64,
               off);
  if (le64(b + 24) != 0)
    return bad(err, f,
               "seSparse journal needs replay (disk not closed "
               "cleanly); power the VM on and off in ESXi first");
  return 0;
}

/* Check SESPARSE areas and decode its 64-bit grain directory. */
static int sesparse_load_gd(struct extent *e, const struct sesparse_header *h,
                            h2k_error *err) {
  uint64_t gd_off, gd_area, gt_off, gt_area, gr_off, gr_area;
  if (!sectors_to_bytes(h->gd_off, &gd_off) ||
      !sectors_to_bytes(h->gd_size, &gd_area) ||
      !sectors_to_bytes(h->gt_off, &gt_off) ||
      !sectors_to_bytes(h->gt_area, &gt_area) ||
      !sectors_to_bytes(h->grains_off, &gr_off) ||
      !sectors_to_bytes(h->grains_size, &gr_area) ||
      !range_ok(gd_off, gd_area, e->file->size) ||
      !range_ok(gt_off, gt_area, e->file->size) ||
      !range_ok(gr_off, gr_area, e->file->size))
    return bad(err, e->file,
               "seSparse header areas (directory/tables/grains) lie past the "
               "end of the file (%" PRIu64 " bytes)",
               e->file->size);
  if (gd_area / 8 < e->n_gd)
    return bad(err, e->file,
               "seSparse grain directory has %" PRIu64 " entries, %" PRIu64
               " needed",
               gd_area / 8, e->n_gd);
  e->grains_off = gr_off;
  e->grains_count = gr_area / e->grain;
  uint64_t n_tables = gt_area / gt_bytes(e);
  uint8_t *raw = malloc(e->n_gd * 8);
  uint64_t *gd = calloc(e->n_gd, sizeof *gd);
  if (!raw || !gd) {
    free(raw);
    free(gd);
    return oom(err);
  }
  if (h2k_file_pread(e->file, raw, e->n_gd * 8, gd_off,
                     "VMDK seSparse grain directory", err) < 0)
    goto fail;
  for (uint64_t i = 0; i < e->n_gd; i++) {
    uint64_t v = le64(raw + i * 8);
    if (v == 0)
      continue;
    uint64_t idx = v & 0xffffffffu;
    if ((v >> 32) != 0x10000000u || idx >= n_tables) {
      bad(err, e->file,
          "seSparse grain directory entry %" PRIu64 " (at offset %" PRIu64
          ") is invalid: 0x%016" PRIx64,
          i, gd_off + i * 8, v);
      goto fail;
    }
    gd[i] = gt_off + idx * gt_bytes(e);
  }
  free(raw);
  e->gd = gd;
  return 0;
fail:
  free(raw);
  free(gd);
  return -1;
}

static int sesparse_setup(struct extent *e, uint64_t *budget, h2k_error *err) {
  struct sesparse_header h = {0};
  if (sesparse_read_header(e->file, &h, err) < 0 ||
      sesparse_check_volatile(e->file, h.vol_off, err) < 0)
    return -1;
  if (h.capacity > UINT64_MAX / SECTOR || h.capacity * SECTOR < e->length)
    return bad(err, e->file,
               "seSparse capacity (%" PRIu64
               " sectors) is smaller than the extent (%" PRIu64 " sectors)",
               h.capacity, e->length / SECTOR);
  e->kind = EXT_SESPARSE;
  e->grain = h.grain * SECTOR;
  e->gtes = (uint32_t)(h.gt_size * SECTOR / 8);
  e->gte_bytes = 8;
  if (size_tables(e, budget, err) < 0)
    return -1;
  return sesparse_load_gd(e, &h, err);
}

/* ---- extents from descriptors ---- */

static int flat_setup(struct extent *e, uint64_t offset_sectors,
                      h2k_error *err) {
  e->kind = EXT_FLAT;
  if (!sectors_to_bytes(offset_sectors, &e->flat_off) ||
      !range_ok(e->flat_off, e->length, e->file->size))
    return bad(err, e->file,
               "flat extent needs %" PRIu64 " bytes from offset %" PRIu64
               " but the file has only %" PRIu64 " (truncated?)",
               e->length, e->flat_off, e->file->size);
  return 0;
}

static int extent_setup(struct extent *e, const struct vmdk_desc_extent *de,
                        uint64_t *budget, h2k_error *err) {
  switch (de->type) {
  case VMDK_EXT_FLAT:
  case VMDK_EXT_VMFS:
    return flat_setup(e, de->offset, err);
  case VMDK_EXT_SPARSE: {
    struct kdmv_header h = {0};
    if (kdmv_read_header(e->file, &h, err) < 0)
      return -1;
    return kdmv_setup(e, &h, budget, err);
  }
  case VMDK_EXT_VMFSSPARSE:
    return cowd_setup(e, budget, err);
  case VMDK_EXT_SESPARSE:
    return sesparse_setup(e, budget, err);
  case VMDK_EXT_ZERO:
    break;
  }
  e->kind = EXT_ZERO;
  return 0;
}

static int open_desc_extent(h2k_image *img, struct extent *e,
                            const struct vmdk_desc_extent *de, uint64_t *budget,
                            h2k_error *err) {
  if (de->access == VMDK_ACCESS_NOACCESS) {
    h2k_err_set(err, H2K_E_INPUT,
                "VMDK %s, line %u: extent marked NOACCESS cannot be read",
                img->file->path, de->line);
    return -1;
  }
  if (de->type == VMDK_EXT_ZERO) {
    e->kind = EXT_ZERO;
    return 0;
  }
  char *path = h2k_file_sibling(img->file, de->file);
  if (!path)
    return oom(err);
  e->file = h2k_file_open(path, err);
  free(path);
  if (!e->file || extent_setup(e, de, budget, err) < 0) {
    h2k_err_wrap(err, "VMDK %s, line %u: %s extent \"%s\"", img->file->path,
                 de->line, vmdk_ext_type_name(de->type), de->file);
    return -1;
  }
  return 0;
}

static struct extent *alloc_extents(struct vmdk *v, size_t n, h2k_error *err) {
  v->ext = calloc(n, sizeof *v->ext);
  if (!v->ext) {
    oom(err);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    if (pthread_mutex_init(&v->ext[i].lock, NULL) != 0) {
      h2k_err_set(err, H2K_E_FAIL, "VMDK: cannot create a mutex");
      return NULL;
    }
    v->ext[i].lock_init = true;
    v->n_ext = i + 1;
  }
  return v->ext;
}

static int open_desc_extents(h2k_image *img, struct vmdk *v,
                             const struct vmdk_descriptor *d, h2k_error *err) {
  if (!alloc_extents(v, d->n_extents, err))
    return -1;
  uint64_t start = 0, budget = H2K_MAX_TABLE_BYTES;
  for (size_t i = 0; i < d->n_extents; i++) {
    struct extent *e = &v->ext[i];
    e->start = start;
    e->length = d->extents[i].sectors * SECTOR;
    if (open_desc_extent(img, e, &d->extents[i], &budget, err) < 0)
      return -1;
    start += e->length;
  }
  img->virtual_size = start;
  return 0;
}

/* ---- top-level open paths ---- */

static int take_descriptor_info(h2k_image *img, struct vmdk *v,
                                const struct vmdk_descriptor *d,
                                const char *fallback_type, h2k_error *err) {
  v->has_cid = d->has_cid;
  v->cid = d->cid;
  v->parent_cid = d->parent_cid;
  const char *type = d->create_type ? d->create_type : fallback_type;
  img->subformat = strdup(type);
  if (!img->subformat)
    return oom(err);
  if (!d->parent_hint)
    return 0;
  img->backing_name = strdup(d->parent_hint);
  img->backing_path = h2k_file_sibling(img->file, d->parent_hint);
  img->backing_format = strdup("vmdk");
  if (!img->backing_name || !img->backing_path || !img->backing_format)
    return oom(err);
  /* Loops (a parent naming itself, A -> B -> A) are caught by image.c. */
  return 0;
}

static int read_embedded_descriptor(h2k_file *f, const struct kdmv_header *h,
                                    struct vmdk_descriptor *d, h2k_error *err) {
  memset(d, 0, sizeof *d);
  d->parent_cid = VMDK_CID_NONE;
  if (h->desc_off == 0 || h->desc_size == 0)
    return 0;
  uint64_t off = 0, len = h->desc_size * SECTOR;
  if (h->desc_size > VMDK_DESC_MAX_BYTES / SECTOR ||
      !sectors_to_bytes(h->desc_off, &off) || !range_ok(off, len, f->size))
    return bad(err, f,
               "embedded descriptor (sector %" PRIu64 ", %" PRIu64
               " sectors) is past the end of the file or too large",
               h->desc_off, h->desc_size);
  char *text = malloc(len);
  if (!text)
    return oom(err);
  int rc = h2k_file_pread(f, text, len, off, "VMDK embedded descriptor", err);
  if (rc == 0)
    rc = vmdk_desc_parse(text, len, f->path, true, d, err);
  free(text);
  if (rc == 0 && d->n_extents && d->total_sectors != h->capacity) {
    bad(err, f,
        "embedded descriptor extents total %" PRIu64
        " sectors but the sparse header capacity is %" PRIu64,
        d->total_sectors, h->capacity);
    vmdk_desc_free(d);
    return -1;
  }
  return rc;
}

/* A file starting with a hosted sparse header (monolithicSparse,
 * streamOptimized, or a sparse delta): one extent, the file itself. */
static int open_monolithic(h2k_image *img, struct vmdk *v, h2k_error *err) {
  struct kdmv_header h = {0};
  struct vmdk_descriptor d;
  if (kdmv_read_header(img->file, &h, err) < 0 ||
      read_embedded_descriptor(img->file, &h, &d, err) < 0)
    return -1;
  int rc = -1;
  uint64_t budget = H2K_MAX_TABLE_BYTES;
  if (!alloc_extents(v, 1, err))
    goto out;
  struct extent *e = &v->ext[0];
  e->file = h2k_file_ref(img->file);
  e->length = h.capacity * SECTOR;
  if (kdmv_setup(e, &h, &budget, err) < 0)
    goto out;
  img->virtual_size = e->length;
  rc = take_descriptor_info(
      img, v, &d, e->compressed ? "streamOptimized" : "monolithicSparse", err);
out:
  vmdk_desc_free(&d);
  return rc;
}

/* A bare COWD file (no descriptor): one extent of the header's capacity. */
static int open_bare_cowd(h2k_image *img, struct vmdk *v, const uint8_t *head,
                          h2k_error *err) {
  uint64_t budget = H2K_MAX_TABLE_BYTES;
  uint64_t capacity = le32(head + 12);
  if (capacity == 0)
    return bad(err, img->file, "COWD capacity is 0");
  if (!alloc_extents(v, 1, err))
    return -1;
  struct extent *e = &v->ext[0];
  e->file = h2k_file_ref(img->file);
  e->length = capacity * SECTOR;
  if (cowd_setup(e, &budget, err) < 0)
    return -1;
  img->virtual_size = e->length;
  img->subformat = strdup("vmfsSparse");
  return img->subformat ? 0 : oom(err);
}

static int open_text_descriptor(h2k_image *img, struct vmdk *v,
                                h2k_error *err) {
  h2k_file *f = img->file;
  if (f->size > VMDK_DESC_MAX_BYTES)
    return bad(err, f,
               "not a VMDK: no sparse header magic, and at %" PRIu64
               " bytes too large to be a text descriptor",
               f->size);
  char *text = malloc(f->size ? f->size : 1);
  if (!text)
    return oom(err);
  struct vmdk_descriptor d;
  int rc = h2k_file_pread(f, text, f->size, 0, "VMDK descriptor", err);
  if (rc == 0)
    rc = vmdk_desc_parse(text, f->size, f->path, false, &d, err);
  free(text);
  if (rc < 0)
    return -1;
  rc = open_desc_extents(img, v, &d, err);
  if (rc == 0)
    rc = take_descriptor_info(img, v, &d, d.create_type, err);
  vmdk_desc_free(&d);
  return rc;
}

static void vmdk_close(h2k_image *img) {
  struct vmdk *v = img->priv;
  if (!v)
    return;
  for (size_t i = 0; i < v->n_ext; i++) {
    struct extent *e = &v->ext[i];
    if (e->file)
      h2k_file_close(e->file);
    free(e->gd);
    if (e->cache)
      for (unsigned s = 0; s < GT_CACHE_SLOTS; s++)
        free(e->cache[s].data);
    free(e->cache);
    if (e->lock_init)
      pthread_mutex_destroy(&e->lock);
  }
  free(v->ext);
  free(v);
  img->priv = NULL;
}

static int vmdk_open(h2k_image *img, h2k_error *err) {
  uint8_t head[SECTOR] = {0};
  size_t n =
      img->file->size < sizeof head ? (size_t)img->file->size : sizeof head;
  if (h2k_file_pread(img->file, head, n, 0, "VMDK header", err) < 0)
    return -1;
  struct vmdk *v = calloc(1, sizeof *v);
  if (!v)
    return oom(err);
  v->parent_cid = VMDK_CID_NONE;
  img->priv = v;
  int rc;
  if (n >= 4 && le32(head) == KDMV_MAGIC)
    rc = open_monolithic(img, v, err);
  else if (n >= 4 && le32(head) == COWD_MAGIC)
    rc = open_bare_cowd(img, v, head, err);
  else if (n >= 8 && le64(head) == SESPARSE_MAGIC)
    rc = bad(err, img->file,
             "this is a seSparse extent; open its descriptor (.vmdk) instead");
  else
    rc = open_text_descriptor(img, v, err);
  if (rc < 0)
    vmdk_close(img);
  return rc;
}

/* ---- block status and reads ---- */

/* The extent holding guest byte `off` (< virtual size). */
static struct extent *find_extent(struct vmdk *v, uint64_t off) {
  size_t lo = 0, hi = v->n_ext;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (v->ext[mid].start <= off)
      lo = mid;
    else
      hi = mid;
  }
  return &v->ext[lo];
}

static enum h2k_extent_kind kind_of(enum grain_kind g) {
  switch (g) {
  case GRAIN_UNALLOC:
    return H2K_EXTENT_UNALLOC;
  case GRAIN_ZERO:
    return H2K_EXTENT_ZERO;
  default:
    return H2K_EXTENT_DATA;
  }
}

/* Length of the run of same-kind grains starting at `rel` (extent bytes),
 * at most `len`. */
static int sparse_run(struct extent *e, uint64_t rel, uint64_t len,
                      enum h2k_extent_kind *kind, uint64_t *run,
                      h2k_error *err) {
  uint64_t end = rel + len, pos = rel;
  bool first = true;
  while (pos < end) {
    uint64_t g = pos / e->grain;
    uint64_t next = (g + 1) * e->grain;
    struct grain_loc loc;
    if (grain_lookup(e, g, &loc, err) < 0)
      return -1;
    if (loc.kind == GRAIN_UNALLOC && e->gd[g / e->gtes] == 0)
      next = (g / e->gtes + 1) * e->gtes * e->grain; /* skip the whole GT */
    enum h2k_extent_kind k = kind_of(loc.kind);
    if (first)
      *kind = k;
    else if (k != *kind)
      break;
    first = false;
    pos = next;
  }
  *run = (pos < end ? pos : end) - rel;
  return 0;
}

static int vmdk_block_status(h2k_image *img, uint64_t off, uint64_t len,
                             h2k_extent *ext, h2k_error *err) {
  struct vmdk *v = img->priv;
  struct extent *e = find_extent(v, off);
  uint64_t rel = off - e->start;
  if (len > e->length - rel)
    len = e->length - rel;
  ext->offset = off;
  ext->length = len;
  switch (e->kind) {
  case EXT_FLAT:
    ext->kind = H2K_EXTENT_DATA;
    return 0;
  case EXT_ZERO:
    ext->kind = H2K_EXTENT_ZERO;
    return 0;
  default:
    return sparse_run(e, rel, len, &ext->kind, &ext->length, err);
  }
}

/* Inflate grain `g` whose marker is at `off` into `out` (e->grain bytes);
 * *out_len gets the inflated size. */
static int inflate_grain(struct extent *e, uint64_t g, uint64_t off,
                         uint8_t *out, uint64_t *out_len, h2k_error *err) {
  uint8_t m[GRAIN_MARKER_BYTES];
  if (h2k_file_pread(e->file, m, sizeof m, off, "VMDK grain marker", err) < 0)
    return -1;
  uint64_t lba = le64(m), size = le32(m + 8);
  uint64_t limit = compressBound((uLong)e->grain) + SECTOR;
  if (lba != g * (e->grain / SECTOR) || size == 0 || size > limit ||
      !range_ok(off + sizeof m, size, e->file->size))
    return bad(err, e->file,
               "compressed grain %" PRIu64 " at offset %" PRIu64
               " has a bad marker (lba %" PRIu64 ", %" PRIu64 " bytes)",
               g, off, lba, size);
  uint8_t *in = malloc(size);
  if (!in)
    return oom(err);
  int rc = h2k_file_pread(e->file, in, size, off + sizeof m,
                          "VMDK compressed grain", err);
  if (rc == 0) {
    uLongf n = (uLongf)e->grain;
    int zrc = uncompress(out, &n, in, (uLong)size);
    if (zrc != Z_OK)
      rc = bad(err, e->file,
               "compressed grain %" PRIu64 " at offset %" PRIu64
               " does not inflate (zlib error %d)",
               g, off, zrc);
    *out_len = n;
  }
  free(in);
  return rc;
}

static int read_deflated(struct extent *e, uint64_t g, uint64_t off,
                         uint64_t in_grain, uint8_t *buf, uint64_t n,
                         h2k_error *err) {
  uint8_t *tmp = malloc(e->grain);
  if (!tmp)
    return oom(err);
  uint64_t got = 0;
  int rc = inflate_grain(e, g, off, tmp, &got, err);
  if (rc == 0 && got < in_grain + n)
    rc = bad(err, e->file,
             "compressed grain %" PRIu64 " at offset %" PRIu64
             " inflates to only %" PRIu64 " bytes",
             g, off, got);
  if (rc == 0)
    memcpy(buf, tmp + in_grain, n);
  free(tmp);
  return rc;
}

static int sparse_read(struct extent *e, uint64_t rel, uint8_t *buf,
                       uint64_t len, h2k_error *err) {
  while (len > 0) {
    uint64_t g = rel / e->grain, in_grain = rel % e->grain;
    uint64_t n = e->grain - in_grain;
    if (n > len)
      n = len;
    struct grain_loc loc;
    if (grain_lookup(e, g, &loc, err) < 0)
      return -1;
    int rc = 0;
    if (loc.kind == GRAIN_DATA)
      rc = h2k_file_pread(e->file, buf, n, loc.off + in_grain, "VMDK grain",
                          err);
    else if (loc.kind == GRAIN_DEFLATE)
      rc = read_deflated(e, g, loc.off, in_grain, buf, n, err);
    else
      memset(buf, 0, n);
    if (rc < 0)
      return -1;
    rel += n;
    buf += n;
    len -= n;
  }
  return 0;
}

static int vmdk_read(h2k_image *img, uint64_t off, void *buf, size_t len,
                     h2k_error *err) {
  struct vmdk *v = img->priv;
  uint8_t *p = buf;
  while (len > 0) {
    struct extent *e = find_extent(v, off);
    uint64_t rel = off - e->start;
    uint64_t n = e->length - rel < len ? e->length - rel : len;
    int rc = 0;
    if (e->kind == EXT_FLAT)
      rc = h2k_file_pread(e->file, p, n, e->flat_off + rel, "VMDK flat extent",
                          err);
    else if (e->kind == EXT_ZERO)
      memset(p, 0, n);
    else
      rc = sparse_read(e, rel, p, n, err);
    if (rc < 0)
      return -1;
    off += n;
    p += n;
    len -= n;
  }
  return 0;
}

static int vmdk_check_parent(h2k_image *child, h2k_image *parent,
                             h2k_error *err) {
  const struct vmdk *c = child->priv;
  if (c->parent_cid == VMDK_CID_NONE || parent->drv != &h2k_driver_vmdk)
    return 0;
  const struct vmdk *p = parent->priv;
  if (!p->has_cid || p->cid == c->parent_cid)
    return 0;
  h2k_err_set(err, H2K_E_INPUT,
              "VMDK CID mismatch: %s expects its parent %s to have CID "
              "%08" PRIx32 " but it has CID %08" PRIx32
              "; the parent was modified after the snapshot was taken, or "
              "the wrong parent file was found",
              child->file->path, parent->file->path, c->parent_cid, p->cid);
  return -1;
}

/* ---- probe ---- */

static bool head_contains(const uint8_t *head, size_t len, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(head + i, s, n) == 0)
      return true;
  return false;
}

static int vmdk_probe(const uint8_t *head, size_t len, const char *path) {
  (void)path;
  if (len >= 4 && (le32(head) == KDMV_MAGIC || le32(head) == COWD_MAGIC))
    return 100;
  if (len >= 8 && le64(head) == SESPARSE_MAGIC)
    return 60;
  if (head_contains(head, len, "# Disk DescriptorFile"))
    return 100;
  if (head_contains(head, len, "createType") && !memchr(head, '\0', len))
    return 80;
  return 0;
}

/* Bytes allocated on disk by the descriptor and every extent file (a
 * split VMDK keeps its data outside the descriptor). Each file once. */
static uint64_t vmdk_allocated(const h2k_image *img) {
  const struct vmdk *v = img->priv;
  struct stat st;
  uint64_t total = 0;
  if (fstat(img->file->fd, &st) == 0)
    total += (uint64_t)st.st_blocks * 512;
  for (size_t i = 0; v && i < v->n_ext; i++) {
    const h2k_file *f = v->ext[i].file;
    bool seen = !f || f->fd == img->file->fd;
    for (size_t j = 0; j < i && !seen; j++)
      seen = v->ext[j].file && v->ext[j].file->fd == f->fd;
    if (!seen && fstat(f->fd, &st) == 0)
      total += (uint64_t)st.st_blocks * 512;
  }
  return total;
}

const struct h2k_image_driver h2k_driver_vmdk = {
    .name = "vmdk",
    .probe = vmdk_probe,
    .open = vmdk_open,
    .block_status = vmdk_block_status,
    .read = vmdk_read,
    .check_parent = vmdk_check_parent,
    .close = vmdk_close,
    .allocated = vmdk_allocated,
};
