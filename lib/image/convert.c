/* Copy engine.
 *
 * The guest disk is cut into fixed, aligned work units (2 MiB). Units that
 * the chain-resolved block status says are all zeros are skipped without
 * reading. Worker threads claim the remaining units in guest order, read
 * them, flag all-zero grains and compress grains if asked; a single writer
 * (the calling thread) consumes the units strictly in guest order, so the
 * output is the same whatever the thread count and timing. A fixed ring of
 * unit slots bounds the memory in flight. */
#include "image/convert.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/qcow2.h"
#include "image/writer.h"

#define UNIT_BYTES ((size_t)2 << 20)
#define MAX_THREADS 64
#define MAX_SLOTS_PLAIN 16
#define MAX_SLOTS_PACKED 8
#define PROGRESS_INTERVAL_NS 100000000L
#define HASH_CHUNK ((size_t)1 << 20)
/* Block status queries of the scan stay short so the lock is not held
 * over a walk of a whole huge disk's tables. */
#define SCAN_QUERY_MAX (UINT64_C(1) << 30)

enum slot_state { SLOT_FREE, SLOT_CLAIMED, SLOT_READY };

struct slot {
  struct h2k_unit u;
  uint8_t *zero;
  uint32_t *packed_len;
  uint64_t bytes_read;
  uint64_t seq;
  enum slot_state state;
};

struct engine {
  h2k_image *src;
  h2k_writer *w;
  const h2k_convert_opts *opts;
  uint64_t vsize;
  size_t unit_bytes;
  uint32_t grain;
  int compression; /* -1 none */

  pthread_mutex_t lock;
  pthread_cond_t ready; /* a slot became READY, or the scan ended */
  pthread_cond_t space; /* a slot became FREE */
  struct slot *slots;
  size_t nslots;
  uint64_t next_claim; /* sequence number of the next unit to claim */
  uint64_t next_write; /* sequence number the writer waits for */

  /* Scan of the source for units holding data (under lock). */
  uint64_t cursor;
  h2k_extent seen; /* last block status, reused while it covers cursor */
  bool have_seen;
  bool scan_done;

  bool failed;
  h2k_error err; /* the first failure */
};

static bool cancelled(const struct engine *e) {
  return e->opts->cancel && atomic_load(e->opts->cancel);
}

/* Record the first failure and wake everybody. Called with lock held. */
static void fail_locked(struct engine *e, const h2k_error *err) {
  if (!e->failed) {
    e->failed = true;
    e->err = *err;
  }
  pthread_cond_broadcast(&e->ready);
  pthread_cond_broadcast(&e->space);
}

static void fail(struct engine *e, const h2k_error *err) {
  pthread_mutex_lock(&e->lock);
  fail_locked(e, err);
  pthread_mutex_unlock(&e->lock);
}

static void cancel_error(h2k_error *err) {
  h2k_err_set(err, H2K_E_CANCELLED, "CONVERT: cancelled");
}

static bool all_zero(const uint8_t *p, size_t n) {
  size_t head = n < 16 ? n : 16;
  for (size_t i = 0; i < head; i++)
    if (p[i])
      return false;
  /* With the first 16 bytes zero, p == p + 16 means all bytes are zero. */
  return n <= 16 || memcmp(p, p + 16, n - 16) == 0;
}

/* Find the next unit that holds data; sets *off, or scan_done. Called with
 * lock held. */
static int next_unit(struct engine *e, uint64_t *off, h2k_error *err) {
  while (e->cursor < e->vsize) {
    h2k_extent *x = &e->seen;
    if (!e->have_seen || e->cursor < x->offset ||
        e->cursor >= x->offset + x->length) {
      uint64_t len = e->vsize - e->cursor;
      if (len > SCAN_QUERY_MAX)
        len = SCAN_QUERY_MAX;
      if (h2k_image_block_status(e->src, e->cursor, len, x, err) != 0)
        return -1;
      e->have_seen = true;
    }
    if (x->kind != H2K_EXTENT_DATA) {
      e->cursor = x->offset + x->length;
      continue;
    }
    *off = e->cursor - e->cursor % e->unit_bytes;
    uint64_t end = *off + e->unit_bytes;
    e->cursor = end < e->vsize ? end : e->vsize;
    return 0;
  }
  e->scan_done = true;
  return 0;
}

