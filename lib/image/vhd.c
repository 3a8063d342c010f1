/* VHD reader (Microsoft Virtual Hard Disk, "vpc" in qemu): fixed, dynamic
 * and differencing disks. All fields are big endian.
 *
 *   fixed:        [data ............][footer 512]
 *   dynamic/diff: [footer copy][dynamic header 1024][BAT][blocks...][footer]
 *   each block:   [sector bitmap, sector-rounded][block_size bytes of data]
 */
#include "image/image.h"
#include "image/vhd_common.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define VHD_BAT_UNUSED 0xFFFFFFFFu
#define VHD_MIN_BLOCK 512u
#define VHD_MAX_BLOCK (256u << 20)
#define VHD_MAX_LOCATOR_BYTES 65536u
#define VHD_MAX_CHS_SECTORS (UINT64_C(65535) * 16 * 255)

#define FOURCC(a, b, c, d)                                                     \
  ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 |            \
   (uint32_t)(d))
#define LOC_W2RU FOURCC('W', '2', 'r', 'u')
#define LOC_W2KU FOURCC('W', '2', 'k', 'u')
#define LOC_WI2R FOURCC('W', 'i', '2', 'r')
#define LOC_WI2K FOURCC('W', 'i', '2', 'k')
#define LOC_MACX FOURCC('M', 'a', 'c', 'X')

struct vhd_state {
  struct h2k_vhd_footer footer;
  uint64_t data_end; /* no block may extend past this (the trailing footer) */
  bool differencing;
  uint32_t block_size;
  uint32_t bitmap_size; /* bytes before each block's data */
  uint32_t nblocks;     /* BAT entries covering the virtual size */
  uint32_t *bat;        /* sector numbers, VHD_BAT_UNUSED if none */
  uint8_t parent_uuid[16];
};

/* ---- footer and dynamic header parsing (exported for the unit tests) ---- */

int h2k_vhd_parse_footer(const uint8_t *buf, size_t len,
                         struct h2k_vhd_footer *out, const char *where,
                         h2k_error *err) {
  uint8_t f[H2K_VHD_FOOTER_SIZE] = {0};
  if (len != 511 && len != 512) {
    h2k_err_set(err, H2K_E_INPUT, "%s: VHD footer of %zu bytes", where, len);
    return -1;
  }
  memcpy(f, buf, len); /* 511-byte footers: the missing byte is reserved */
  if (memcmp(f, "conectix", 8) != 0) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: no VHD footer (cookie \"conectix\" missing)", where);
    return -1;
  }
  uint32_t stored = h2k_be32(f + 64);
  uint32_t sum = h2k_vhd_checksum(f, sizeof f, 64);
  if (stored != sum) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHD footer checksum mismatch (stored 0x%08" PRIx32
                ", computed 0x%08" PRIx32 ")",
                where, stored, sum);
    return -1;
  }
  uint32_t version = h2k_be32(f + 12);
  if (version >> 16 != 1) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: unsupported VHD format version 0x%08" PRIx32, where,
                version);
    return -1;
  }
  memset(out, 0, sizeof *out);
  out->data_offset = h2k_be64(f + 16);
  memcpy(out->creator_app, f + 28, 4);
  out->current_size = h2k_be64(f + 48);
  uint64_t cyls = h2k_be16(f + 56), heads = f[58], secs = f[59];
  out->chs_size = cyls * heads * secs * 512;
  out->chs_is_max = cyls * heads * secs == VHD_MAX_CHS_SECTORS;
  out->disk_type = h2k_be32(f + 60);
  memcpy(out->uuid, f + 68, 16);
  if (out->disk_type != H2K_VHD_TYPE_FIXED &&
      out->disk_type != H2K_VHD_TYPE_DYNAMIC &&
      out->disk_type != H2K_VHD_TYPE_DIFF) {
    h2k_err_set(err, H2K_E_INPUT, "%s: unknown VHD disk type %" PRIu32, where,
                out->disk_type);
    return -1;
  }
  return 0;
}

