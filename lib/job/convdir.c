#include "job/convdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/util.h"

static const char *WHERE_HINT =
    "choose another directory with --conversion-dir DIR (YAML "
    "conversion_dir:, env HYPER2KVM_CONVERSION_DIR)";

static int check_existing(const char *dir, const struct stat *st,
                          h2k_error *err) {
  if (!S_ISDIR(st->st_mode)) {
    h2k_err_set(err, H2K_E_ENV,
                "conversion directory '%s' exists but is not a directory", dir);
    h2k_err_hint(err, "%s", WHERE_HINT);
    return -1;
  }
  if (st->st_uid != geteuid()) {
    h2k_err_set(err, H2K_E_ENV,
                "conversion directory '%s' is owned by uid %u, not by you (uid "
                "%u); refusing to put disk data where another user controls it",
                dir, (unsigned)st->st_uid, (unsigned)geteuid());
    h2k_err_hint(err, "%s", WHERE_HINT);
    return -1;
  }
  if (st->st_mode & (S_IWGRP | S_IWOTH)) {
    h2k_err_set(err, H2K_E_ENV,
                "conversion directory '%s' is %s-writable (mode %04o); "
                "refusing to put disk data there",
                dir, (st->st_mode & S_IWOTH) ? "world" : "group",
                (unsigned)(st->st_mode & 07777));
    h2k_err_hint(err, "run 'chmod 700 %s' or %s", dir, WHERE_HINT);
    return -1;
  }
  return 0;
}

int h2k_convdir_prepare(const char *dir, h2k_error *err) {
  struct stat st;
  if (lstat(dir, &st) == 0)
    return check_existing(dir, &st, err);
  if (errno != ENOENT) {
    h2k_err_errno(err, H2K_E_ENV, errno,
                  "cannot access conversion directory '%s'", dir);
    return -1;
  }
  if (h2k_mkdir_p(dir, 0700, err) < 0) {
    h2k_err_wrap(err, "cannot create conversion directory '%s'", dir);
    h2k_err_hint(err, "%s", WHERE_HINT);
    return -1;
  }
  if (chmod(dir, 0700) < 0 || lstat(dir, &st) < 0) {
    h2k_err_errno(err, H2K_E_ENV, errno, "cannot set mode 0700 on '%s'", dir);
    return -1;
  }
  h2k_debug("created conversion directory %s (mode 0700)", dir);
  return check_existing(dir, &st, err);
}

int h2k_convdir_check(const char *dir, h2k_error *err) {
  struct stat st;
  if (lstat(dir, &st) == 0)
    return check_existing(dir, &st, err);
  return 0;
}

int h2k_jobdir_open(const char *jobdir, h2k_error *err) {
  if (mkdir(jobdir, 0700) < 0 && errno != EEXIST) {
    h2k_err_errno(err, H2K_E_ENV, errno, "cannot create job directory '%s'",
                  jobdir);
    return -1;
  }
  char *lock = h2k_path_join(jobdir, "lock");
  int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  free(lock);
  if (fd < 0) {
    h2k_err_errno(err, H2K_E_ENV, errno, "cannot create lock in '%s'", jobdir);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    h2k_err_set(err, H2K_E_ENV,
                "another hyper2kvm process is converting this VM right now "
                "(job directory '%s' is locked)",
                jobdir);
    h2k_err_hint(err, "wait for it to finish, or use another --vm-name");
    close(fd);
    return -1;
  }
  char *marker = h2k_path_join(jobdir, H2K_JOB_MARKER);
  int mfd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (mfd >= 0)
    close(mfd);
  free(marker);
  return fd;
}

void h2k_jobdir_close(int lock_fd) {
  if (lock_fd >= 0)
    close(lock_fd);
}

/* Newest mtime of a job directory: the directory itself and its top-level
 * entries (the checkpoint is rewritten at every stage). */
static time_t newest_mtime(int dfd) {
  struct stat st;
  time_t newest = fstat(dfd, &st) == 0 ? st.st_mtime : 0;
  int fd2 = dup(dfd);
  DIR *d = fd2 >= 0 ? fdopendir(fd2) : NULL;
  if (!d) {
    if (fd2 >= 0)
      close(fd2);
    return newest;
  }
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, "..") != 0 &&
        fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        st.st_mtime > newest)
      newest = st.st_mtime;
  closedir(d);
  return newest;
}

/* Is the job in `dfd` locked by a live process? */
static bool job_is_active(int dfd) {
  int fd = openat(dfd, "lock", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return false;
  bool active = flock(fd, LOCK_EX | LOCK_NB) < 0;
  close(fd);
  return active;
}

int h2k_convdir_cleanup(const char *dir, uint64_t older_than, bool dry_run,
                        int *removed, int *kept, h2k_error *err) {
  *removed = *kept = 0;
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT)
      return 0;
    h2k_err_errno(err, H2K_E_ENV, errno, "cannot open '%s'", dir);
    return -1;
  }
  time_t now = time(NULL);
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    int dfd = openat(dirfd(d), e->d_name,
                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
      continue;
    struct stat st;
    bool is_job = fstatat(dfd, H2K_JOB_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0;
    bool stale = is_job && (uint64_t)(now - newest_mtime(dfd)) >= older_than;
    bool active = is_job && job_is_active(dfd);
    close(dfd);
    if (!is_job)
      continue;
    char *path = h2k_path_join(dir, e->d_name);
    if (stale && !active) {
      h2k_info("%s %s", dry_run ? "would remove" : "removing", path);
      if (!dry_run && h2k_remove_tree(path) < 0) {
        h2k_warn("cannot remove %s: %s", path, strerror(errno));
        rc = -1;
      } else {
        (*removed)++;
      }
    } else {
      h2k_debug("keeping %s (%s)", path, active ? "in use" : "recent");
      (*kept)++;
    }
    free(path);
  }
  closedir(d);
  if (rc < 0)
    h2k_err_set(err, H2K_E_IO,
                "some job directories in '%s' could not be "
                "removed",
                dir);
  return rc;
}
