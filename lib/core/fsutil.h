/* File-system helpers: directories, atomic writes, removal, free space. */
#ifndef H2K_CORE_FSUTIL_H
#define H2K_CORE_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* mkdir -p with `mode` for every directory it creates. */
int h2k_mkdir_p(const char *path, unsigned mode, h2k_error *err);

/* Write `len` bytes to `path` atomically: a temporary file in the same
 * directory, fsync, rename over `path`, fsync the directory. */
int h2k_write_file_atomic(const char *path, const void *data, size_t len,
                          unsigned mode, h2k_error *err);

/* Read a whole (small) file; at most `max` bytes. NUL-terminated. */
char *h2k_read_file(const char *path, size_t max, size_t *len_out,
                    h2k_error *err);

/* rm -rf; does not follow symlinks. Returns 0 or -1 (errno set). */
int h2k_remove_tree(const char *path);

/* Free bytes available to the caller on the filesystem holding `path`
 * (or its nearest existing parent). HYPER2KVM_TEST_FREE_BYTES overrides the
 * figure, so tests can simulate a full disk. */
int h2k_free_space(const char *path, uint64_t *free_bytes, uint64_t *fs_id,
                   h2k_error *err);

bool h2k_path_exists(const char *path);
bool h2k_is_dir(const char *path);

/* fsync the directory containing `path`. */
int h2k_fsync_parent(const char *path);
/* fsync the file at `path`. Returns 0 or -1 (errno set). */
int h2k_fsync_path(const char *path);

#endif
