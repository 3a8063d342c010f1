/* qcow2 reader (versions 2 and 3). Only the active L1/L2 mapping is used:
 * refcounts and snapshots are never needed to read guest data. */
#include "image/qcow2.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "image/image.h"

#define L2_CACHE_BYTES (UINT64_C(8) << 20)
#define L2_CACHE_MIN 4
#define L2_CACHE_MAX 64
/* Entries copied out of the L2 cache per lock. */
#define ENTRY_BATCH 512

struct l2_slot {
  uint64_t offset; /* host offset of the table, 0 = empty slot */
  uint64_t last_use;
  uint64_t *table; /* big-endian, as on disk */
};

struct qcow2 {
  struct h2k_qcow2_header h;
  uint64_t cluster_size;
  uint32_t l2_bits; /* log2(entries per L2 table) */
  uint64_t file_size;
  uint64_t l1_count; /* entries loaded (those covering the virtual size) */
  uint64_t *l1;      /* host byte order */
  /* Compressed cluster descriptor fields. */
  uint32_t csize_shift;
  uint64_t csize_mask;
  uint64_t coffset_mask;

  pthread_mutex_t lock; /* guards the L2 cache */
  struct l2_slot *cache;
  size_t cache_len;
  uint64_t tick;
};

static uint32_t be32_at(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return be32toh(v);
}

static uint64_t be64_at(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return be64toh(v);
}

uint64_t h2k_qcow2_l1_entries_for(uint64_t size, uint32_t cluster_bits) {
  uint32_t shift = cluster_bits + (cluster_bits - 3); /* bytes per L2 */
  return (size + (UINT64_C(1) << shift) - 1) >> shift;
}

static void read_fixed_fields(const uint8_t *b, struct h2k_qcow2_header *h) {
  h->version = be32_at(b + 4);
  h->backing_file_offset = be64_at(b + 8);
  h->backing_file_size = be32_at(b + 16);
  h->cluster_bits = be32_at(b + 20);
  h->size = be64_at(b + 24);
  h->crypt_method = be32_at(b + 32);
  h->l1_size = be32_at(b + 36);
  h->l1_table_offset = be64_at(b + 40);
  h->refcount_table_offset = be64_at(b + 48);
  h->refcount_table_clusters = be32_at(b + 56);
  h->nb_snapshots = be32_at(b + 60);
  h->snapshots_offset = be64_at(b + 64);
}

/* Version 3 fields; version 2 gets the values v3 defines as implied. */
static int read_v3_fields(const uint8_t *b, size_t len, const char *path,
                          struct h2k_qcow2_header *h, h2k_error *err) {
  if (h->version == 2) {
    h->refcount_order = 4;
    h->header_length = QCOW2_V2_HEADER_LEN;
    return 0;
  }
  if (len < QCOW2_V3_MIN_HEADER_LEN) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: truncated header in '%s' (%zu bytes, version 3 needs "
                "%d)",
                path, len, QCOW2_V3_MIN_HEADER_LEN);
    return -1;
  }
  h->incompatible_features = be64_at(b + 72);
  h->compatible_features = be64_at(b + 80);
  h->autoclear_features = be64_at(b + 88);
  h->refcount_order = be32_at(b + 96);
  h->header_length = be32_at(b + 100);
  if (h->header_length < QCOW2_V3_MIN_HEADER_LEN ||
      h->header_length > (UINT32_C(1) << h->cluster_bits)) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: invalid header_length %u in '%s' (must be %d..%u)",
                h->header_length, path, QCOW2_V3_MIN_HEADER_LEN,
                1u << h->cluster_bits);
    return -1;
  }
  if (h->header_length > QCOW2_V3_MIN_HEADER_LEN) {
    if (len <= QCOW2_V3_MIN_HEADER_LEN) {
      h2k_err_set(err, H2K_E_INPUT, "QCOW2: truncated header in '%s'", path);
      return -1;
    }
    h->compression_type = b[104];
  }
  return 0;
}

