/* qcow2 v3 writer (compat 1.1, refcount_order 4), streaming and
 * deterministic.
 *
 * Layout: cluster 0 holds the header, the L1 table follows; everything else
 * is appended in the order the guest data arrives: data clusters (or packed
 * compressed clusters), each L2 table once the guest moves past its range,
 * each refcount block once the append position moves past the range it
 * covers. The last refcount blocks and the refcount table go at the end,
 * and the header is written last. Only one L2 table and one refcount block
 * are held in memory, so memory does not grow with the disk size. */
#include "image/qcow2.h"

#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "image/image.h"
#include "image/writer.h"

#define STAGE_CAP (UINT64_C(4) << 20)
#define REFCOUNT_MAX 0xffffu
#define PENDING_MAX 16

/* ---- compressor ---- */

struct h2k_qcow2_compressor {
  int type;
  int level;
  z_stream zs;
  bool zs_ready;
  ZSTD_CCtx *zc;
};

h2k_qcow2_compressor *h2k_qcow2_compressor_new(int type, int level,
                                               h2k_error *err) {
  h2k_qcow2_compressor *c = calloc(1, sizeof *c);
  if (!c) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: compressor");
    return NULL;
  }
  c->type = type;
  if (type == QCOW2_COMPRESSION_ZSTD) {
    c->level = level ? level : ZSTD_CLEVEL_DEFAULT;
    c->zc = ZSTD_createCCtx();
    if (!c->zc || ZSTD_isError(ZSTD_CCtx_setParameter(
                      c->zc, ZSTD_c_compressionLevel, c->level))) {
      h2k_err_set(err, H2K_E_FAIL, "QCOW2: cannot set up zstd level %d",
                  c->level);
      h2k_qcow2_compressor_free(c);
      return NULL;
    }
    return c;
  }
  c->level = level ? level : Z_DEFAULT_COMPRESSION;
  /* Raw deflate with a 4 KiB window, as qemu writes it. */
  if (deflateInit2(&c->zs, c->level, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    h2k_err_set(err, H2K_E_USAGE, "QCOW2: cannot set up zlib level %d",
                c->level);
    free(c);
    return NULL;
  }
  c->zs_ready = true;
  return c;
}

void h2k_qcow2_compressor_free(h2k_qcow2_compressor *c) {
  if (!c)
    return;
  if (c->zs_ready)
    deflateEnd(&c->zs);
  ZSTD_freeCCtx(c->zc);
  free(c);
}

/* Shannon entropy of the byte histogram, in bits per byte. Random and
 * already-compressed data sit near 8.0; compressing them burns CPU for
 * nothing (the cluster would be stored raw anyway), so we skip them. */
static double byte_entropy(const uint8_t *p, size_t n) {
  uint32_t counts[256] = {0};
  for (size_t i = 0; i < n; i++)
    counts[p[i]]++;
  double h = 0;
  for (int b = 0; b < 256; b++)
    if (counts[b]) {
      double q = (double)counts[b] / (double)n;
      h -= q * log2(q);
    }
  return h;
}

#define INCOMPRESSIBLE_BITS 7.95

size_t h2k_qcow2_compress(h2k_qcow2_compressor *c, const void *in,
                          size_t in_len, void *out, size_t cap) {
  if (in_len >= 4096 && byte_entropy(in, in_len) > INCOMPRESSIBLE_BITS)
    return 0; /* store raw */
  if (c->type == QCOW2_COMPRESSION_ZSTD) {
    size_t n = ZSTD_compress2(c->zc, out, cap, in, in_len);
    return ZSTD_isError(n) || n >= cap ? 0 : n;
  }
  if (deflateReset(&c->zs) != Z_OK)
    return 0;
  c->zs.next_in = (Bytef *)(uintptr_t)in;
  c->zs.avail_in = (uInt)in_len;
  c->zs.next_out = out;
  c->zs.avail_out = (uInt)cap;
  if (deflate(&c->zs, Z_FINISH) != Z_STREAM_END)
    return 0;
  size_t n = cap - c->zs.avail_out;
  return n < cap ? n : 0;
}

/* ---- writer state ---- */

struct qcow2_writer {
  struct h2k_writer base;
  uint32_t cluster_bits;
  uint64_t cs;
  uint32_t l2_bits;
  int compression; /* -1 none */
  uint64_t l1_entries;
  uint64_t l1_offset;
  uint64_t data_start;

