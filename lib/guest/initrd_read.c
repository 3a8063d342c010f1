/* What an initramfs holds, listed on the host: the image is copied out of
 * the guest and walked by lib/inspect/initrd_list.c. The guest's own
 * lsinitramfs / lsinitrd, which decompresses through a pipe of guest
 * processes, takes seconds under TCG; it stays the fallback for images
 * the lister does not read (bzip2, lz4, lzo). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "guest/appliance.h"
#include "guest/initrd_read.h"
#include "inspect/initrd_list.h"

/* List the host file `path` (a copied initramfs). */
static char *list_host_file(const char *path, h2k_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    h2k_err_errno(err, H2K_E_ENV, errno, "cannot open %s", path);
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  size_t len = (size_t)st.st_size;
  void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
  close(fd);
  if (map == MAP_FAILED) {
    h2k_err_errno(err, H2K_E_ENV, errno, "cannot map %s", path);
    return NULL;
  }
  char *listing = NULL;
  int rc = h2k_initrd_list(map, len, &listing, err);
  if (map)
    munmap(map, len);
  return rc == 0 ? listing : NULL;
}

static char *list_natively(h2k_appliance *a, const char *initrd,
                           h2k_error *err) {
  if (!a->scratch_dir) {
    h2k_err_set(err, H2K_E_FAIL, "no scratch directory to copy %s to", initrd);
    return NULL;
  }
  char *tmp = h2k_path_join(a->scratch_dir, "initrd-listing.tmp");
  char *listing = NULL;
  if (tmp && h2k_app_download(a, initrd, tmp, err) == 0)
    listing = list_host_file(tmp, err);
  if (tmp)
    unlink(tmp);
  free(tmp);
  return listing;
}

char *h2k_guest_list_initrd(h2k_appliance *a, const char *initrd,
                            const char *guest_cmd, h2k_error *err) {
  if (!guest_cmd)
    return list_natively(a, initrd, err);
  h2k_error e = {0};
  char *listing = list_natively(a, initrd, &e);
  if (!listing) {
    h2k_debug("%s: %s; listing it with the guest's tool", initrd,
              h2k_error_text(&e));
    listing = h2k_app_sh_readonly(a, guest_cmd, err);
  }
  h2k_err_clear(&e);
  return listing;
}