static int check_features(const char *path, const struct h2k_qcow2_header *h,
                          h2k_error *err) {
  uint64_t inc = h->incompatible_features;
  if (inc & ~QCOW2_INCOMPAT_KNOWN) {
    h2k_err_set(err, H2K_E_NOTIMPL,
                "QCOW2: '%s' uses unknown incompatible features 0x%llx", path,
                (unsigned long long)(inc & ~QCOW2_INCOMPAT_KNOWN));
    return -1;
  }
  if (inc & QCOW2_INCOMPAT_DATA_FILE) {
    h2k_err_set(err, H2K_E_NOTIMPL,
                "QCOW2: '%s' keeps its data in an external data file, which "
                "is not supported",
                path);
    return -1;
  }
  if (inc & QCOW2_INCOMPAT_EXTL2) {
    h2k_err_set(err, H2K_E_NOTIMPL,
                "QCOW2: '%s' uses extended L2 entries (subclusters), which "
                "are not supported",
                path);
    return -1;
  }
  if (h->crypt_method != 0) {
    h2k_err_set(err, H2K_E_NOTIMPL,
                "QCOW2: '%s' is encrypted (crypt_method %u); encrypted images "
                "are not supported",
                path, h->crypt_method);
    return -1;
  }
  bool has_type_bit = (inc & QCOW2_INCOMPAT_COMPRESSION) != 0;
  if (h->compression_type > QCOW2_COMPRESSION_ZSTD) {
    h2k_err_set(err, H2K_E_NOTIMPL,
                "QCOW2: unknown compression_type %u in '%s'",
                h->compression_type, path);
    return -1;
  }
  if ((h->compression_type != QCOW2_COMPRESSION_ZLIB) != has_type_bit) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: compression_type %u in '%s' disagrees with "
                "incompatible feature bit 3",
                h->compression_type, path);
    return -1;
  }
  return 0;
}

/* Does [off, off+len) lie inside a file of `size` bytes? */
static bool inside(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

static int check_tables(const char *path, uint64_t file_size,
                        const struct h2k_qcow2_header *h, h2k_error *err) {
  uint64_t cs = UINT64_C(1) << h->cluster_bits;
  uint64_t needed = h2k_qcow2_l1_entries_for(h->size, h->cluster_bits);
  if (h->l1_size < needed) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: L1 table of '%s' too small (l1_size %u, virtual size "
                "%llu needs %llu entries)",
                path, h->l1_size, (unsigned long long)h->size,
                (unsigned long long)needed);
    return -1;
  }
  uint64_t l1_bytes = (uint64_t)h->l1_size * 8;
  if (l1_bytes > H2K_MAX_TABLE_BYTES) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: L1 table of '%s' too large (l1_size %u)", path,
                h->l1_size);
    return -1;
  }
  if (needed > 0 &&
      ((h->l1_table_offset & (cs - 1)) || h->l1_table_offset == 0 ||
       !inside(h->l1_table_offset, needed * 8, file_size))) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: L1 table of '%s' at offset %llu (%llu bytes) is "
                "unaligned or past end of file (size %llu)",
                path, (unsigned long long)h->l1_table_offset,
                (unsigned long long)(needed * 8),
                (unsigned long long)file_size);
    return -1;
  }
  uint64_t rt_bytes = (uint64_t)h->refcount_table_clusters << h->cluster_bits;
  if ((h->refcount_table_offset & (cs - 1)) || rt_bytes > H2K_MAX_TABLE_BYTES) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: invalid refcount table in '%s' (offset %llu, %u "
                "clusters)",
                path, (unsigned long long)h->refcount_table_offset,
                h->refcount_table_clusters);
    return -1;
  }
  if (h->refcount_order > 6) {
    h2k_err_set(err, H2K_E_INPUT, "QCOW2: invalid refcount_order %u in '%s'",
                h->refcount_order, path);
    return -1;
  }
  if (h->backing_file_offset != 0 &&
      (h->backing_file_size == 0 ||
       h->backing_file_size > QCOW2_MAX_BACKING_NAME ||
       !inside(h->backing_file_offset, h->backing_file_size, cs) ||
       !inside(h->backing_file_offset, h->backing_file_size, file_size))) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: invalid backing file name location in '%s' (offset "
                "%llu, size %u)",
                path, (unsigned long long)h->backing_file_offset,
                h->backing_file_size);
    return -1;
  }
  return 0;
}

