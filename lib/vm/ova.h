/* OVA archives and disk tarballs, read in place.
 *
 * An OVA is a tar holding an .ovf descriptor, disks and optionally an .mf
 * manifest. Uncompressed members are never extracted: each disk of the
 * returned VM model points at the archive with a byte range
 * (h2k_vm_disk.range_offset / range_length), which the image engine reads
 * through a file view. Only gzip-compressed members (ovf:compression="gzip")
 * are unpacked, streamed into `unpack_dir`. */
#ifndef H2K_VM_OVA_H
#define H2K_VM_OVA_H

#include <stdbool.h>

#include "vm/vm.h"

typedef struct h2k_ova_opts {
  const char *vm_name;    /* select a VM of a multi-VM OVF, or NULL */
  const char *unpack_dir; /* where compressed members are unpacked (exists,
                             private); NULL: refuse compressed members */
  bool verify_manifest;   /* false: skip, with a warning in vm->warnings */
} h2k_ova_opts;

/* `path` is an .ova tar file, or a directory holding an extracted OVA.
 * Sets vm->manifest ("verified", "skipped", "absent"). */
h2k_vm *h2k_ova_open(const char *path, const h2k_ova_opts *opts,
                     h2k_error *err);

/* A disk image, or a tar / tar.gz / tar.xz holding one (one nested tar level
 * allowed), as for the vhd, raw and ami commands. Returns a one-disk VM
 * model; uncompressed tars are read in place (byte range), compressed ones
 * unpacked into `unpack_dir` with the same path rules as OVA. A plain disk
 * file yields a model whose disk is the file itself. */
h2k_vm *h2k_tarball_open(const char *path, const char *unpack_dir,
                         h2k_error *err);

#endif