uint64_t h2k_vhd_virtual_size(const struct h2k_vhd_footer *f) {
  /* qemu's table: these creators size the disk by the "current size" field,
   * the others (Virtual PC "vpc ", old qemu "qemu", unknown) by CHS, except
   * when CHS is maxed out (then the size field is all that is left). */
  static const char *const by_size[] = {"win ", "qem2", "d2v ", "CTXS"};
  bool use_chs = true;
  for (size_t i = 0; i < sizeof by_size / sizeof *by_size; i++)
    if (memcmp(f->creator_app, by_size[i], 4) == 0)
      use_chs = false;
  if (memcmp(f->creator_app, "tap", 4) == 0) /* "tap\0": XenServer */
    use_chs = false;
  if (!use_chs || f->chs_is_max)
    return f->current_size / 512 * 512;
  return f->chs_size;
}

int h2k_vhd_parse_dynhdr(const uint8_t *h, struct h2k_vhd_dynhdr *out,
                         const char *where, h2k_error *err) {
  if (memcmp(h, "cxsparse", 8) != 0) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: no VHD dynamic header (cookie \"cxsparse\" missing)",
                where);
    return -1;
  }
  uint32_t stored = h2k_be32(h + 36);
  uint32_t sum = h2k_vhd_checksum(h, H2K_VHD_DYNHDR_SIZE, 36);
  if (stored != sum) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHD dynamic header checksum mismatch (stored 0x%08" PRIx32
                ", computed 0x%08" PRIx32 ")",
                where, stored, sum);
    return -1;
  }
  uint32_t version = h2k_be32(h + 24);
  if (version >> 16 != 1) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: unsupported VHD dynamic header version 0x%08" PRIx32,
                where, version);
    return -1;
  }
  memset(out, 0, sizeof *out);
  out->table_offset = h2k_be64(h + 16);
  out->max_table_entries = h2k_be32(h + 28);
  out->block_size = h2k_be32(h + 32);
  if (!h2k_is_pow2(out->block_size) || out->block_size < VHD_MIN_BLOCK ||
      out->block_size > VHD_MAX_BLOCK) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: invalid VHD block size %" PRIu32
                " (must be a power of two, 512 B to 256 MiB)",
                where, out->block_size);
    return -1;
  }
  memcpy(out->parent_uuid, h + 40, 16);
  memcpy(out->parent_name_raw, h + 64, 512);
  for (int i = 0; i < 8; i++) {
    const uint8_t *e = h + 576 + 24 * i;
    out->loc[i].code = h2k_be32(e);
    out->loc[i].length = h2k_be32(e + 8);
    out->loc[i].offset = h2k_be64(e + 16);
  }
  return 0;
}

/* ---- open ---- */

static int read_footer_at(h2k_image *img, uint64_t off, size_t len,
                          struct h2k_vhd_footer *out, h2k_error *err) {
  uint8_t buf[H2K_VHD_FOOTER_SIZE];
  char where[64];
  snprintf(where, sizeof where, "VHD footer at offset %" PRIu64, off);
  if (h2k_file_pread(img->file, buf, len, off, "VHD footer", err) < 0)
    return -1;
  if (h2k_vhd_parse_footer(buf, len, out, where, err) < 0) {
    h2k_err_wrap(err, "%s", img->file->path);
    return -1;
  }
  return 0;
}

/* The trailing footer is authoritative; a dynamic disk also keeps a copy at
 * offset 0, used when the tail is damaged (e.g. an interrupted copy). */