int h2k_qcow2_parse_header(const uint8_t *buf, size_t len, uint64_t file_size,
                           const char *path, struct h2k_qcow2_header *h,
                           h2k_error *err) {
  memset(h, 0, sizeof *h);
  if (len < QCOW2_V2_HEADER_LEN || be32_at(buf) != QCOW2_MAGIC) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: '%s' is truncated or not a qcow2 image (%zu header "
                "bytes)",
                path, len);
    return -1;
  }
  read_fixed_fields(buf, h);
  if (h->version != 2 && h->version != 3) {
    h2k_err_set(err, H2K_E_NOTIMPL,
                "QCOW2: unsupported version %u in '%s' (2 and 3 are)",
                h->version, path);
    return -1;
  }
  if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
      h->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: invalid cluster_bits %u in '%s' (must be %d..%d)",
                h->cluster_bits, path, QCOW2_MIN_CLUSTER_BITS,
                QCOW2_MAX_CLUSTER_BITS);
    return -1;
  }
  if (h->size > H2K_MAX_VIRTUAL_SIZE) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: virtual size %llu of '%s' exceeds the limit of %llu "
                "bytes",
                (unsigned long long)h->size, path,
                (unsigned long long)H2K_MAX_VIRTUAL_SIZE);
    return -1;
  }
  if (read_v3_fields(buf, len, path, h, err) != 0)
    return -1;
  if (check_features(path, h, err) != 0)
    return -1;
  return check_tables(path, file_size, h, err);
}

/* ---- header extensions and backing file ---- */

static int parse_extensions(h2k_image *img, struct qcow2 *s, const uint8_t *buf,
                            size_t len, h2k_error *err) {
  const char *path = img->file->path;
  size_t pos = s->h.header_length;
  while (pos + 8 <= len) {
    uint32_t type = be32_at(buf + pos);
    uint32_t elen = be32_at(buf + pos + 4);
    pos += 8;
    if (type == QCOW2_EXT_END)
      return 0;
    if (elen > len - pos) {
      h2k_err_set(err, H2K_E_INPUT,
                  "QCOW2: header extension 0x%08x at offset %zu of '%s' "
                  "overruns the header cluster (len %u)",
                  type, pos - 8, path, elen);
      return -1;
    }
    if (type == QCOW2_EXT_BACKING_FORMAT) {
      free(img->backing_format);
      img->backing_format = strndup((const char *)buf + pos, elen);
      if (!img->backing_format) {
        h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: '%s'", path);
        return -1;
      }
    }
    pos += ((size_t)elen + 7) & ~(size_t)7;
  }
  /* No end marker inside the first cluster: tolerated (as qemu). */
  return 0;
}

static int read_backing_name(h2k_image *img, struct qcow2 *s,
                             const uint8_t *buf, size_t len, h2k_error *err) {
  if (s->h.backing_file_offset == 0)
    return 0;
  const char *path = img->file->path;
  size_t off = (size_t)s->h.backing_file_offset;
  size_t n = s->h.backing_file_size;
  if (off > len || n > len - off) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: backing file name of '%s' at "
                "offset %zu lies outside the header cluster",
                path, off);
    return -1;
  }
  if (memchr(buf + off, '\0', n)) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: backing file name of '%s' contains a NUL byte", path);
    return -1;
  }
  img->backing_name = strndup((const char *)buf + off, n);
  if (!img->backing_name) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: '%s'", path);
    return -1;
  }
  img->backing_path = h2k_file_sibling(img->file, img->backing_name);
  if (!img->backing_path) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: '%s'", path);
    return -1;
  }
  return 0;
}

/* ---- L1 / L2 ---- */

static int load_l1(h2k_image *img, struct qcow2 *s, h2k_error *err) {
  s->l1_count = h2k_qcow2_l1_entries_for(s->h.size, s->h.cluster_bits);
  if (s->l1_count == 0)
    return 0;
  s->l1 = malloc(s->l1_count * 8);
  if (!s->l1) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: L1 table of '%s'",
                  img->file->path);
    return -1;
  }
  if (h2k_file_pread(img->file, s->l1, s->l1_count * 8, s->h.l1_table_offset,
                     "qcow2 L1 table", err) != 0)
    return -1;
  for (uint64_t i = 0; i < s->l1_count; i++) {
    s->l1[i] = be64toh(s->l1[i]);
    uint64_t l2 = s->l1[i] & QCOW2_OFFSET_MASK;
    if (l2 == 0)
      continue;
    if ((l2 & (s->cluster_size - 1)) ||
        !inside(l2, s->cluster_size, s->file_size)) {
      h2k_err_set(err, H2K_E_INPUT,
                  "QCOW2: L1 entry %llu of '%s' points to an L2 table at "
                  "offset %llu that is unaligned or past end of file (size "
                  "%llu)",
                  (unsigned long long)i, img->file->path,
                  (unsigned long long)l2, (unsigned long long)s->file_size);
      return -1;
    }
  }
  return 0;
}

