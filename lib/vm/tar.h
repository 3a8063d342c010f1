/* A tar reader for OVA archives and disk tarballs.
 *
 * Reads ustar, pax ('x' extended headers with path / size overrides; 'g'
 * global headers ignored), GNU (long names 'L', long links 'K', base-256
 * sizes) and old v7 archives. Members are visited in order; their data can
 * be located in place (archives read from a file) or read sequentially
 * (archives read from a decompressor stream).
 *
 * Safety: every header checksum is validated, and a member is refused
 * (H2K_E_INPUT, naming it) when its name is absolute or has a ".."
 * component, when it is a symlink, hard link, device, FIFO or GNU sparse
 * file, when its name repeats an earlier member (after normalising "./"
 * and "//"), or when its data extends past the end of the archive.
 */
#ifndef H2K_VM_TAR_H
#define H2K_VM_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Longest member name accepted (pax / GNU long names included). */
#define H2K_TAR_NAME_MAX 4096
/* Most members accepted in one archive. */
#define H2K_TAR_MEMBERS_MAX 100000

typedef struct h2k_tar_member {
  const char *name; /* normalised: no "./", no "//", no trailing "/";
                       valid until the next h2k_tar_next() */
  bool is_dir;      /* a directory entry (no data) */
  uint64_t size;    /* bytes of data */
  uint64_t offset;  /* data offset in the archive file (file readers:
                       includes the base given to h2k_tar_open_fd) */
} h2k_tar_member;

typedef struct h2k_tar h2k_tar;

/* Read a tar stored at [base, base+size) of fd (not owned, not closed).
 * `name` names the archive in messages. */
h2k_tar *h2k_tar_open_fd(int fd, uint64_t base, uint64_t size, const char *name,
                         h2k_error *err);

/* Read a tar from a stream: read_fn fills up to len bytes and returns the
 * count, 0 at end of stream, -1 on error (err set). */
typedef long (*h2k_tar_read_fn)(void *ctx, void *buf, size_t len,
                                h2k_error *err);
h2k_tar *h2k_tar_open_stream(h2k_tar_read_fn read_fn, void *ctx,
                             const char *name, h2k_error *err);

/* Advance to the next regular file or directory. Returns 1 and fills *m,
 * 0 at the end of the archive, -1 on error (unsafe member, corruption). */
int h2k_tar_next(h2k_tar *t, h2k_tar_member *m, h2k_error *err);

/* Stream readers: read up to len bytes of the current member's data.
 * Returns the count (0 when the member is exhausted) or -1. A member cut
 * short by the end of the stream is an error naming it. */
long h2k_tar_read(h2k_tar *t, void *buf, size_t len, h2k_error *err);

void h2k_tar_close(h2k_tar *t);

/* Normalise a member name in place (strip "./" and empty components and a
 * trailing "/"). Returns 0, or -1 when the name is absolute, empty, or has
 * a ".." component (*why says which). */
int h2k_tar_normalise_name(char *name, const char **why);

/* True when the first 512 bytes look like a tar header (valid checksum). */
bool h2k_tar_probe(const void *block512);

/* ---- streaming helpers shared by the OVA and tarball readers ----
 * (implemented in tarball.c) */

/* A byte range of an open file; several make one logical stream (an OVF
 * disk split into chunks). */
typedef struct h2k_range {
  int fd;
  uint64_t offset, length;
} h2k_range;

typedef struct h2k_range_reader {
  const h2k_range *ranges;
  size_t n;
  size_t i;         /* current range */
  uint64_t done;    /* bytes consumed of the current range */
  const char *name; /* for messages */
} h2k_range_reader;

/* h2k_tar_read_fn over a h2k_range_reader. A range ending before its
 * declared length (file shrunk) is an error. */
long h2k_range_read(void *range_reader, void *buf, size_t len, h2k_error *err);

enum h2k_compression { H2K_COMP_NONE = 0, H2K_COMP_GZIP, H2K_COMP_XZ };

/* The compression of a stream from its first bytes (gzip, xz magic). */
enum h2k_compression h2k_compression_probe(const void *head, size_t len);

/* A decompressing reader (bounded memory) over another reader. gzip
 * streams may be concatenated (multi-member). */
typedef struct h2k_unzip h2k_unzip;
h2k_unzip *h2k_unzip_new(enum h2k_compression kind, h2k_tar_read_fn src,
                         void *src_ctx, const char *name, h2k_error *err);
long h2k_unzip_read(void *unzip, void *buf, size_t len, h2k_error *err);
void h2k_unzip_free(h2k_unzip *u);

/* Create a new file in unpack_dir named after the base name of `member`
 * (unsafe characters replaced, a numeric prefix added on collision),
 * exclusively, mode 0600, never following symlinks. Returns the fd and
 * the malloc'ed path in *path_out, or -1. */
int h2k_unpack_create(const char *unpack_dir, const char *member,
                      char **path_out, h2k_error *err);

/* Copy all of a reader into fd (at its current position). *written may
 * be NULL. */
int h2k_unpack_copy(h2k_tar_read_fn src, void *ctx, int fd, const char *path,
                    uint64_t *written, h2k_error *err);

#endif