static int load_footer(h2k_image *img, struct vhd_state *s, h2k_error *err) {
  uint64_t size = img->file->size;
  if (size < 511) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: file of %" PRIu64 " bytes is too small for a VHD footer",
                img->file->path, size);
    return -1;
  }
  /* Old images have a 511-byte footer. */
  size_t flen = size % 512 == 511 ? 511 : 512;
  if (read_footer_at(img, size - flen, flen, &s->footer, err) == 0) {
    s->data_end = size - flen;
    return 0;
  }
  h2k_error tail_err = *err;
  h2k_error copy_err = {0};
  if (size >= 512 && read_footer_at(img, 0, 512, &s->footer, &copy_err) == 0 &&
      s->footer.disk_type != H2K_VHD_TYPE_FIXED) {
    s->data_end = size;
    return 0;
  }
  *err = tail_err;
  return -1;
}

static int load_bat(h2k_image *img, struct vhd_state *s,
                    const struct h2k_vhd_dynhdr *dh, h2k_error *err) {
  const char *path = img->file->path;
  uint64_t vsize = img->virtual_size;
  uint64_t need = (vsize + s->block_size - 1) / s->block_size;
  if (need > dh->max_table_entries) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHD BAT at offset %" PRIu64 " has %" PRIu32
                " entries, too few for a %" PRIu64 "-byte disk (%" PRIu64
                " blocks of %" PRIu32 " bytes)",
                path, dh->table_offset, dh->max_table_entries, vsize, need,
                s->block_size);
    return -1;
  }
  if (need * 4 > H2K_MAX_TABLE_BYTES) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHD BAT of %" PRIu64 " bytes is too large", path,
                need * 4);
    return -1;
  }
  if (dh->table_offset > s->data_end ||
      need * 4 > s->data_end - dh->table_offset) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHD BAT at offset %" PRIu64 " (%" PRIu64
                " bytes) extends past the end of the data (%" PRIu64 ")",
                path, dh->table_offset, need * 4, s->data_end);
    return -1;
  }
  s->nblocks = (uint32_t)need;
  uint8_t *raw = malloc(need ? need * 4 : 1);
  s->bat = malloc(need ? need * 4 : 1);
  if (!raw || !s->bat) {
    free(raw);
    h2k_err_set(err, H2K_E_FAIL, "%s: out of memory for the VHD BAT", path);
    return -1;
  }
  if (h2k_file_pread(img->file, raw, need * 4, dh->table_offset, "VHD BAT",
                     err) < 0) {
    free(raw);
    return -1;
  }
  for (uint64_t i = 0; i < need; i++)
    s->bat[i] = h2k_be32(raw + 4 * i);
  free(raw);

  /* Every allocated block (bitmap + the part of the block inside the disk)
   * must lie after the footer copy and before the trailing footer. */
  for (uint64_t i = 0; i < need; i++) {
    if (s->bat[i] == VHD_BAT_UNUSED)
      continue;
    uint64_t off = (uint64_t)s->bat[i] * 512;
    uint64_t in_disk = vsize - i * s->block_size;
    uint64_t len =
        s->bitmap_size + (in_disk < s->block_size ? in_disk : s->block_size);
    if (off < 512 || off > s->data_end || len > s->data_end - off) {
      h2k_err_set(err, H2K_E_INPUT,
                  "%s: VHD BAT entry %" PRIu64 " (at offset %" PRIu64
                  ") points to block at offset %" PRIu64 " (%" PRIu64
                  " bytes), outside the data area [512, %" PRIu64 ")",
                  path, i, dh->table_offset + 4 * i, off, len, s->data_end);
      return -1;
    }
  }
  return 0;
}

