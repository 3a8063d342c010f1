/* raw: the file (view) is the disk. Holes in a sparse file read as zeros.
 *
 * Where the holes are is asked once, at open: SEEK_DATA/SEEK_HOLE walks the
 * view and the data extents are kept in a sorted table (up to a bound), so
 * block status is a binary search instead of two lseek calls per query.
 * Views that are not regular files, or files with too many extents, fall
 * back to asking the kernel on each query. */
#include "image/image.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* 1 Mi extents of 16 bytes: 16 MiB at most for the table. */
#define MAX_MAPPED_EXTENTS (1u << 20)

struct data_extent {
  uint64_t start, end; /* view offsets, end exclusive */
};

struct raw {
  bool regular; /* SEEK_DATA/SEEK_HOLE are meaningful */
  bool mapped;  /* `map` describes the whole view */
  struct data_extent *map;
  size_t n_map;
};

static int raw_probe(const uint8_t *head, size_t len, const char *path) {
  (void)head;
  (void)len;
  (void)path;
  return 1;
}

/* Ask the kernel: [*start, *end) is the data run at or after `pos`
 * (view coordinates); false when there is no more data. */
static bool next_data_run(const h2k_file *f, uint64_t pos, uint64_t *start,
                          uint64_t *end) {
  off_t data = lseek(f->fd, (off_t)(f->base + pos), SEEK_DATA);
  if (data < 0 || (uint64_t)data >= f->base + f->size)
    return false;
  off_t hole = lseek(f->fd, data, SEEK_HOLE);
  uint64_t limit = f->base + f->size;
  uint64_t h = hole < 0 || (uint64_t)hole > limit ? limit : (uint64_t)hole;
  *start = (uint64_t)data - f->base;
  *end = h - f->base;
  return *end > *start;
}

/* Build the extent table; leaves `mapped` false if it cannot. */
static void map_extents(struct raw *r, const h2k_file *f) {
  size_t cap = 0;
  uint64_t pos = 0, s, e;
  while (pos < f->size && next_data_run(f, pos, &s, &e)) {
    if (r->n_map == MAX_MAPPED_EXTENTS)
      goto give_up;
    if (r->n_map == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      struct data_extent *m = realloc(r->map, ncap * sizeof *m);
      if (!m)
        goto give_up;
      r->map = m;
      cap = ncap;
    }
    if (s < pos)
      s = pos;
    r->map[r->n_map++] = (struct data_extent){s, e};
    pos = e;
  }
  r->mapped = true;
  return;
give_up:
  free(r->map);
  r->map = NULL;
  r->n_map = 0;
}

static int raw_open(h2k_image *img, h2k_error *err) {
  h2k_file *f = img->file;
  img->virtual_size = f->size;
  struct raw *r = calloc(1, sizeof *r);
  if (!r) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory opening '%s'", f->path);
    return -1;
  }
  img->priv = r;
  struct stat st;
  r->regular = fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode);
  if (r->regular)
    map_extents(r, f);
  return 0;
}

/* First table entry whose end lies beyond `off`. */
static size_t first_after(const struct raw *r, uint64_t off) {
  size_t lo = 0, hi = r->n_map;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->map[mid].end <= off)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static void status_from_map(const struct raw *r, uint64_t off, uint64_t len,
                            h2k_extent *ext) {
  size_t i = first_after(r, off);
  if (i == r->n_map || r->map[i].start >= off + len) {
    ext->kind = H2K_EXTENT_ZERO; /* a hole up to the end of the query */
    return;
  }
  if (r->map[i].start > off) {
    ext->kind = H2K_EXTENT_ZERO;
    ext->length = r->map[i].start - off;
    return;
  }
  if (r->map[i].end - off < len)
    ext->length = r->map[i].end - off;
}

static void status_from_kernel(const h2k_file *f, uint64_t off, uint64_t len,
                               h2k_extent *ext) {
  uint64_t s, e;
  if (!next_data_run(f, off, &s, &e)) {
    /* no data at or after off (or the kernel cannot tell: then say DATA) */
    if (lseek(f->fd, (off_t)(f->base + off), SEEK_DATA) < 0 && errno == ENXIO)
      ext->kind = H2K_EXTENT_ZERO;
    return;
  }
  if (s > off) {
    ext->kind = H2K_EXTENT_ZERO;
    if (s - off < len)
      ext->length = s - off;
  } else if (e - off < len) {
    ext->length = e - off;
  }
}

static int raw_block_status(h2k_image *img, uint64_t off, uint64_t len,
                            h2k_extent *ext, h2k_error *err) {
  (void)err;
  const struct raw *r = img->priv;
  ext->offset = off;
  ext->length = len;
  ext->kind = H2K_EXTENT_DATA;
  if (r->mapped)
    status_from_map(r, off, len, ext);
  else if (r->regular)
    status_from_kernel(img->file, off, len, ext);
  return 0;
}

static int raw_read(h2k_image *img, uint64_t off, void *buf, size_t len,
                    h2k_error *err) {
  return h2k_file_pread(img->file, buf, len, off, "raw data", err);
}

static void raw_close(h2k_image *img) {
  struct raw *r = img->priv;
  if (r)
    free(r->map);
  free(r);
  img->priv = NULL;
}

const struct h2k_image_driver h2k_driver_raw = {
    .name = "raw",
    .probe = raw_probe,
    .open = raw_open,
    .block_status = raw_block_status,
    .read = raw_read,
    .close = raw_close,
};
