/* Sparse raw output: the file is sized to the disk up front and only grains
 * holding data are written, so zeros stay holes. */
#include "image/writer.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define RAW_GRAIN 4096

int h2k_pwrite_all(int fd, const void *buf, size_t len, uint64_t off,
                   const char *path, const char *what, h2k_error *err) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, (off_t)off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      h2k_err_errno(err, errno == ENOSPC ? H2K_E_SPACE : H2K_E_IO, errno,
                    "WRITE: writing %s at offset %llu (len %zu) of '%s'", what,
                    (unsigned long long)off, len, path);
      return -1;
    }
    p += n;
    off += (uint64_t)n;
    len -= (size_t)n;
  }
  return 0;
}

static int raw_write_unit(h2k_writer *w, const struct h2k_unit *u,
                          h2k_error *err) {
  size_t i = 0;
  while (i < u->ngrains) {
    if (u->zero[i]) {
      i++;
      continue;
    }
    size_t j = i + 1;
    while (j < u->ngrains && !u->zero[j])
      j++;
    size_t start = i * u->grain;
    size_t end = j * u->grain < u->len ? j * u->grain : u->len;
    if (h2k_pwrite_all(w->fd, u->data + start, end - start, u->off + start,
                       w->path, "raw data", err) != 0)
      return -1;
    i = j;
  }
  return 0;
}

static int raw_finish(h2k_writer *w, h2k_error *err) {
  (void)w;
  (void)err;
  return 0;
}

static void raw_destroy(h2k_writer *w) {
  free(w);
}

static const struct h2k_writer_ops raw_ops = {
    .write_unit = raw_write_unit,
    .finish = raw_finish,
    .destroy = raw_destroy,
};

h2k_writer *h2k_raw_writer_new(int fd, const char *path, uint64_t virtual_size,
                               h2k_error *err) {
  if (ftruncate(fd, (off_t)virtual_size) != 0) {
    h2k_err_errno(err, errno == EFBIG ? H2K_E_SPACE : H2K_E_IO, errno,
                  "WRITE: cannot size raw output '%s' to %llu bytes", path,
                  (unsigned long long)virtual_size);
    return NULL;
  }
  h2k_writer *w = calloc(1, sizeof *w);
  if (!w) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "WRITE: '%s'", path);
    return NULL;
  }
  w->ops = &raw_ops;
  w->fd = fd;
  w->path = path;
  w->virtual_size = virtual_size;
  w->grain = RAW_GRAIN;
  return w;
}