/* One decoded parent locator, or NULL if unused/undecodable. */
static char *locator_text(h2k_image *img, const struct h2k_vhd_locator *l,
                          h2k_error *err) {
  if (l->length == 0 || l->length > VHD_MAX_LOCATOR_BYTES)
    return NULL;
  if (l->offset > img->file->size || l->length > img->file->size - l->offset) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHD parent locator data at offset %" PRIu64 " (%" PRIu32
                " bytes) is past the end of the file",
                img->file->path, l->offset, l->length);
    return NULL;
  }
  uint8_t *raw = malloc(l->length + 1);
  if (!raw)
    return NULL;
  char *text = NULL;
  if (h2k_file_pread(img->file, raw, l->length, l->offset, "VHD parent locator",
                     err) == 0) {
    if (l->code == LOC_W2RU || l->code == LOC_W2KU)
      text = h2k_utf16_to_utf8(raw, l->length & ~1u, false);
    else {
      raw[l->length] = '\0';
      text = strdup((char *)raw);
    }
  }
  free(raw);
  return text;
}

struct parent_search {
  char *found;
  char *name; /* for messages: the first name seen */
  char tried[900];
};

static void try_name(h2k_image *img, struct parent_search *ps,
                     const char *stored, bool url) {
  if (ps->found || !stored || !stored[0])
    return;
  if (!ps->name)
    ps->name = strdup(stored);
  char *native = h2k_vhd_native_path(stored, url);
  if (!native)
    return;
  ps->found = h2k_vhd_try_parent(img->file, native);
  size_t used = strlen(ps->tried);
  snprintf(ps->tried + used, sizeof ps->tried - used, "%s'%s'",
           used ? ", " : "", native);
  free(native);
}

static int find_parent(h2k_image *img, const struct h2k_vhd_dynhdr *dh,
                       h2k_error *err) {
  /* Relative locators, then absolute ones, then the stored file name. */
  static const uint32_t order[] = {LOC_W2RU, LOC_WI2R, LOC_W2KU, LOC_WI2K,
                                   LOC_MACX};
  struct parent_search ps = {0};
  char *uname = h2k_utf16_to_utf8(dh->parent_name_raw, 512, true);
  for (size_t k = 0; k < sizeof order / sizeof *order; k++) {
    for (int i = 0; i < 8; i++) {
      if (dh->loc[i].code != order[k])
        continue;
      h2k_error lerr = {0};
      char *text = locator_text(img, &dh->loc[i], &lerr);
      if (!text && lerr.code) {
        *err = lerr;
        free(uname);
        free(ps.name);
        free(ps.found);
        return -1;
      }
      try_name(img, &ps, text, order[k] == LOC_MACX);
      free(text);
    }
  }
  if (uname && uname[0]) {
    free(ps.name);
    ps.name = strdup(uname); /* the most readable name for messages */
    try_name(img, &ps, h2k_vhd_basename(uname), false);
  }
  free(uname);
  if (!ps.found) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: parent '%s' of differencing VHD not found (tried %s)",
                img->file->path, ps.name ? ps.name : "(no name stored)",
                ps.tried[0] ? ps.tried : "nothing: no usable parent locator");
    free(ps.name);
    return -1;
  }
  img->backing_path = ps.found;
  img->backing_name = ps.name ? ps.name : strdup(ps.found);
  img->backing_format = strdup("vpc");
  return 0;
}

static int open_sparse(h2k_image *img, struct vhd_state *s, h2k_error *err) {
  const char *path = img->file->path;
  uint64_t off = s->footer.data_offset;
  if (off < 512 || off > s->data_end ||
      s->data_end - off < H2K_VHD_DYNHDR_SIZE) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHD dynamic header offset %" PRIu64
                " (from the footer) is outside the file",
                path, off);
    return -1;
  }
  uint8_t buf[H2K_VHD_DYNHDR_SIZE];
  if (h2k_file_pread(img->file, buf, sizeof buf, off, "VHD dynamic header",
                     err) < 0)
    return -1;
  struct h2k_vhd_dynhdr dh;
  char where[96];
  snprintf(where, sizeof where, "%s: VHD dynamic header at offset %" PRIu64,
           path, off);
  if (h2k_vhd_parse_dynhdr(buf, &dh, where, err) < 0)
    return -1;
  s->block_size = dh.block_size;
  uint32_t sectors = dh.block_size / 512;
  s->bitmap_size = ((sectors + 7) / 8 + 511) / 512 * 512;
  memcpy(s->parent_uuid, dh.parent_uuid, 16);
  if (load_bat(img, s, &dh, err) < 0)
    return -1;
  if (s->differencing)
    return find_parent(img, &dh, err);
  return 0;
}

