/* Read-only, bounds-checked file views (see file.h). */
#include "image/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

static h2k_file *file_new(int fd, const char *path, uint64_t base,
                          uint64_t size, h2k_error *err) {
  h2k_file *f = calloc(1, sizeof *f);
  char *copy = strdup(path);
  if (!f || !copy) {
    free(f);
    free(copy);
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "FILE: opening '%s'", path);
    return NULL;
  }
  f->fd = fd;
  f->base = base;
  f->size = size;
  f->path = copy;
  f->refs = 1;
  return f;
}

/* Open `path` and return its descriptor and size, or -1. */
static int open_regular(const char *path, uint64_t *size, h2k_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "FILE: cannot open '%s'", path);
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "FILE: cannot stat '%s'", path);
    close(fd);
    return -1;
  }
  if (S_ISDIR(st.st_mode)) {
    h2k_err_set(err, H2K_E_INPUT, "FILE: '%s' is a directory, not an image",
                path);
    close(fd);
    return -1;
  }
  if (S_ISBLK(st.st_mode)) {
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0) {
      h2k_err_errno(err, H2K_E_INPUT, errno,
                    "FILE: cannot get the size of block device '%s'", path);
      close(fd);
      return -1;
    }
    *size = (uint64_t)end;
  } else {
    *size = (uint64_t)st.st_size;
  }
  return fd;
}

h2k_file *h2k_file_open(const char *path, h2k_error *err) {
  uint64_t size;
  int fd = open_regular(path, &size, err);
  if (fd < 0)
    return NULL;
  h2k_file *f = file_new(fd, path, 0, size, err);
  if (!f)
    close(fd);
  return f;
}

h2k_file *h2k_file_open_range(const char *path, uint64_t base, uint64_t size,
                              h2k_error *err) {
  uint64_t file_size;
  int fd = open_regular(path, &file_size, err);
  if (fd < 0)
    return NULL;
  if (base > file_size || size > file_size - base) {
    h2k_err_set(err, H2K_E_INPUT,
                "FILE: range at offset %llu (len %llu) of '%s' lies past end "
                "of file (size %llu)",
                (unsigned long long)base, (unsigned long long)size, path,
                (unsigned long long)file_size);
    close(fd);
    return NULL;
  }
  h2k_file *f = file_new(fd, path, base, size, err);
  if (!f)
    close(fd);
  return f;
}

h2k_file *h2k_file_ref(h2k_file *f) {
  if (f)
    __atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
  return f;
}

void h2k_file_close(h2k_file *f) {
  if (!f)
    return;
  if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) > 0)
    return;
  close(f->fd);
  free(f->path);
  free(f);
}

int h2k_file_pread(h2k_file *f, void *buf, size_t len, uint64_t off,
                   const char *what, h2k_error *err) {
  if (off > f->size || len > f->size - off) {
    h2k_err_set(err, H2K_E_INPUT,
                "FILE: reading %s at offset %llu (len %zu) past end of file "
                "(size %llu) in '%s'",
                what, (unsigned long long)off, len, (unsigned long long)f->size,
                f->path);
    return -1;
  }
  uint8_t *p = buf;
  uint64_t pos = f->base + off;
  while (len > 0) {
    ssize_t n = pread(f->fd, p, len, (off_t)pos);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      h2k_err_errno(err, H2K_E_INPUT, errno,
                    "FILE: reading %s at offset %llu (len %zu) of '%s'", what,
                    (unsigned long long)(pos - f->base), len, f->path);
      return -1;
    }
    if (n == 0) {
      /* The file shrank under us. */
      h2k_err_set(err, H2K_E_INPUT,
                  "FILE: reading %s at offset %llu (len %zu): unexpected end "
                  "of file in '%s'",
                  what, (unsigned long long)(pos - f->base), len, f->path);
      return -1;
    }
    p += n;
    pos += (uint64_t)n;
    len -= (size_t)n;
  }
  return 0;
}

char *h2k_file_sibling(const h2k_file *f, const char *name) {
  if (name[0] == '/' || !f || !f->path)
    return strdup(name);
  const char *slash = strrchr(f->path, '/');
  if (!slash)
    return strdup(name);
  size_t dirlen = (size_t)(slash - f->path) + 1;
  size_t namelen = strlen(name);
  char *out = malloc(dirlen + namelen + 1);
  if (!out)
    return NULL;
  memcpy(out, f->path, dirlen);
  memcpy(out + dirlen, name, namelen + 1);
  return out;
}
