/* The VM model: what a source says about a machine. Every input (VMX, OVF,
 * a bare disk) fills it; every output (domain.xml, metadata.json) reads it. */
#ifndef H2K_VM_VM_H
#define H2K_VM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

enum h2k_firmware { H2K_FW_UNKNOWN = 0, H2K_FW_BIOS, H2K_FW_UEFI };

enum h2k_bus {
  H2K_BUS_UNKNOWN = 0,
  H2K_BUS_IDE,
  H2K_BUS_SATA,
  H2K_BUS_SCSI,
  H2K_BUS_NVME,
  H2K_BUS_VIRTIO,
};

typedef struct h2k_vm_disk {
  char *path;   /* resolved local path of the disk (or descriptor) */
  char *format; /* format hint ("vmdk", "vpc", ...) or NULL to probe */
  /* range_offset > 0 or range_length > 0: the disk is a byte range of path */
  uint64_t range_offset;
  uint64_t range_length;
  char *controller; /* source controller model: "pvscsi", "lsilogic", ... */
  enum h2k_bus bus;
  int bus_index;     /* controller number (scsi0 -> 0) */
  int unit;          /* unit on the controller */
  int boot_order;    /* 1-based, 0 = none */
  uint64_t capacity; /* bytes declared by the description, 0 if unknown */

  /* Where the description found the disk (filled by the VMX / OVF readers;
   * all strings owned by the disk, NULL when not applicable). */
  char *vmx_filename;    /* VMX: the fileName value exactly as written */
  char *ovf_href;        /* OVF: References/File ovf:href as written */
  char *ovf_file_id;     /* OVF: File ovf:id */
  char *ovf_disk_id;     /* OVF: DiskSection ovf:diskId */
  char *ovf_format;      /* OVF: Disk ovf:format URL as written */
  bool stream_optimized; /* OVF format says VMDK streamOptimized */
  bool gzip;          /* OVF ovf:compression="gzip": file(s) are gzip streams */
  uint64_t file_size; /* OVF File ovf:size in bytes (whole file), 0 unknown */
  /* OVF ovf:chunkSize > 0: the file is split into n_chunks pieces named
   * "<href>.000000000", "<href>.000000001", ... resolved like `path`; the
   * disk is their concatenation in order and `path` names the (absent)
   * whole. n_chunks == 0 means one file at `path`. */
  uint64_t chunk_size;
  char **chunks;
  size_t n_chunks;
} h2k_vm_disk;

typedef struct h2k_vm_nic {
  char *mac;        /* "00:50:56:aa:bb:cc" lower case, or NULL */
  char *model;      /* source model: "vmxnet3", "e1000e", ... */
  char *network;    /* source network name ("VM Network") or NULL */
  char *connection; /* VMX connectionType ("bridged", "nat", ...) or NULL */
} h2k_vm_nic;

typedef struct h2k_vm_cdrom {
  char *path; /* ISO or NULL */
  enum h2k_bus bus;
  int bus_index;
  int unit;
  char *controller; /* source controller model, as for disks, or NULL */
} h2k_vm_cdrom;

typedef struct h2k_vm {
  char *name;
  char *uuid; /* "xxxxxxxx-xxxx-..." or NULL */
  enum h2k_firmware firmware;
  bool secure_boot;
  int vcpus;            /* 0 = unknown */
  int cores_per_socket; /* 0 = unknown */
  uint64_t memory_mb;   /* 0 = unknown */
  char *guest_os;       /* source hint ("debian12-64", "rhel9_64Guest") */
  char *annotation;

  h2k_vm_disk *disks;
  size_t n_disks;
  h2k_vm_nic *nics;
  size_t n_nics;
  h2k_vm_cdrom *cdroms;
  size_t n_cdroms;

  char *manifest; /* OVA .mf result: "verified", "skipped", "absent" or NULL */
  char *source_path;     /* descriptor read (or the name used in messages) */
  int hw_version;        /* VMX virtualHW.version / OVF vmx-NN, 0 unknown */
  char *boot_order_hint; /* VMX bios.bootOrder as written ("hdd,cdrom") */
  int ovf_os_id;         /* OVF OperatingSystemSection ovf:id, 0 unknown */
  char *product;         /* OVF ProductSection Product / Vendor / Version */
  char *product_vendor;
  char *product_version;

  /* Non-fatal findings of the reader ("line 12: unquoted value ..."), in
   * the order met; at most H2K_VM_MAX_WARNINGS (then one "more" entry). */
  char **warnings;
  size_t n_warnings;
} h2k_vm;

/* Limits shared by the descriptor readers. */
#define H2K_VM_DESCRIPTOR_MAX ((size_t)16 << 20) /* VMX / OVF file size */
#define H2K_VM_MAX_WARNINGS 100

h2k_vm *h2k_vm_new(void);
void h2k_vm_free(h2k_vm *vm);
/* Append a zeroed disk/NIC/CD-ROM and return it (NULL on OOM). */
h2k_vm_disk *h2k_vm_add_disk(h2k_vm *vm);
h2k_vm_nic *h2k_vm_add_nic(h2k_vm *vm);
h2k_vm_cdrom *h2k_vm_add_cdrom(h2k_vm *vm);

/* "ide", "sata", "scsi", "nvme", "virtio" or "unknown". */
const char *h2k_bus_name(enum h2k_bus bus);
/* "bios", "uefi" or "unknown". */
const char *h2k_firmware_name(enum h2k_firmware fw);

/* Append a formatted warning to vm->warnings (capped, see above).
 * Returns 0, or -1 when out of memory. */
int h2k_vm_add_warning(h2k_vm *vm, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- helpers for the descriptor readers ---- */

/* Read a whole regular file of at most max_bytes into a NUL-terminated
 * buffer (*text, caller frees; *len excludes the NUL). H2K_E_INPUT when
 * missing, unreadable, not a regular file or too large. */
int h2k_vm_read_descriptor(const char *path, size_t max_bytes, char **text,
                           size_t *len, h2k_error *err);

#endif