/* The cached L2 table at host offset `l2`, loading it if needed. Called
 * with s->lock held. */
static const uint64_t *cached_l2(h2k_image *img, struct qcow2 *s, uint64_t l2,
                                 h2k_error *err) {
  struct l2_slot *victim = &s->cache[0];
  for (size_t i = 0; i < s->cache_len; i++) {
    struct l2_slot *slot = &s->cache[i];
    if (slot->offset == l2) {
      slot->last_use = ++s->tick;
      return slot->table;
    }
    if (slot->last_use < victim->last_use)
      victim = slot;
  }
  if (!victim->table) {
    victim->table = malloc(s->cluster_size);
    if (!victim->table) {
      h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: L2 cache of '%s'",
                    img->file->path);
      return NULL;
    }
  }
  victim->offset = 0;
  if (h2k_file_pread(img->file, victim->table, s->cluster_size, l2,
                     "qcow2 L2 table", err) != 0)
    return NULL;
  victim->offset = l2;
  victim->last_use = ++s->tick;
  return victim->table;
}

/* Copy up to `max` L2 entries (host order) starting at guest cluster `gc`,
 * never crossing an L2 table. Sets *n to how many were copied. */
static int get_entries(h2k_image *img, struct qcow2 *s, uint64_t gc,
                       uint64_t *out, size_t max, size_t *n, h2k_error *err) {
  uint64_t per_table = UINT64_C(1) << s->l2_bits;
  uint64_t l1_index = gc >> s->l2_bits;
  uint64_t first = gc & (per_table - 1);
  size_t count = (size_t)(per_table - first < max ? per_table - first : max);
  *n = count;
  uint64_t l2 =
      l1_index < s->l1_count ? s->l1[l1_index] & QCOW2_OFFSET_MASK : 0;
  if (l2 == 0) {
    memset(out, 0, count * 8);
    return 0;
  }
  pthread_mutex_lock(&s->lock);
  const uint64_t *table = cached_l2(img, s, l2, err);
  if (table)
    for (size_t i = 0; i < count; i++)
      out[i] = be64toh(table[first + i]);
  pthread_mutex_unlock(&s->lock);
  return table ? 0 : -1;
}

/* Classify one L2 entry, validating the host offset it holds. */
static int classify(h2k_image *img, struct qcow2 *s, uint64_t gc,
                    uint64_t entry, enum h2k_extent_kind *kind,
                    h2k_error *err) {
  const char *what;
  uint64_t host;
  if (entry & QCOW2_OFLAG_COMPRESSED) {
    host = entry & s->coffset_mask;
    if (host < s->file_size) {
      *kind = H2K_EXTENT_DATA;
      return 0;
    }
    what = "compressed cluster";
  } else if (entry & QCOW2_OFLAG_ZERO) {
    *kind = H2K_EXTENT_ZERO;
    return 0;
  } else {
    host = entry & QCOW2_OFFSET_MASK;
    if (host == 0) {
      *kind = H2K_EXTENT_UNALLOC;
      return 0;
    }
    if (!(host & (s->cluster_size - 1)) && host < s->file_size) {
      *kind = H2K_EXTENT_DATA;
      return 0;
    }
    what = "data cluster";
  }
  h2k_err_set(err, H2K_E_INPUT,
              "QCOW2: L2 entry for guest offset %llu of '%s' points to a %s "
              "at offset %llu that is unaligned or past end of file (size "
              "%llu)",
              (unsigned long long)(gc << s->h.cluster_bits), img->file->path,
              what, (unsigned long long)host, (unsigned long long)s->file_size);
  return -1;
}