  /* Append stream: file bytes [stage_off, stage_off + stage_len) are
   * buffered; `end` == stage_off + stage_len is the append position. */
  uint64_t end;
  uint8_t *stage;
  size_t stage_len;
  uint64_t stage_off;

  uint64_t *l2;     /* current L2 table, big-endian */
  int64_t l2_index; /* its L1 index, -1 = none */

  uint16_t *rb; /* current refcount block, host order */
  uint64_t rb_index;
  uint64_t rb_entries; /* refcounts per block */
  uint64_t *rt;        /* host offsets of refcount blocks written so far */
  size_t rt_len, rt_cap;
  uint64_t pending[PENDING_MAX]; /* clusters whose refcount is not set yet */
  size_t npending;

  uint8_t *scratch; /* one cluster for big-endian conversions */
};

static int stage_flush(struct qcow2_writer *w, h2k_error *err) {
  if (w->stage_len &&
      h2k_pwrite_all(w->base.fd, w->stage, w->stage_len, w->stage_off,
                     w->base.path, "qcow2 clusters", err) != 0)
    return -1;
  w->stage_off += w->stage_len;
  w->stage_len = 0;
  return 0;
}

static int append(struct qcow2_writer *w, const void *data, size_t len,
                  h2k_error *err) {
  if (len >= STAGE_CAP / 2) {
    if (stage_flush(w, err) != 0 ||
        h2k_pwrite_all(w->base.fd, data, len, w->end, w->base.path,
                       "qcow2 data clusters", err) != 0)
      return -1;
    w->end += len;
    w->stage_off = w->end;
    return 0;
  }
  if (w->stage_len + len > STAGE_CAP && stage_flush(w, err) != 0)
    return -1;
  memcpy(w->stage + w->stage_len, data, len);
  w->stage_len += len;
  w->end += len;
  return 0;
}

/* Zero-pad the append position up to the next cluster boundary. */
static int align_end(struct qcow2_writer *w, h2k_error *err) {
  size_t pad = (size_t)((w->cs - (w->end & (w->cs - 1))) & (w->cs - 1));
  if (!pad)
    return 0;
  if (w->stage_len + pad > STAGE_CAP && stage_flush(w, err) != 0)
    return -1;
  memset(w->stage + w->stage_len, 0, pad);
  w->stage_len += pad;
  w->end += pad;
  return 0;
}

static int internal_error(struct qcow2_writer *w, const char *what,
                          h2k_error *err) {
  h2k_err_set(err, H2K_E_FAIL, "QCOW2: internal error writing '%s': %s",
              w->base.path, what);
  return -1;
}

/* ---- refcounts ---- */

static int rt_push(struct qcow2_writer *w, uint64_t off, h2k_error *err) {
  if (w->rt_len == w->rt_cap) {
    size_t cap = w->rt_cap ? w->rt_cap * 2 : 64;
    uint64_t *rt = realloc(w->rt, cap * sizeof *rt);
    if (!rt) {
      h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: refcount table of '%s'",
                    w->base.path);
      return -1;
    }
    w->rt = rt;
    w->rt_cap = cap;
  }
  w->rt[w->rt_len++] = off;
  return 0;
}

static void refcounts_to_be(struct qcow2_writer *w, const uint16_t *block) {
  uint16_t *out = (uint16_t *)w->scratch;
  for (uint64_t i = 0; i < w->rb_entries; i++)
    out[i] = htobe16(block[i]);
}

/* The current refcount block is complete: append it, start the next. Its
 * own cluster is counted later (it lies in a later block's range). */
static int rb_flush(struct qcow2_writer *w, h2k_error *err) {
  if (w->npending == PENDING_MAX)
    return internal_error(w, "too many pending refcounts", err);
  if (align_end(w, err) != 0)
    return -1;
  uint64_t at = w->end;
  refcounts_to_be(w, w->rb);
  if (append(w, w->scratch, w->cs, err) != 0 || rt_push(w, at, err) != 0)
    return -1;
  w->pending[w->npending++] = at >> w->cluster_bits;
  w->rb_index++;
  memset(w->rb, 0, w->rb_entries * sizeof *w->rb);
  return 0;
}

static int rc_bump(struct qcow2_writer *w, uint64_t cluster, h2k_error *err) {
  while (cluster >= (w->rb_index + 1) * w->rb_entries)
    if (rb_flush(w, err) != 0)
      return -1;
  if (cluster < w->rb_index * w->rb_entries)
    return internal_error(w, "refcount for an already written block", err);
  uint16_t *rc = &w->rb[cluster - w->rb_index * w->rb_entries];
  if (*rc == REFCOUNT_MAX)
    return internal_error(w, "refcount overflow", err);
  (*rc)++;
  return 0;
}

