/* OVF descriptor reader (OVF 1.x and 2.x envelopes, as written by vSphere,
 * ovftool, Workstation and Fusion). Pure parsing: only the .ovf itself is
 * read; referenced files are neither opened nor checked.
 *
 * XML is parsed with libxml2 without network access, without entity
 * substitution and without loading DTDs; a document with a DOCTYPE is
 * refused.
 *
 * Model produced:
 *  - the virtual system is chosen by vm_name (matched against <Name> and
 *    the VirtualSystem ovf:id); with several systems (a
 *    VirtualSystemCollection) and no name the call fails listing them;
 *  - disks (ResourceType 17) in VirtualHardwareSection order, boot_order
 *    1..n in that order; each carries its References/File: ovf_href,
 *    ovf_file_id, file_size, gzip, chunk_size/chunks, and its DiskSection
 *    entry: ovf_disk_id, capacity (bytes), ovf_format, stream_optimized and
 *    format ("vmdk", ...; NULL to probe). disk->path is the href joined to
 *    the directory of the .ovf. A disk without ovf:fileRef (a blank disk to
 *    create) has path NULL and a warning;
 *  - bus, controller number and unit come from rasd:Parent (the controller
 *    Item's InstanceID; its rasd:Address is the controller number) and
 *    rasd:AddressOnParent. Controller models use the VMX names: "lsilogic",
 *    "lsisas1068" (lsilogicsas), "pvscsi" (VirtualSCSI), "buslogic", "ahci",
 *    "ide", "nvme";
 *  - NICs (10): model lower-cased ("vmxnet3", "e1000", "e1000e", PCNet32 ->
 *    "vlance"), network from rasd:Connection, MAC from rasd:Address;
 *  - CD-ROMs (15, 16), with the ISO's path when HostResource names a File;
 *  - vcpus (3), vmw:CoresPerSocket, memory (4) with AllocationUnits,
 *    vmw:Config firmware / uefi.secureBoot.enabled, OperatingSystemSection
 *    (ovf_os_id, guest_os from vmw:osType or Description), Product,
 *    Annotation, hw_version from vssd:VirtualSystemType "vmx-NN".
 *
 * Errors are H2K_E_INPUT naming the file, the element and its line.
 */
#ifndef H2K_VM_OVF_H
#define H2K_VM_OVF_H

#include "vm/vm.h"

/* Read and parse an .ovf file (at most H2K_VM_DESCRIPTOR_MAX bytes). */
h2k_vm *h2k_ovf_parse_file(const char *path, const char *vm_name_or_null,
                           h2k_error *err);

/* Parse OVF XML of len bytes. hrefs are resolved against
 * dir_for_relative_paths (NULL: left as written). name_for_messages names
 * the input in errors and warnings. */
h2k_vm *h2k_ovf_parse_buffer(const char *xml, size_t len,
                             const char *dir_for_relative_paths,
                             const char *vm_name_or_null,
                             const char *name_for_messages, h2k_error *err);

#endif