static int qcow2_block_status(h2k_image *img, uint64_t off, uint64_t len,
                              h2k_extent *ext, h2k_error *err) {
  struct qcow2 *s = img->priv;
  uint64_t end = off + len;
  uint64_t gc = off >> s->h.cluster_bits;
  uint64_t pos = off; /* how far the extent reaches so far */
  bool have_kind = false;
  uint64_t entries[ENTRY_BATCH];
  ext->offset = off;
  while (pos < end) {
    uint64_t l1_index = gc >> s->l2_bits;
    if (l1_index >= s->l1_count || !(s->l1[l1_index] & QCOW2_OFFSET_MASK)) {
      /* No L2 table: the whole table's range is unallocated. */
      if (have_kind && ext->kind != H2K_EXTENT_UNALLOC)
        break;
      ext->kind = H2K_EXTENT_UNALLOC;
      have_kind = true;
      gc = (l1_index + 1) << s->l2_bits;
      uint64_t table_end = gc << s->h.cluster_bits;
      pos = table_end < end ? table_end : end;
      continue;
    }
    size_t n;
    if (get_entries(img, s, gc, entries, ENTRY_BATCH, &n, err) != 0)
      return -1;
    for (size_t i = 0; i < n && pos < end; i++, gc++) {
      enum h2k_extent_kind kind;
      if (classify(img, s, gc, entries[i], &kind, err) != 0)
        return -1;
      if (!have_kind) {
        ext->kind = kind;
        have_kind = true;
      } else if (kind != ext->kind) {
        ext->length = pos - off;
        return 0;
      }
      uint64_t cluster_end = (gc + 1) << s->h.cluster_bits;
      pos = cluster_end < end ? cluster_end : end;
    }
  }
  ext->length = pos - off;
  return 0;
}

/* ---- reading ---- */

/* Scratch state for one read call: decompressors are made on first use. */
struct read_ctx {
  uint8_t *cluster; /* one decompressed cluster, for partial reads */
  uint8_t *packed;  /* compressed bytes */
  size_t packed_cap;
  z_stream zs;
  bool zs_ready;
  ZSTD_DCtx *zd;
};

static void read_ctx_free(struct read_ctx *c) {
  free(c->cluster);
  free(c->packed);
  if (c->zs_ready)
    inflateEnd(&c->zs);
  ZSTD_freeDCtx(c->zd);
}

static int inflate_cluster(struct read_ctx *c, size_t in_len, uint8_t *dst,
                           size_t out_len) {
  if (!c->zs_ready) {
    memset(&c->zs, 0, sizeof c->zs);
    if (inflateInit2(&c->zs, -12) != Z_OK)
      return -1;
    c->zs_ready = true;
  } else if (inflateReset(&c->zs) != Z_OK) {
    return -1;
  }
  c->zs.next_in = c->packed;
  c->zs.avail_in = (uInt)in_len;
  c->zs.next_out = dst;
  c->zs.avail_out = (uInt)out_len;
  int ret = inflate(&c->zs, Z_FINISH);
  if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR) && c->zs.avail_out == 0)
    return 0;
  return -1;
}

static int unzstd_cluster(struct read_ctx *c, size_t in_len, uint8_t *dst,
                          size_t out_len) {
  if (!c->zd && !(c->zd = ZSTD_createDCtx()))
    return -1;
  ZSTD_DCtx_reset(c->zd, ZSTD_reset_session_only);
  ZSTD_inBuffer in = {c->packed, in_len, 0};
  ZSTD_outBuffer out = {dst, out_len, 0};
  while (out.pos < out.size) {
    size_t before_in = in.pos, before_out = out.pos;
    size_t ret = ZSTD_decompressStream(c->zd, &out, &in);
    if (ZSTD_isError(ret))
      return -1;
    if (ret == 0 && out.pos < out.size)
      return -1; /* frame ended short of a cluster */
    if (in.pos == before_in && out.pos == before_out)
      return -1; /* no progress: input exhausted */
  }
  return 0;
}