/* Add one reference to `cluster` (at or after every cluster counted so
 * far), then settle the refcount blocks written meanwhile, oldest first. */
static int rc_add(struct qcow2_writer *w, uint64_t cluster, h2k_error *err) {
  if (rc_bump(w, cluster, err) != 0)
    return -1;
  while (w->npending) {
    uint64_t c = w->pending[0];
    memmove(w->pending, w->pending + 1, --w->npending * sizeof *w->pending);
    if (rc_bump(w, c, err) != 0)
      return -1;
  }
  return 0;
}

static uint16_t rc_of(const struct qcow2_writer *w, uint64_t cluster) {
  uint64_t first = w->rb_index * w->rb_entries;
  if (cluster < first || cluster >= first + w->rb_entries)
    return 0;
  return w->rb[cluster - first];
}

/* ---- L2 tables ---- */

static int l2_flush(struct qcow2_writer *w, h2k_error *err) {
  if (w->l2_index < 0)
    return 0;
  if (align_end(w, err) != 0)
    return -1;
  uint64_t at = w->end;
  if (append(w, w->l2, w->cs, err) != 0 ||
      rc_add(w, at >> w->cluster_bits, err) != 0)
    return -1;
  uint64_t entry = htobe64(at | QCOW2_OFLAG_COPIED);
  if (h2k_pwrite_all(w->base.fd, &entry, 8, w->l1_offset + 8 * w->l2_index,
                     w->base.path, "qcow2 L1 entry", err) != 0)
    return -1;
  w->l2_index = -1;
  return 0;
}

/* Make the L2 table holding guest cluster `gc` the current one. */
static int l2_select(struct qcow2_writer *w, uint64_t gc, h2k_error *err) {
  int64_t index = (int64_t)(gc >> w->l2_bits);
  if (index == w->l2_index)
    return 0;
  if (index < w->l2_index)
    return internal_error(w, "guest data out of order", err);
  if (l2_flush(w, err) != 0)
    return -1;
  memset(w->l2, 0, w->cs);
  w->l2_index = index;
  return 0;
}

static void l2_set(struct qcow2_writer *w, uint64_t gc, uint64_t entry) {
  w->l2[gc & ((UINT64_C(1) << w->l2_bits) - 1)] = htobe64(entry);
}

/* ---- data ---- */

/* Store grains [i, j) of `u` (all non-zero, uncompressed, one L2 table)
 * as consecutive clusters. */
static int write_plain_run(struct qcow2_writer *w, const struct h2k_unit *u,
                           size_t i, size_t j, h2k_error *err) {
  if (align_end(w, err) != 0)
    return -1;
  uint64_t at = w->end;
  if (append(w, u->data + i * w->cs, (j - i) * w->cs, err) != 0)
    return -1;
  uint64_t gc = (u->off >> w->cluster_bits) + i;
  for (size_t k = 0; k < j - i; k++) {
    uint64_t host = at + k * w->cs;
    if (rc_add(w, host >> w->cluster_bits, err) != 0)
      return -1;
    l2_set(w, gc + k, host | QCOW2_OFLAG_COPIED);
  }
  return 0;
}

static int write_compressed(struct qcow2_writer *w, uint64_t gc,
                            const uint8_t *packed, size_t len, h2k_error *err) {
  /* A shared cluster may not take more references than a refcount holds. */
  if (rc_of(w, w->end >> w->cluster_bits) >= REFCOUNT_MAX - 1 &&
      align_end(w, err) != 0)
    return -1;
  uint64_t at = w->end;
  if (append(w, packed, len, err) != 0)
    return -1;
  uint64_t first = at >> w->cluster_bits;
  uint64_t last = (at + len - 1) >> w->cluster_bits;
  for (uint64_t c = first; c <= last; c++)
    if (rc_add(w, c, err) != 0)
      return -1;
  uint32_t shift = 62 - (w->cluster_bits - 8);
  uint64_t sectors = ((at + len - 1) >> 9) - (at >> 9);
  l2_set(w, gc, QCOW2_OFLAG_COMPRESSED | (sectors << shift) | at);
  return 0;
}

static bool plain_grain(const struct h2k_unit *u, size_t i) {
  return !u->zero[i] && !(u->packed_len && u->packed_len[i]);
}

