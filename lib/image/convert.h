/* Copy engine: read a (chain of) source image(s), write qcow2 or raw.
 * One pass, no intermediate file; holes are never read nor written. */
#ifndef H2K_IMAGE_CONVERT_H
#define H2K_IMAGE_CONVERT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "image/image.h"

enum h2k_out_format { H2K_OUT_QCOW2 = 0, H2K_OUT_RAW = 1 };
enum h2k_compress {
  H2K_COMPRESS_NONE = 0,
  H2K_COMPRESS_ZLIB,
  H2K_COMPRESS_ZSTD
};

/* Called from the writing thread, in order, at most ~10 times a second and
 * once at the end with done == total. */
typedef void (*h2k_progress_fn)(uint64_t done, uint64_t total, void *opaque);

typedef struct h2k_convert_opts {
  enum h2k_out_format out_format;
  enum h2k_compress compress;
  int compress_level;       /* 0 = the codec's default */
  uint32_t cluster_size;    /* qcow2 only; 0 = 65536 */
  int threads;              /* 0 = number of online CPUs */
  h2k_progress_fn progress; /* may be NULL */
  void *progress_opaque;
  atomic_bool *cancel; /* may be NULL; set to true to stop */
  bool want_sha256;    /* SHA-256 of the output file as written */
} h2k_convert_opts;

typedef struct h2k_convert_result {
  uint64_t virtual_size;
  uint64_t bytes_read;    /* data bytes read from sources */
  uint64_t bytes_written; /* size of the output file */
  char sha256[65];        /* hex, when want_sha256 */
} h2k_convert_result;

/* Convert `src` into a new file `out_path` (created with O_EXCL; the caller
 * chooses a temporary name and renames it when this returns 0). On failure
 * the partial output is removed. */
int h2k_convert(h2k_image *src, const char *out_path,
                const h2k_convert_opts *opts, h2k_convert_result *res,
                h2k_error *err);

#endif