/* Read one unit (zero-filling holes), flag zero grains, compress. */
static int fill_unit(struct engine *e, struct slot *s,
                     h2k_qcow2_compressor *comp, h2k_error *err) {
  struct h2k_unit *u = &s->u;
  uint64_t end = u->off + u->len;
  s->bytes_read = 0;
  for (uint64_t pos = u->off; pos < end;) {
    h2k_extent x;
    if (h2k_image_block_status(e->src, pos, end - pos, &x, err) != 0)
      return -1;
    uint8_t *dst = u->data + (pos - u->off);
    if (x.kind == H2K_EXTENT_DATA) {
      if (h2k_image_read(e->src, pos, dst, (size_t)x.length, err) != 0)
        return -1;
      s->bytes_read += x.length;
    } else {
      memset(dst, 0, (size_t)x.length);
    }
    pos += x.length;
  }
  size_t padded = u->ngrains * u->grain;
  memset(u->data + u->len, 0, padded - u->len);
  for (size_t i = 0; i < u->ngrains; i++) {
    const uint8_t *g = u->data + i * u->grain;
    s->zero[i] = all_zero(g, u->grain);
    if (comp)
      s->packed_len[i] = s->zero[i] ? 0
                                    : (uint32_t)h2k_qcow2_compress(
                                          comp, g, u->grain,
                                          u->packed + i * u->grain, u->grain);
  }
  return 0;
}

/* Claim the next unit with data into a free slot; NULL when there is no
 * more work (scan finished or a failure). Called with lock held. */
static struct slot *claim_locked(struct engine *e) {
  while (!e->failed && !e->scan_done &&
         e->next_claim - e->next_write >= e->nslots)
    pthread_cond_wait(&e->space, &e->lock);
  if (e->failed || e->scan_done)
    return NULL;
  h2k_error err = {0};
  if (cancelled(e)) {
    cancel_error(&err);
    fail_locked(e, &err);
    return NULL;
  }
  uint64_t off;
  if (next_unit(e, &off, &err) != 0) {
    fail_locked(e, &err);
    return NULL;
  }
  if (e->scan_done) {
    pthread_cond_broadcast(&e->ready);
    pthread_cond_broadcast(&e->space);
    return NULL;
  }
  struct slot *s = &e->slots[e->next_claim % e->nslots];
  s->seq = e->next_claim++;
  s->state = SLOT_CLAIMED;
  s->u.off = off;
  s->u.len =
      (size_t)(e->vsize - off < e->unit_bytes ? e->vsize - off : e->unit_bytes);
  s->u.ngrains = (s->u.len + e->grain - 1) / e->grain;
  return s;
}

static void *worker_main(void *arg) {
  struct engine *e = arg;
  h2k_error err = {0};
  h2k_qcow2_compressor *comp = NULL;
  if (e->compression >= 0) {
    comp =
        h2k_qcow2_compressor_new(e->compression, e->opts->compress_level, &err);
    if (!comp) {
      fail(e, &err);
      return NULL;
    }
  }
  pthread_mutex_lock(&e->lock);
  struct slot *s;
  while ((s = claim_locked(e)) != NULL) {
    pthread_mutex_unlock(&e->lock);
    int rc = fill_unit(e, s, comp, &err);
    pthread_mutex_lock(&e->lock);
    if (rc != 0) {
      fail_locked(e, &err);
      break;
    }
    s->state = SLOT_READY;
    pthread_cond_broadcast(&e->ready);
  }
  pthread_mutex_unlock(&e->lock);
  h2k_qcow2_compressor_free(comp);
  return NULL;
}

/* The next unit in guest order, or NULL when all are written or on
 * failure. */
static struct slot *next_ready(struct engine *e) {
  pthread_mutex_lock(&e->lock);
  struct slot *s = NULL;
  while (!e->failed) {
    struct slot *cand = &e->slots[e->next_write % e->nslots];
    if (cand->state == SLOT_READY && cand->seq == e->next_write) {
      s = cand;
      break;
    }
    if (e->scan_done && e->next_write == e->next_claim)
      break;
    pthread_cond_wait(&e->ready, &e->lock);
  }
  pthread_mutex_unlock(&e->lock);
  return s;
}

