/* Print the VM model read from a .vmx or .ovf file (debugging aid):
 *   vmdump FILE.vmx | FILE.ovf [VM-NAME]                                  */
#include <stdio.h>
#include <string.h>

#include "vm/ovf.h"
#include "vm/vmx.h"

static const char *s(const char *v) {
  return v ? v : "(null)";
}

static void dump(const h2k_vm *vm) {
  printf("name=%s uuid=%s fw=%s secure_boot=%d vcpus=%d cores=%d mem=%llu\n",
         s(vm->name), s(vm->uuid), h2k_firmware_name(vm->firmware),
         vm->secure_boot, vm->vcpus, vm->cores_per_socket,
         (unsigned long long)vm->memory_mb);
  printf("guest_os=%s hw=%d os_id=%d boot_hint=%s product=%s/%s/%s\n",
         s(vm->guest_os), vm->hw_version, vm->ovf_os_id, s(vm->boot_order_hint),
         s(vm->product), s(vm->product_vendor), s(vm->product_version));
  printf("annotation=%s\n", s(vm->annotation));
  for (size_t i = 0; i < vm->n_disks; i++) {
    const h2k_vm_disk *d = &vm->disks[i];
    printf("disk%zu %s%d:%d ctl=%s boot=%d path=%s fmt=%s cap=%llu", i,
           h2k_bus_name(d->bus), d->bus_index, d->unit, s(d->controller),
           d->boot_order, s(d->path), s(d->format),
           (unsigned long long)d->capacity);
    if (d->ovf_href)
      printf(" href=%s so=%d gzip=%d size=%llu chunk=%llu n_chunks=%zu",
             d->ovf_href, d->stream_optimized, d->gzip,
             (unsigned long long)d->file_size,
             (unsigned long long)d->chunk_size, d->n_chunks);
    printf("\n");
  }
  for (size_t i = 0; i < vm->n_cdroms; i++)
    printf("cdrom%zu %s%d:%d ctl=%s path=%s\n", i,
           h2k_bus_name(vm->cdroms[i].bus), vm->cdroms[i].bus_index,
           vm->cdroms[i].unit, s(vm->cdroms[i].controller),
           s(vm->cdroms[i].path));
  for (size_t i = 0; i < vm->n_nics; i++)
    printf("nic%zu mac=%s model=%s network=%s connection=%s\n", i,
           s(vm->nics[i].mac), s(vm->nics[i].model), s(vm->nics[i].network),
           s(vm->nics[i].connection));
  for (size_t i = 0; i < vm->n_warnings; i++)
    printf("warning: %s\n", vm->warnings[i]);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE.vmx|FILE.ovf [VM-NAME]\n", argv[0]);
    return 2;
  }
  h2k_error err = {0};
  size_t len = strlen(argv[1]);
  bool ovf = len > 4 && strcmp(argv[1] + len - 4, ".ovf") == 0;
  h2k_vm *vm =
      ovf ? h2k_ovf_parse_file(argv[1], argc > 2 ? argv[2] : NULL, &err)
          : h2k_vmx_parse_file(argv[1], &err);
  if (!vm) {
    fprintf(stderr, "error: %s\n", h2k_error_text(&err));
    return 1;
  }
  dump(vm);
  h2k_vm_free(vm);
  return 0;
}
