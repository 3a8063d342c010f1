/* The VM model: allocation, growth of the device arrays, warnings, and a
 * few helpers shared by the VMX and OVF readers. */
#include "vm/vm.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

h2k_vm *h2k_vm_new(void) {
  return calloc(1, sizeof(h2k_vm));
}

static void free_disk(h2k_vm_disk *d) {
  free(d->path);
  free(d->format);
  free(d->controller);
  free(d->vmx_filename);
  free(d->ovf_href);
  free(d->ovf_file_id);
  free(d->ovf_disk_id);
  free(d->ovf_format);
  for (size_t i = 0; i < d->n_chunks; i++)
    free(d->chunks[i]);
  free(d->chunks);
}

static void free_nic(h2k_vm_nic *n) {
  free(n->mac);
  free(n->model);
  free(n->network);
  free(n->connection);
}

static void free_cdrom(h2k_vm_cdrom *c) {
  free(c->path);
  free(c->controller);
}

void h2k_vm_free(h2k_vm *vm) {
  if (!vm)
    return;
  for (size_t i = 0; i < vm->n_disks; i++)
    free_disk(&vm->disks[i]);
  for (size_t i = 0; i < vm->n_nics; i++)
    free_nic(&vm->nics[i]);
  for (size_t i = 0; i < vm->n_cdroms; i++)
    free_cdrom(&vm->cdroms[i]);
  for (size_t i = 0; i < vm->n_warnings; i++)
    free(vm->warnings[i]);
  free(vm->disks);
  free(vm->nics);
  free(vm->cdroms);
  free(vm->warnings);
  free(vm->name);
  free(vm->uuid);
  free(vm->guest_os);
  free(vm->annotation);
  free(vm->source_path);
  free(vm->manifest);
  free(vm->boot_order_hint);
  free(vm->product);
  free(vm->product_vendor);
  free(vm->product_version);
  free(vm);
}

/* Grow *array (of *count elements of elem_size) by one zeroed element. */
static void *append_zeroed(void **array, size_t *count, size_t elem_size) {
  if (*count >= SIZE_MAX / elem_size - 1)
    return NULL;
  char *grown = realloc(*array, (*count + 1) * elem_size);
  if (!grown)
    return NULL;
  *array = grown;
  char *slot = grown + *count * elem_size;
  memset(slot, 0, elem_size);
  (*count)++;
  return slot;
}

h2k_vm_disk *h2k_vm_add_disk(h2k_vm *vm) {
  return append_zeroed((void **)&vm->disks, &vm->n_disks, sizeof *vm->disks);
}

h2k_vm_nic *h2k_vm_add_nic(h2k_vm *vm) {
  return append_zeroed((void **)&vm->nics, &vm->n_nics, sizeof *vm->nics);
}

h2k_vm_cdrom *h2k_vm_add_cdrom(h2k_vm *vm) {
  return append_zeroed((void **)&vm->cdroms, &vm->n_cdroms, sizeof *vm->cdroms);
}

const char *h2k_bus_name(enum h2k_bus bus) {
  switch (bus) {
  case H2K_BUS_IDE:
    return "ide";
  case H2K_BUS_SATA:
    return "sata";
  case H2K_BUS_SCSI:
    return "scsi";
  case H2K_BUS_NVME:
    return "nvme";
  case H2K_BUS_VIRTIO:
    return "virtio";
  case H2K_BUS_UNKNOWN:
    break;
  }
  return "unknown";
}

const char *h2k_firmware_name(enum h2k_firmware fw) {
  switch (fw) {
  case H2K_FW_BIOS:
    return "bios";
  case H2K_FW_UEFI:
    return "uefi";
  case H2K_FW_UNKNOWN:
    break;
  }
  return "unknown";
}

int h2k_vm_add_warning(h2k_vm *vm, const char *fmt, ...) {
  if (vm->n_warnings > H2K_VM_MAX_WARNINGS)
    return 0;
  if (vm->n_warnings == H2K_VM_MAX_WARNINGS)
    return h2k_strv_push(&vm->warnings, &vm->n_warnings,
                         strdup("further warnings suppressed"));
  va_list ap;
  va_start(ap, fmt);
  int rc = h2k_strv_vprintf(&vm->warnings, &vm->n_warnings, fmt, ap);
  va_end(ap);
  return rc;
}

static int read_all(int fd, char *buf, size_t want, size_t *got) {
  size_t done = 0;
  while (done < want) {
    ssize_t n = read(fd, buf + done, want - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    done += (size_t)n;
  }
  *got = done;
  return 0;
}

int h2k_vm_read_descriptor(const char *path, size_t max_bytes, char **text,
                           size_t *len, h2k_error *err) {
  *text = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "cannot open %s", path);
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) < 0) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "cannot stat %s", path);
    close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    h2k_err_set(err, H2K_E_INPUT, "%s is not a regular file", path);
    close(fd);
    return -1;
  }
  if ((uint64_t)st.st_size > max_bytes) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s is too large for a descriptor (%llu bytes, limit %zu)",
                path, (unsigned long long)st.st_size, max_bytes);
    close(fd);
    return -1;
  }
  /* Read one byte more than allowed to notice a file that grew. */
  char *buf = malloc(max_bytes + 2);
  size_t got = 0;
  if (!buf) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory reading %s", path);
    close(fd);
    return -1;
  }
  if (read_all(fd, buf, max_bytes + 1, &got) < 0) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "cannot read %s", path);
    free(buf);
    close(fd);
    return -1;
  }
  close(fd);
  if (got > max_bytes) {
    h2k_err_set(err, H2K_E_INPUT, "%s is too large for a descriptor", path);
    free(buf);
    return -1;
  }
  buf[got] = '\0';
  char *shrunk = realloc(buf, got + 1);
  *text = shrunk ? shrunk : buf;
  *len = got;
  return 0;
}

char *h2k_vm_path_join(const char *dir, const char *rel) {
  char *out = NULL;
  if (!dir || !*dir || rel[0] == '/')
    return strdup(rel);
  size_t dl = strlen(dir);
  const char *sep = dir[dl - 1] == '/' ? "" : "/";
  if (asprintf(&out, "%s%s%s", dir, sep, rel) < 0)
    return NULL;
  return out;
}

char *h2k_vm_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    return strdup(".");
  if (slash == path)
    return strdup("/");
  return strndup(path, (size_t)(slash - path));
}