static void release(struct engine *e, struct slot *s) {
  pthread_mutex_lock(&e->lock);
  s->state = SLOT_FREE;
  e->next_write++;
  pthread_cond_broadcast(&e->space);
  pthread_mutex_unlock(&e->lock);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The writer loop, on the calling thread. */
static void write_units(struct engine *e, h2k_convert_result *res) {
  const h2k_convert_opts *o = e->opts;
  uint64_t last_progress = now_ns();
  struct slot *s;
  while ((s = next_ready(e)) != NULL) {
    h2k_error err = {0};
    if (cancelled(e)) {
      cancel_error(&err);
      fail(e, &err);
      return;
    }
    if (e->w->ops->write_unit(e->w, &s->u, &err) != 0) {
      fail(e, &err);
      return;
    }
    res->bytes_read += s->bytes_read;
    uint64_t done = s->u.off + s->u.len;
    release(e, s);
    if (o->progress) {
      uint64_t t = now_ns();
      if (t - last_progress >= (uint64_t)PROGRESS_INTERVAL_NS) {
        last_progress = t;
        o->progress(done, e->vsize, o->progress_opaque);
      }
    }
  }
}

static int alloc_slots(struct engine *e, h2k_error *err) {
  e->slots = calloc(e->nslots, sizeof *e->slots);
  if (!e->slots)
    goto oom;
  size_t ngrains = e->unit_bytes / e->grain;
  for (size_t i = 0; i < e->nslots; i++) {
    struct slot *s = &e->slots[i];
    s->u.grain = e->grain;
    s->u.data = malloc(e->unit_bytes);
    s->zero = malloc(ngrains);
    s->u.zero = s->zero;
    if (!s->u.data || !s->zero)
      goto oom;
    if (e->compression >= 0) {
      s->u.packed = malloc(e->unit_bytes);
      s->packed_len = calloc(ngrains, sizeof *s->packed_len);
      s->u.packed_len = s->packed_len;
      if (!s->u.packed || !s->packed_len)
        goto oom;
    }
  }
  return 0;
oom:
  h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "CONVERT: allocating buffers");
  return -1;
}

static void free_slots(struct engine *e) {
  if (!e->slots)
    return;
  for (size_t i = 0; i < e->nslots; i++) {
    free(e->slots[i].u.data);
    free(e->slots[i].zero);
    free(e->slots[i].u.packed);
    free(e->slots[i].packed_len);
  }
  free(e->slots);
}

static int thread_count(const h2k_convert_opts *o) {
  long n = o->threads > 0 ? o->threads : sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1)
    n = 1;
  return n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* Run the workers and the writer; returns 0 or -1 with e->err set. */
static int run_pipeline(struct engine *e, h2k_convert_result *res) {
  int nthreads = thread_count(e->opts);
  size_t max_slots = e->compression >= 0 ? MAX_SLOTS_PACKED : MAX_SLOTS_PLAIN;
  e->nslots =
      (size_t)nthreads + 4 < max_slots ? (size_t)nthreads + 4 : max_slots;
  if ((size_t)nthreads > e->nslots)
    nthreads = (int)e->nslots;
  if (alloc_slots(e, &e->err) != 0)
    return -1;
  pthread_t tids[MAX_THREADS];
  int started = 0;
  for (; started < nthreads; started++) {
    if (pthread_create(&tids[started], NULL, worker_main, e) != 0) {
      h2k_error err;
      h2k_err_errno(&err, H2K_E_FAIL, errno, "CONVERT: starting threads");
      fail(e, &err);
      break;
    }
  }
  if (started > 0)
    write_units(e, res);
  for (int i = 0; i < started; i++)
    pthread_join(tids[i], NULL);
  return e->failed ? -1 : 0;
}

