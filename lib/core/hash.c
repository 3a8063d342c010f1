#include "core/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void to_hex(const unsigned char *md, unsigned n, char *out) {
  for (unsigned i = 0; i < n; i++)
    sprintf(out + 2 * i, "%02x", md[i]);
  out[2 * n] = '\0';
}

void h2k_sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
  to_hex(md, n, out);
}

/* Hash [off, off+len) of fd into ctx. */
static int hash_range(EVP_MD_CTX *ctx, int fd, uint64_t off, uint64_t len,
                      unsigned char *buf, size_t cap) {
  while (len > 0) {
    size_t want = len < cap ? (size_t)len : cap;
    ssize_t r = pread(fd, buf, want, (off_t)off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    EVP_DigestUpdate(ctx, buf, (size_t)r);
    off += (uint64_t)r;
    len -= (uint64_t)r;
  }
  return 0;
}

static int hash_fd(int fd, uint64_t size, bool sample, char out[65]) {
  const size_t cap = 1 << 20;
  unsigned char *buf = malloc(cap);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int rc = -1;
  if (!buf || !ctx)
    goto done;
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  if (!sample || size <= 2 * cap) {
    rc = hash_range(ctx, fd, 0, size, buf, cap);
  } else {
    rc = hash_range(ctx, fd, 0, cap, buf, cap);
    if (rc == 0)
      rc = hash_range(ctx, fd, size - cap, cap, buf, cap);
  }
  if (rc == 0) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    to_hex(md, n, out);
  }
done:
  EVP_MD_CTX_free(ctx);
  free(buf);
  return rc;
}

/* Open `path` read-only and stat it; -1 with err set on failure. */
static int open_and_stat(const char *path, struct stat *st, h2k_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, st) < 0) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "cannot open '%s'", path);
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

int h2k_sha256_file(const char *path, char out[65], h2k_error *err) {
  struct stat st;
  int fd = open_and_stat(path, &st, err);
  if (fd < 0)
    return -1;
  int rc = hash_fd(fd, (uint64_t)st.st_size, false, out);
  if (rc < 0)
    h2k_err_errno(err, H2K_E_INPUT, errno ? errno : EIO,
                  "cannot read '%s' to compute its SHA-256", path);
  close(fd);
  return rc;
}

int h2k_fingerprint_file(const char *path, h2k_fingerprint *fp,
                         h2k_error *err) {
  struct stat st;
  int fd = open_and_stat(path, &st, err);
  if (fd < 0)
    return -1;
  memset(fp, 0, sizeof *fp);
  fp->size = (uint64_t)st.st_size;
  fp->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  fp->dev = (uint64_t)st.st_dev;
  fp->ino = (uint64_t)st.st_ino;
  int rc = hash_fd(fd, fp->size, true, fp->sample_sha256);
  if (rc < 0)
    h2k_err_errno(err, H2K_E_INPUT, errno ? errno : EIO, "cannot read '%s'",
                  path);
  close(fd);
  return rc;
}
