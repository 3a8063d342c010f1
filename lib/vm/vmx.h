/* VMware .vmx reader: fills the VM model from a VMX configuration file.
 *
 * Format notes (VMX is unspecified; the rules follow real ESX, Workstation
 * and Fusion files):
 *  - one `key = "value"` per line; '#' comments and blank lines skipped;
 *    an unquoted value is accepted with a warning naming the line;
 *  - keys are case-insensitive, values (file names) keep their case;
 *  - `|XX` in values is a hex-escaped byte (|22 = '"', |7C = '|');
 *  - `.encoding` other than UTF-8 converts the text with iconv first;
 *  - `X.present = "FALSE"` removes X and every key below it
 *    (X.*, and X:*, so scsi1.present=FALSE also drops scsi1:0.*);
 *  - a duplicate key keeps the first value, with a warning.
 *
 * Model produced:
 *  - disks in VMware's BIOS order: IDE, SATA, SCSI, NVMe, each by
 *    controller number then unit; boot_order 1..n in that order unless
 *    bios.hddOrder ("scsi0:1,scsi0:0") names disks first. bios.bootOrder is
 *    kept as written in vm->boot_order_hint;
 *  - disk->path is fileName resolved against the .vmx directory; an absolute
 *    path that does not exist (e.g. /vmfs/volumes/ds/vm/x.vmdk, C:\VMs\x.vmdk
 *    or "[ds] vm/x.vmdk") becomes the same base name beside the .vmx, with a
 *    warning. disk->controller: SCSI virtualDev ("lsilogic", "buslogic",
 *    "lsisas1068", "pvscsi"; NULL when absent), "ahci", "ide", "nvme";
 *  - CD-ROMs: deviceType cdrom-image / atapi-cdrom / cdrom-raw, or a
 *    fileName ending .iso; path set for images only;
 *  - NICs from ethernetN; firmware, memory, CPUs, name, uuid.bios (as a
 *    canonical lower-case UUID), guestOS, annotation, virtualHW.version.
 *
 * Warnings (non-fatal findings) are returned in vm->warnings. Errors are
 * H2K_E_INPUT naming the file and, where it applies, the line and key.
 */
#ifndef H2K_VM_VMX_H
#define H2K_VM_VMX_H

#include "vm/vm.h"

/* Read and parse a .vmx file (at most H2K_VM_DESCRIPTOR_MAX bytes). */
h2k_vm *h2k_vmx_parse_file(const char *path, h2k_error *err);

/* Parse VMX text of len bytes. Relative file names are resolved against
 * dir_for_relative_paths (NULL: left relative, and no existence checks).
 * name_for_messages names the input in errors and warnings, and the VM when
 * displayName is missing (its base name without ".vmx"). */
h2k_vm *h2k_vmx_parse_buffer(const char *text, size_t len,
                             const char *dir_for_relative_paths,
                             const char *name_for_messages, h2k_error *err);

#endif
