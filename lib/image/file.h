/* A read-only view of a file, or of a byte range inside one (a disk stored
 * uncompressed inside an OVA tar is read in place through such a view).
 * Every read is bounds-checked against the view, so format readers can
 * pass untrusted offsets straight in and get a clear error back. */
#ifndef H2K_IMAGE_FILE_H
#define H2K_IMAGE_FILE_H

#include <stdint.h>
#include <stddef.h>

#include "hyper2kvm.h"

typedef struct h2k_file {
  int fd;
  uint64_t base; /* offset of the view inside the file */
  uint64_t size; /* length of the view */
  char *path;    /* for messages and for resolving sibling files */
  int refs;
} h2k_file;

/* Open `path` read-only (O_RDONLY | O_CLOEXEC). The whole file is the view. */
h2k_file *h2k_file_open(const char *path, h2k_error *err);
/* Open a byte range [base, base+size) of `path`. */
h2k_file *h2k_file_open_range(const char *path, uint64_t base, uint64_t size,
                              h2k_error *err);
h2k_file *h2k_file_ref(h2k_file *f);
void h2k_file_close(h2k_file *f);

/* Read exactly `len` bytes at `off` in the view. A read that would cross the
 * end of the view fails with H2K_E_INPUT naming the file, offset and `what`
 * (the structure being read, e.g. "VMDK grain table"). */
int h2k_file_pread(h2k_file *f, void *buf, size_t len, uint64_t off,
                   const char *what, h2k_error *err);

/* Resolve `name` (as written inside an image: extent, parent) relative to
 * the directory holding `f`. Absolute names are returned unchanged.
 * Returns a malloc'ed string. */
char *h2k_file_sibling(const h2k_file *f, const char *name);

#endif