static void vhd_close(h2k_image *img) {
  struct vhd_state *s = img->priv;
  if (!s)
    return;
  free(s->bat);
  free(s);
  img->priv = NULL;
}

static int vhd_open(h2k_image *img, h2k_error *err) {
  struct vhd_state *s = calloc(1, sizeof *s);
  if (!s) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  img->priv = s;
  if (load_footer(img, s, err) < 0)
    goto fail;
  uint64_t vsize = h2k_vhd_virtual_size(&s->footer);
  if (vsize > H2K_MAX_VIRTUAL_SIZE) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHD disk size %" PRIu64
                " bytes is over the limit of %" PRIu64,
                img->file->path, vsize, (uint64_t)H2K_MAX_VIRTUAL_SIZE);
    goto fail;
  }
  img->virtual_size = vsize;
  switch (s->footer.disk_type) {
  case H2K_VHD_TYPE_FIXED:
    if (vsize > s->data_end) {
      h2k_err_set(err, H2K_E_INPUT,
                  "%s: fixed VHD of %" PRIu64 " bytes holds only %" PRIu64
                  " bytes of data (truncated?)",
                  img->file->path, vsize, s->data_end);
      goto fail;
    }
    img->subformat = strdup("fixed");
    return 0;
  case H2K_VHD_TYPE_DIFF:
    s->differencing = true;
    img->subformat = strdup("differencing");
    break;
  default:
    img->subformat = strdup("dynamic");
    break;
  }
  if (open_sparse(img, s, err) < 0)
    goto fail;
  return 0;
fail:
  vhd_close(img);
  free(img->subformat);
  free(img->backing_name);
  free(img->backing_path);
  free(img->backing_format);
  img->subformat = img->backing_name = img->backing_path = NULL;
  img->backing_format = NULL;
  return -1;
}

/* ---- block status and reads ---- */

static bool bitmap_bit(const uint8_t *bm, uint32_t sector) {
  return bm[sector / 8] & (0x80 >> (sector % 8)); /* MSB first */
}

static int status_in_block(h2k_image *img, struct vhd_state *s, uint64_t off,
                           uint64_t len, h2k_extent *ext, h2k_error *err) {
  uint64_t block = off / s->block_size;
  uint64_t in_block = off % s->block_size;
  uint64_t max = s->block_size - in_block;
  if (max > len)
    max = len;
  uint8_t *bm = malloc(s->bitmap_size);
  if (!bm) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  if (h2k_file_pread(img->file, bm, s->bitmap_size,
                     (uint64_t)s->bat[block] * 512, "VHD sector bitmap",
                     err) < 0) {
    free(bm);
    return -1;
  }
  uint32_t sector = (uint32_t)(in_block / 512);
  bool set = bitmap_bit(bm, sector);
  uint64_t run = 512 - in_block % 512;
  uint32_t last = s->block_size / 512;
  for (uint32_t k = sector + 1; k < last && run < max; k++, run += 512)
    if (bitmap_bit(bm, k) != set)
      break;
  free(bm);
  ext->length = run < max ? run : max;
  if (set)
    ext->kind = H2K_EXTENT_DATA;
  else
    ext->kind = s->differencing ? H2K_EXTENT_UNALLOC : H2K_EXTENT_ZERO;
  return 0;
}