/* Decompress the cluster described by `entry` into `dst` (a cluster). */
static int load_compressed(h2k_image *img, struct qcow2 *s, uint64_t gc,
                           uint64_t entry, struct read_ctx *c, uint8_t *dst,
                           h2k_error *err) {
  uint64_t host = entry & s->coffset_mask;
  uint64_t sectors = ((entry >> s->csize_shift) & s->csize_mask) + 1;
  uint64_t n = sectors * 512 - (host & 511);
  /* The last compressed cluster may end short of its last sector. */
  if (n > s->file_size - host)
    n = s->file_size - host;
  if (n > c->packed_cap) {
    free(c->packed);
    c->packed = malloc((size_t)n);
    c->packed_cap = c->packed ? (size_t)n : 0;
    if (!c->packed) {
      h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: reading '%s'",
                    img->file->path);
      return -1;
    }
  }
  if (h2k_file_pread(img->file, c->packed, (size_t)n, host,
                     "qcow2 compressed cluster", err) != 0)
    return -1;
  size_t cs = (size_t)s->cluster_size;
  int rc = s->h.compression_type == QCOW2_COMPRESSION_ZSTD
               ? unzstd_cluster(c, (size_t)n, dst, cs)
               : inflate_cluster(c, (size_t)n, dst, cs);
  if (rc != 0) {
    h2k_err_set(err, H2K_E_INPUT,
                "QCOW2: cannot decompress (%s) the cluster for guest offset "
                "%llu of '%s' stored at offset %llu (%llu bytes)",
                s->h.compression_type == QCOW2_COMPRESSION_ZSTD ? "zstd"
                                                                : "zlib",
                (unsigned long long)(gc << s->h.cluster_bits), img->file->path,
                (unsigned long long)host, (unsigned long long)n);
    return -1;
  }
  return 0;
}

/* Decompress into buf: directly for a whole cluster, else via a bounce
 * buffer. */
static int read_compressed(h2k_image *img, struct qcow2 *s, uint64_t gc,
                           uint64_t entry, struct read_ctx *c, uint64_t within,
                           uint8_t *buf, size_t len, h2k_error *err) {
  if (within == 0 && len == s->cluster_size)
    return load_compressed(img, s, gc, entry, c, buf, err);
  if (!c->cluster && !(c->cluster = malloc((size_t)s->cluster_size))) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: reading '%s'",
                  img->file->path);
    return -1;
  }
  if (load_compressed(img, s, gc, entry, c, c->cluster, err) != 0)
    return -1;
  memcpy(buf, c->cluster + within, len);
  return 0;
}

/* Read `len` bytes at host offset `host`; bytes past end of file read as
 * zeros (a last data cluster may be shorter than a cluster). */
static int read_host(h2k_image *img, struct qcow2 *s, uint64_t host,
                     uint8_t *buf, size_t len, h2k_error *err) {
  size_t avail = len;
  if (host >= s->file_size)
    avail = 0;
  else if (len > s->file_size - host)
    avail = (size_t)(s->file_size - host);
  if (avail && h2k_file_pread(img->file, buf, avail, host, "qcow2 data cluster",
                              err) != 0)
    return -1;
  memset(buf + avail, 0, len - avail);
  return 0;
}

static int qcow2_read(h2k_image *img, uint64_t off, void *vbuf, size_t len,
                      h2k_error *err) {
  struct qcow2 *s = img->priv;
  uint8_t *buf = vbuf;
  struct read_ctx ctx = {0};
  uint64_t entries[ENTRY_BATCH];
  uint64_t cs = s->cluster_size;
  int rc = 0;
  while (len > 0 && rc == 0) {
    uint64_t gc = off >> s->h.cluster_bits;
    size_t n;
    if (get_entries(img, s, gc, entries, ENTRY_BATCH, &n, err) != 0) {
      rc = -1;
      break;
    }
    for (size_t i = 0; i < n && len > 0 && rc == 0;) {
      uint64_t e = entries[i];
      uint64_t within = off & (cs - 1);
      size_t chunk = (size_t)(cs - within < len ? cs - within : len);
      enum h2k_extent_kind kind;
      if (classify(img, s, gc + i, e, &kind, err) != 0) {
        rc = -1;
        break;
      }
      if (kind != H2K_EXTENT_DATA) {
        memset(buf, 0, chunk);
      } else if (e & QCOW2_OFLAG_COMPRESSED) {
        rc = read_compressed(img, s, gc + i, e, &ctx, within, buf, chunk, err);
      } else {
        /* Coalesce following clusters stored right after this one. */
        uint64_t host = (e & QCOW2_OFFSET_MASK) + within;
        size_t j = i + 1;
        while (j < n && chunk < len &&
               !(entries[j] & (QCOW2_OFLAG_COMPRESSED | QCOW2_OFLAG_ZERO)) &&
               (entries[j] & QCOW2_OFFSET_MASK) ==
                   host - within + (j - i) * cs &&
               (entries[j] & QCOW2_OFFSET_MASK) < s->file_size) {
          chunk += (size_t)(cs < len - chunk ? cs : len - chunk);
          j++;
        }
        rc = read_host(img, s, host, buf, chunk, err);
        off += chunk;
        buf += chunk;
        len -= chunk;
        i = j;
        continue;
      }
      off += chunk;
      buf += chunk;
      len -= chunk;
      i++;
    }
  }
  read_ctx_free(&ctx);
  return rc;
}