static int qcow2_write_unit(h2k_writer *base, const struct h2k_unit *u,
                            h2k_error *err) {
  struct qcow2_writer *w = (struct qcow2_writer *)base;
  uint64_t gc0 = u->off >> w->cluster_bits;
  if (u->grain != w->cs || (u->off & (w->cs - 1)))
    return internal_error(w, "unit not aligned to clusters", err);
  size_t i = 0;
  while (i < u->ngrains) {
    if (u->zero[i]) {
      i++;
      continue;
    }
    if (l2_select(w, gc0 + i, err) != 0)
      return -1;
    if (!plain_grain(u, i)) {
      if (write_compressed(w, gc0 + i, u->packed + i * w->cs, u->packed_len[i],
                           err) != 0)
        return -1;
      i++;
      continue;
    }
    size_t j = i + 1;
    while (j < u->ngrains && plain_grain(u, j) &&
           ((gc0 + j) >> w->l2_bits) == ((gc0 + i) >> w->l2_bits))
      j++;
    if (write_plain_run(w, u, i, j, err) != 0)
      return -1;
    i = j;
  }
  return 0;
}

/* ---- finishing ---- */

static uint64_t div_up(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

/* Append the last refcount blocks and the refcount table. Their own
 * clusters must be counted in them, so their number is found first. */
static int write_refcount_tail(struct qcow2_writer *w, uint64_t *rt_offset,
                               uint64_t *rt_clusters, h2k_error *err) {
  if (align_end(w, err) != 0)
    return -1;
  uint64_t used = w->end >> w->cluster_bits;
  uint64_t blocks = 1, table = 1; /* still to write */
  for (;;) {
    uint64_t total = used + blocks + table;
    uint64_t need_blocks = div_up(total, w->rb_entries) - w->rb_index;
    uint64_t need_table = div_up((w->rb_index + blocks) * 8, w->cs);
    if (need_blocks <= blocks && need_table <= table)
      break;
    if (need_blocks > blocks)
      blocks = need_blocks;
    if (need_table > table)
      table = need_table;
  }
  uint64_t tail = blocks * w->rb_entries;
  uint16_t *rc = calloc(tail, sizeof *rc);
  if (!rc) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: refcounts of '%s'",
                  w->base.path);
    return -1;
  }
  memcpy(rc, w->rb, w->rb_entries * sizeof *rc);
  uint64_t first = w->rb_index * w->rb_entries;
  for (uint64_t c = used; c < used + blocks + table; c++)
    rc[c - first]++;
  int rc_ok = 0;
  for (uint64_t b = 0; b < blocks && rc_ok == 0; b++) {
    refcounts_to_be(w, rc + b * w->rb_entries);
    rc_ok = rt_push(w, w->end, err);
    if (rc_ok == 0)
      rc_ok = append(w, w->scratch, w->cs, err);
  }
  free(rc);
  if (rc_ok != 0)
    return -1;
  *rt_offset = w->end;
  *rt_clusters = table;
  for (uint64_t c = 0; c < table; c++) {
    memset(w->scratch, 0, w->cs);
    uint64_t *out = (uint64_t *)w->scratch;
    uint64_t per = w->cs / 8;
    for (uint64_t k = 0; k < per && c * per + k < w->rt_len; k++)
      out[k] = htobe64(w->rt[c * per + k]);
    if (append(w, w->scratch, w->cs, err) != 0)
      return -1;
  }
  return stage_flush(w, err);
}

static void put_be32(uint8_t *p, uint32_t v) {
  v = htobe32(v);
  memcpy(p, &v, 4);
}

static void put_be64(uint8_t *p, uint64_t v) {
  v = htobe64(v);
  memcpy(p, &v, 8);
}

