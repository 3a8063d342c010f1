#include "core/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/util.h"

int h2k_mkdir_p(const char *path, unsigned mode, h2k_error *err) {
  char *p = strdup(path);
  if (!p) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  size_t n = strlen(p);
  while (n > 1 && p[n - 1] == '/')
    p[--n] = '\0';
  for (char *s = p + 1;; s++) {
    bool last = (*s == '\0');
    if (*s == '/' || last) {
      char saved = *s;
      *s = '\0';
      if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
        h2k_err_errno(err, H2K_E_ENV, errno, "cannot create directory '%s'", p);
        free(p);
        return -1;
      }
      if (!h2k_is_dir(p)) {
        h2k_err_set(err, H2K_E_ENV, "'%s' exists but is not a directory", p);
        free(p);
        return -1;
      }
      *s = saved;
      if (last)
        break;
    }
  }
  free(p);
  return 0;
}

int h2k_fsync_path(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

int h2k_fsync_parent(const char *path) {
  char *dir = strdup(path);
  if (!dir)
    return -1;
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    dir[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    strcpy(dir, ".");
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(dir);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

int h2k_write_file_atomic(const char *path, const void *data, size_t len,
                          unsigned mode, h2k_error *err) {
  char *tmp = h2k_strdup_printf("%s.tmp.XXXXXX", path);
  if (!tmp) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    h2k_err_errno(err, H2K_E_IO, errno, "cannot create '%s'", tmp);
    free(tmp);
    return -1;
  }
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      h2k_err_errno(err, H2K_E_IO, errno, "cannot write '%s'", tmp);
      goto fail;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0) {
    h2k_err_errno(err, H2K_E_IO, errno, "cannot sync '%s'", tmp);
    goto fail;
  }
  close(fd);
  fd = -1;
  if (rename(tmp, path) < 0) {
    h2k_err_errno(err, H2K_E_IO, errno, "cannot rename '%s' to '%s'", tmp,
                  path);
    goto fail;
  }
  h2k_fsync_parent(path);
  free(tmp);
  return 0;
fail:
  if (fd >= 0)
    close(fd);
  unlink(tmp);
  free(tmp);
  return -1;
}

char *h2k_read_file(const char *path, size_t max, size_t *len_out,
                    h2k_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "cannot open '%s'", path);
    return NULL;
  }
  h2k_buf b = {0};
  char chunk[65536];
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      h2k_err_errno(err, H2K_E_INPUT, errno, "cannot read '%s'", path);
      goto fail;
    }
    if (r == 0)
      break;
    if (b.len + (size_t)r > max) {
      h2k_err_set(err, H2K_E_INPUT, "'%s' is larger than %zu bytes", path, max);
      goto fail;
    }
    h2k_buf_append(&b, chunk, (size_t)r);
  }
  close(fd);
  if (len_out)
    *len_out = b.len;
  return h2k_buf_steal(&b);
fail:
  close(fd);
  h2k_buf_free(&b);
  return NULL;
}

static int remove_at(int dirfd, const char *name) {
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode))
    return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -1;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -1;
  }
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    if (remove_at(fd, e->d_name) < 0)
      rc = -1;
  }
  closedir(d);
  if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    rc = -1;
  return rc;
}

int h2k_remove_tree(const char *path) {
  return remove_at(AT_FDCWD, path);
}

int h2k_free_space(const char *path, uint64_t *free_bytes, uint64_t *fs_id,
                   h2k_error *err) {
  char *p = strdup(path);
  if (!p) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  struct statvfs vfs;
  /* Walk up to the nearest existing ancestor: the directory may not exist
   * yet, but it will live on that filesystem. */
  while (statvfs(p, &vfs) < 0) {
    char *slash = strrchr(p, '/');
    if (errno != ENOENT || !slash || slash == p) {
      if (slash == p && errno == ENOENT) {
        strcpy(p, "/");
        continue;
      }
      h2k_err_errno(err, H2K_E_ENV, errno, "cannot query free space of '%s'",
                    path);
      free(p);
      return -1;
    }
    *slash = '\0';
  }
  free(p);
  *free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
  if (fs_id)
    *fs_id = vfs.f_fsid;
  const char *inject = getenv("HYPER2KVM_TEST_FREE_BYTES");
  uint64_t forced;
  if (inject && h2k_parse_size(inject, &forced) == 0)
    *free_bytes = forced;
  return 0;
}

bool h2k_path_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

bool h2k_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