static int hash_output(int fd, const char *path, char hex[65], h2k_error *err) {
  uint8_t *buf = malloc(HASH_CHUNK);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int rc = -1;
  if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    h2k_err_set(err, H2K_E_FAIL, "CONVERT: cannot set up SHA-256");
    goto out;
  }
  for (uint64_t off = 0;;) {
    ssize_t n = pread(fd, buf, HASH_CHUNK, (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      h2k_err_errno(err, H2K_E_IO, errno,
                    "CONVERT: re-reading '%s' at offset %llu for SHA-256", path,
                    (unsigned long long)off);
      goto out;
    }
    if (n == 0)
      break;
    EVP_DigestUpdate(md, buf, (size_t)n);
    off += (uint64_t)n;
  }
  uint8_t digest[32];
  unsigned int dlen = 0;
  EVP_DigestFinal_ex(md, digest, &dlen);
  for (unsigned i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  rc = 0;
out:
  EVP_MD_CTX_free(md);
  free(buf);
  return rc;
}

static h2k_writer *make_writer(const h2k_convert_opts *o, int fd,
                               const char *path, uint64_t vsize,
                               h2k_error *err) {
  if (o->out_format == H2K_OUT_RAW)
    return h2k_raw_writer_new(fd, path, vsize, err);
  int compression = -1;
  if (o->compress == H2K_COMPRESS_ZLIB)
    compression = QCOW2_COMPRESSION_ZLIB;
  else if (o->compress == H2K_COMPRESS_ZSTD)
    compression = QCOW2_COMPRESSION_ZSTD;
  uint32_t cs = o->cluster_size ? o->cluster_size : 65536;
  return h2k_qcow2_writer_new(fd, path, vsize, cs, compression, err);
}

static int check_opts(const h2k_convert_opts *o, h2k_error *err) {
  if (o->out_format != H2K_OUT_QCOW2 && o->out_format != H2K_OUT_RAW) {
    h2k_err_set(err, H2K_E_USAGE, "CONVERT: unknown output format %d",
                (int)o->out_format);
    return -1;
  }
  if (o->compress != H2K_COMPRESS_NONE && o->out_format != H2K_OUT_QCOW2) {
    h2k_err_set(err, H2K_E_USAGE,
                "CONVERT: compression needs qcow2 output, not raw");
    return -1;
  }
  if (o->compress > H2K_COMPRESS_ZSTD) {
    h2k_err_set(err, H2K_E_USAGE, "CONVERT: unknown compression %d",
                (int)o->compress);
    return -1;
  }
  return 0;
}

static int convert_into(h2k_image *src, int fd, const char *out_path,
                        const h2k_convert_opts *o, h2k_convert_result *res,
                        h2k_error *err) {
  uint64_t vsize = h2k_image_virtual_size(src);
  h2k_writer *w = make_writer(o, fd, out_path, vsize, err);
  if (!w)
    return -1;
  struct engine e = {
      .src = src,
      .w = w,
      .opts = o,
      .vsize = vsize,
      .unit_bytes = UNIT_BYTES > w->grain ? UNIT_BYTES : w->grain,
      .grain = w->grain,
      .compression = -1,
  };
  if (o->out_format == H2K_OUT_QCOW2 && o->compress != H2K_COMPRESS_NONE)
    e.compression = o->compress == H2K_COMPRESS_ZSTD ? QCOW2_COMPRESSION_ZSTD
                                                     : QCOW2_COMPRESSION_ZLIB;
  pthread_mutex_init(&e.lock, NULL);
  pthread_cond_init(&e.ready, NULL);
  pthread_cond_init(&e.space, NULL);
  int rc = run_pipeline(&e, res);
  if (rc != 0)
    *err = e.err;
  else if (cancelled(&e)) {
    cancel_error(err);
    rc = -1;
  }
  if (rc == 0 && w->ops->finish(w, err) != 0)
    rc = -1;
  free_slots(&e);
  pthread_cond_destroy(&e.space);
  pthread_cond_destroy(&e.ready);
  pthread_mutex_destroy(&e.lock);
  w->ops->destroy(w);
  if (rc == 0 && o->progress)
    o->progress(vsize, vsize, o->progress_opaque);
  return rc;
}

int h2k_convert(h2k_image *src, const char *out_path,
                const h2k_convert_opts *opts, h2k_convert_result *res,
                h2k_error *err) {
  h2k_convert_opts defaults = {0};
  const h2k_convert_opts *o = opts ? opts : &defaults;
  h2k_convert_result scratch;
  if (!res)
    res = &scratch;
  memset(res, 0, sizeof *res);
  if (check_opts(o, err) != 0)
    return -1;
  res->virtual_size = h2k_image_virtual_size(src);
  int fd = open(out_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    h2k_err_errno(err, errno == EEXIST ? H2K_E_USAGE : H2K_E_IO, errno,
                  "CONVERT: cannot create output '%s'", out_path);
    return -1;
  }
  int rc = convert_into(src, fd, out_path, o, res, err);
  struct stat st;
  if (rc == 0 && fstat(fd, &st) == 0)
    res->bytes_written = (uint64_t)st.st_size;
  if (rc == 0 && o->want_sha256)
    rc = hash_output(fd, out_path, res->sha256, err);
  if (close(fd) != 0 && rc == 0) {
    h2k_err_errno(err, H2K_E_IO, errno, "CONVERT: closing '%s'", out_path);
    rc = -1;
  }
  if (rc != 0) {
    unlink(out_path);
    h2k_err_wrap(err, "CONVERT: converting '%s' to '%s' failed",
                 h2k_image_path(src), out_path);
  }
  return rc;
}
