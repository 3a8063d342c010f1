/* Output writers used by the copy engine (convert.c). The engine hands
 * them work units in guest order from a single thread; units with no data
 * at all are never passed. */
#ifndef H2K_IMAGE_WRITER_H
#define H2K_IMAGE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* A run of guest data, split in grains (qcow2: clusters; raw: 4 KiB). */
struct h2k_unit {
  uint64_t off;        /* guest offset, a multiple of grain */
  size_t len;          /* guest bytes (short only at the end of the disk) */
  uint32_t grain;      /* bytes per grain */
  size_t ngrains;      /* ceil(len / grain) */
  uint8_t *data;       /* ngrains * grain bytes, zero-padded past len */
  const uint8_t *zero; /* per grain: non-zero when the grain is all zeros */
  uint8_t *packed;     /* compressed grain i at packed + i * grain */
  const uint32_t *packed_len; /* per grain: compressed length, 0 = none */
};

typedef struct h2k_writer h2k_writer;

struct h2k_writer_ops {
  int (*write_unit)(h2k_writer *w, const struct h2k_unit *u, h2k_error *err);
  /* Write the remaining metadata; the file is complete afterwards. */
  int (*finish)(h2k_writer *w, h2k_error *err);
  void (*destroy)(h2k_writer *w);
};

struct h2k_writer {
  const struct h2k_writer_ops *ops;
  int fd;
  const char *path;
  uint64_t virtual_size;
  uint32_t grain;
};

/* compression: -1 for none, else QCOW2_COMPRESSION_ZLIB / _ZSTD. */
h2k_writer *h2k_qcow2_writer_new(int fd, const char *path,
                                 uint64_t virtual_size, uint32_t cluster_size,
                                 int compression, h2k_error *err);
h2k_writer *h2k_raw_writer_new(int fd, const char *path, uint64_t virtual_size,
                               h2k_error *err);

/* Write all of buf at off, retrying short writes and EINTR. */
int h2k_pwrite_all(int fd, const void *buf, size_t len, uint64_t off,
                   const char *path, const char *what, h2k_error *err);

#endif