static int write_header(struct qcow2_writer *w, uint64_t rt_offset,
                        uint64_t rt_clusters, h2k_error *err) {
  uint8_t *h = w->scratch;
  memset(h, 0, w->cs);
  put_be32(h + 0, QCOW2_MAGIC);
  put_be32(h + 4, 3);
  put_be32(h + 20, w->cluster_bits);
  /* qcow2 sizes are whole sectors (qemu rounds a raw file's size up too);
   * the bytes past the source's end read as zeros. */
  put_be64(h + 24, (w->base.virtual_size + 511) & ~UINT64_C(511));
  put_be32(h + 36, (uint32_t)w->l1_entries);
  put_be64(h + 40, w->l1_offset);
  put_be64(h + 48, rt_offset);
  put_be32(h + 56, (uint32_t)rt_clusters);
  bool zstd = w->compression == QCOW2_COMPRESSION_ZSTD;
  put_be64(h + 72, zstd ? QCOW2_INCOMPAT_COMPRESSION : 0);
  put_be32(h + 96, 4); /* refcount_order: 16-bit refcounts */
  put_be32(h + 100, QCOW2_V3_HEADER_LEN);
  h[104] = zstd ? QCOW2_COMPRESSION_ZSTD : QCOW2_COMPRESSION_ZLIB;
  /* Bytes 112..119: the end-of-extensions marker, already zero. */
  return h2k_pwrite_all(w->base.fd, h, w->cs, 0, w->base.path, "qcow2 header",
                        err);
}

static int qcow2_finish(h2k_writer *base, h2k_error *err) {
  struct qcow2_writer *w = (struct qcow2_writer *)base;
  uint64_t rt_offset, rt_clusters;
  if (l2_flush(w, err) != 0 ||
      write_refcount_tail(w, &rt_offset, &rt_clusters, err) != 0)
    return -1;
  if (rt_clusters > UINT32_MAX)
    return internal_error(w, "refcount table too large", err);
  return write_header(w, rt_offset, rt_clusters, err);
}

static void qcow2_destroy(h2k_writer *base) {
  struct qcow2_writer *w = (struct qcow2_writer *)base;
  free(w->stage);
  free(w->l2);
  free(w->rb);
  free(w->rt);
  free(w->scratch);
  free(w);
}

static const struct h2k_writer_ops qcow2_ops = {
    .write_unit = qcow2_write_unit,
    .finish = qcow2_finish,
    .destroy = qcow2_destroy,
};

static int cluster_bits_of(uint32_t cluster_size) {
  for (int b = QCOW2_MIN_CLUSTER_BITS; b <= QCOW2_MAX_CLUSTER_BITS; b++)
    if ((UINT32_C(1) << b) == cluster_size)
      return b;
  return -1;
}

h2k_writer *h2k_qcow2_writer_new(int fd, const char *path,
                                 uint64_t virtual_size, uint32_t cluster_size,
                                 int compression, h2k_error *err) {
  int bits = cluster_bits_of(cluster_size);
  if (bits < 0) {
    h2k_err_set(err, H2K_E_USAGE,
                "QCOW2: cluster size %u is not a power of two between 512 "
                "and 2 MiB",
                cluster_size);
    return NULL;
  }
  uint64_t l1_entries = h2k_qcow2_l1_entries_for(
      (virtual_size + 511) & ~UINT64_C(511), (uint32_t)bits);
  if (l1_entries * 8 > QCOW2_MAX_L1_BYTES) {
    h2k_err_set(err, H2K_E_USAGE,
                "QCOW2: cluster size %u is too small for a %llu-byte disk "
                "(L1 table would exceed 32 MiB); use a larger cluster size",
                cluster_size, (unsigned long long)virtual_size);
    return NULL;
  }
  struct qcow2_writer *w = calloc(1, sizeof *w);
  if (!w) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: writing '%s'", path);
    return NULL;
  }
  w->base.ops = &qcow2_ops;
  w->base.fd = fd;
  w->base.path = path;
  w->base.virtual_size = virtual_size;
  w->base.grain = cluster_size;
  w->cluster_bits = (uint32_t)bits;
  w->cs = cluster_size;
  w->l2_bits = (uint32_t)bits - 3;
  w->compression = compression;
  w->l1_entries = l1_entries;
  w->l1_offset = w->cs;
  w->data_start = w->cs + div_up(l1_entries * 8, w->cs) * w->cs;
  w->end = w->stage_off = w->data_start;
  w->l2_index = -1;
  w->rb_entries = w->cs / 2;
  w->stage = malloc(STAGE_CAP);
  w->l2 = malloc(w->cs);
  w->rb = calloc(w->rb_entries, sizeof *w->rb);
  w->scratch = malloc(w->cs);
  if (!w->stage || !w->l2 || !w->rb || !w->scratch) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "QCOW2: writing '%s'", path);
    qcow2_destroy(&w->base);
    return NULL;
  }
  /* Header and L1 clusters. */
  for (uint64_t c = 0; c < w->data_start >> w->cluster_bits; c++) {
    if (rc_add(w, c, err) != 0) {
      qcow2_destroy(&w->base);
      return NULL;
    }
  }
  return &w->base;
}