/* ---- open / close ---- */

static int qcow2_probe(const uint8_t *head, size_t len, const char *path) {
  (void)path;
  if (len >= 8 && be32_at(head) == QCOW2_MAGIC) {
    uint32_t version = be32_at(head + 4);
    return version == 2 || version == 3 ? 100 : 50;
  }
  return 0;
}

static void qcow2_close(h2k_image *img) {
  struct qcow2 *s = img->priv;
  if (!s)
    return;
  for (size_t i = 0; i < s->cache_len; i++)
    free(s->cache[i].table);
  free(s->cache);
  free(s->l1);
  pthread_mutex_destroy(&s->lock);
  free(s);
  img->priv = NULL;
}

static int read_header_cluster(h2k_image *img, struct qcow2 *s,
                               h2k_error *err) {
  h2k_file *f = img->file;
  uint8_t fixed[QCOW2_V3_HEADER_LEN];
  size_t n = f->size < sizeof fixed ? (size_t)f->size : sizeof fixed;
  if (h2k_file_pread(f, fixed, n, 0, "qcow2 header", err) != 0)
    return -1;
  if (h2k_qcow2_parse_header(fixed, n, f->size, f->path, &s->h, err) != 0)
    return -1;
  size_t cs = (size_t)1 << s->h.cluster_bits;
  size_t len = f->size < cs ? (size_t)f->size : cs;
  uint8_t *buf = malloc(len);
  if (!buf) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: header of '%s'", f->path);
    return -1;
  }
  int rc = h2k_file_pread(f, buf, len, 0, "qcow2 header cluster", err);
  if (rc == 0)
    rc = parse_extensions(img, s, buf, len, err);
  if (rc == 0)
    rc = read_backing_name(img, s, buf, len, err);
  free(buf);
  return rc;
}

static int qcow2_open(h2k_image *img, h2k_error *err) {
  struct qcow2 *s = calloc(1, sizeof *s);
  if (!s) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: opening '%s'",
                  img->file->path);
    return -1;
  }
  pthread_mutex_init(&s->lock, NULL);
  img->priv = s;
  s->file_size = img->file->size;
  if (read_header_cluster(img, s, err) != 0)
    return -1;
  uint32_t cb = s->h.cluster_bits;
  s->cluster_size = UINT64_C(1) << cb;
  s->l2_bits = cb - 3;
  s->csize_shift = 62 - (cb - 8);
  s->csize_mask = (UINT64_C(1) << (cb - 8)) - 1;
  s->coffset_mask = (UINT64_C(1) << s->csize_shift) - 1;
  img->virtual_size = s->h.size;
  img->subformat = strdup(s->h.version == 2 ? "v2" : "v3");
  if (load_l1(img, s, err) != 0)
    return -1;
  uint64_t slots = L2_CACHE_BYTES / s->cluster_size;
  s->cache_len = slots < L2_CACHE_MIN   ? L2_CACHE_MIN
                 : slots > L2_CACHE_MAX ? L2_CACHE_MAX
                                        : (size_t)slots;
  s->cache = calloc(s->cache_len, sizeof *s->cache);
  if (!s->cache) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: opening '%s'",
                  img->file->path);
    return -1;
  }
  return 0;
}

const struct h2k_image_driver h2k_driver_qcow2 = {
    .name = "qcow2",
    .probe = qcow2_probe,
    .open = qcow2_open,
    .block_status = qcow2_block_status,
    .read = qcow2_read,
    .close = qcow2_close,
};
