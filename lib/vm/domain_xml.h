/* libvirt domain XML for a converted VM, and defining it in libvirt. */
#ifndef H2K_VM_DOMAIN_XML_H
#define H2K_VM_DOMAIN_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/vm.h"

typedef struct h2k_domain_disk {
  const char *path;   /* absolute path of the converted disk */
  const char *format; /* "qcow2" or "raw" */
} h2k_domain_disk;

typedef struct h2k_domain_opts {
  const h2k_domain_disk *disks; /* one per vm->disks[i], same order */
  size_t n_disks;
  const char *disk_bus;           /* "virtio" (default), "sata", "scsi" */
  const char *network;            /* default libvirt network ("default") */
  const char *bridge;             /* if set, NICs join this bridge */
  const char *const *network_map; /* "Src Net:dst" or "Src Net:bridge=br0" */
  size_t n_network_map;
  uint64_t memory_mb_default; /* when the source says nothing (2048) */
  int vcpus_default;          /* when the source says nothing (2) */
  bool uefi_default;          /* when the source says nothing */
  const char *name;           /* domain name; NULL: the VM's name */
} h2k_domain_opts;

/* The domain XML (malloc'ed, UTF-8), valid for virt-xml-validate. */
char *h2k_domain_xml(const h2k_vm *vm, const h2k_domain_opts *opts,
                     h2k_error *err);

/* Define the domain through the libvirt C API at `uri`. Returns 0, or -1
 * with H2K_E_NOTIMPL when built without libvirt. */
int h2k_libvirt_define(const char *uri, const char *xml, h2k_error *err);

#endif
