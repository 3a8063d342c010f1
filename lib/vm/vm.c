/* The VM model: allocation, growth of the device arrays, warnings, and a
 * few helpers shared by the VMX and OVF readers. */
#include "vm/vm.h"

#include "core/fsutil.h"
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

int h2k_vm_read_descriptor(const char *path, size_t max_bytes, char **text,
                           size_t *len, h2k_error *err) {
  *text = NULL;
  *len = 0;
  struct stat st;
  if (stat(path, &st) < 0) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "cannot open %s", path);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    h2k_err_set(err, H2K_E_INPUT, "%s is not a regular file", path);
    return -1;
  }
  *text = h2k_read_file(path, max_bytes, len, err);
  if (!*text) {
    h2k_err_wrap(err, "cannot read descriptor %s", path);
    err->code = H2K_E_INPUT;
    return -1;
  }
  return 0;
}
