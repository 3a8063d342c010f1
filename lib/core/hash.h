/* SHA-256 and input fingerprints (for checkpoints and --checksum). */
#ifndef H2K_CORE_HASH_H
#define H2K_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

void h2k_sha256_hex(const void *data, size_t len, char out[65]);
int h2k_sha256_file(const char *path, char out[65], h2k_error *err);

/* A cheap but strong identity of a (possibly huge) input file: size,
 * mtime (ns), device/inode, and SHA-256 of the first and last MiB. */
typedef struct h2k_fingerprint {
  uint64_t size;
  int64_t mtime_ns;
  uint64_t dev, ino;
  char sample_sha256[65];
} h2k_fingerprint;

int h2k_fingerprint_file(const char *path, h2k_fingerprint *fp, h2k_error *err);

#endif