static int vhd_block_status(h2k_image *img, uint64_t off, uint64_t len,
                            h2k_extent *ext, h2k_error *err) {
  struct vhd_state *s = img->priv;
  ext->offset = off;
  if (off + len > img->virtual_size)
    len = img->virtual_size - off;
  if (s->footer.disk_type == H2K_VHD_TYPE_FIXED) {
    ext->length = len;
    ext->kind = H2K_EXTENT_DATA;
    return 0;
  }
  uint64_t block = off / s->block_size;
  if (s->bat[block] != VHD_BAT_UNUSED)
    return status_in_block(img, s, off, len, ext, err);
  /* Merge the run of unallocated blocks. */
  uint64_t run = s->block_size - off % s->block_size;
  for (uint64_t b = block + 1; b < s->nblocks && run < len; b++) {
    if (s->bat[b] != VHD_BAT_UNUSED)
      break;
    run += s->block_size;
  }
  ext->length = run < len ? run : len;
  ext->kind = s->differencing ? H2K_EXTENT_UNALLOC : H2K_EXTENT_ZERO;
  return 0;
}

static int vhd_read(h2k_image *img, uint64_t off, void *buf, size_t len,
                    h2k_error *err) {
  struct vhd_state *s = img->priv;
  if (s->footer.disk_type == H2K_VHD_TYPE_FIXED)
    return h2k_file_pread(img->file, buf, len, off, "VHD data", err);
  uint8_t *out = buf;
  while (len) {
    uint64_t block = off / s->block_size;
    uint64_t in_block = off % s->block_size;
    size_t n = s->block_size - in_block < len ? s->block_size - in_block : len;
    if (block >= s->nblocks || s->bat[block] == VHD_BAT_UNUSED) {
      memset(out, 0, n);
    } else {
      uint64_t pos = (uint64_t)s->bat[block] * 512 + s->bitmap_size + in_block;
      if (h2k_file_pread(img->file, out, n, pos, "VHD data block", err) < 0)
        return -1;
    }
    out += n;
    off += n;
    len -= n;
  }
  return 0;
}

static int vhd_check_parent(h2k_image *child, h2k_image *parent,
                            h2k_error *err) {
  struct vhd_state *s = child->priv;
  if (parent->drv != &h2k_driver_vpc) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: parent %s of differencing VHD is a %s image, not a VHD",
                child->file->path, parent->file->path, parent->drv->name);
    return -1;
  }
  struct vhd_state *ps = parent->priv;
  if (memcmp(ps->footer.uuid, s->parent_uuid, 16) != 0) {
    char want[37], have[37];
    h2k_guid_format(s->parent_uuid, want);
    h2k_guid_format(ps->footer.uuid, have);
    h2k_err_set(err, H2K_E_INPUT,
                "%s: parent %s has unique ID %s, but the differencing VHD "
                "expects %s (the parent was replaced or modified)",
                child->file->path, parent->file->path, have, want);
    return -1;
  }
  return 0;
}

/* A fixed VHD is raw data plus a trailing footer: look at the tail of
 * files named *.vhd (the probe only gets the head). */
static bool tail_is_vhd_footer(const char *path) {
  size_t n = path ? strlen(path) : 0;
  if (n < 4 || strcasecmp(path + n - 4, ".vhd") != 0)
    return false;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool found = false;
  struct stat st;
  uint8_t buf[512];
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 512) {
    off_t at = st.st_size % 512 == 511 ? st.st_size - 511 : st.st_size - 512;
    found = pread(fd, buf, 8, at) == 8 && memcmp(buf, "conectix", 8) == 0;
  }
  close(fd);
  return found;
}

static int vhd_probe(const uint8_t *head, size_t len, const char *path) {
  /* Dynamic disks start with the footer copy. */
  if (len >= 8 && memcmp(head, "conectix", 8) == 0)
    return 100;
  return tail_is_vhd_footer(path) ? 100 : 0;
}

const struct h2k_image_driver h2k_driver_vpc = {
    .name = "vpc",
    .probe = vhd_probe,
    .open = vhd_open,
    .block_status = vhd_block_status,
    .read = vhd_read,
    .check_parent = vhd_check_parent,
    .close = vhd_close,
};
