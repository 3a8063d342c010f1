/* OVF reader tests: descriptors modelled on vSphere / ovftool exports under
 * tests/vm/data/, plus malformed ones that must fail clearly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vm/ovf.h"

#define DATA H2K_VM_TESTDATA
#define GiB ((uint64_t)1 << 30)

static h2k_vm *load(const char *file, const char *vm_name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", DATA, file);
  h2k_error err = {0};
  h2k_vm *vm = h2k_ovf_parse_file(path, vm_name, &err);
  if (!vm)
    fail_msg("%s: %s", file, h2k_error_text(&err));
  return vm;
}

/* Parse must fail with H2K_E_INPUT, naming the file and each needle. */
static void expect_failure(const char *file, const char *vm_name,
                           const char *needle1, const char *needle2) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", DATA, file);
  h2k_error err = {0};
  h2k_vm *vm = h2k_ovf_parse_file(path, vm_name, &err);
  assert_null(vm);
  assert_int_equal(err.code, H2K_E_INPUT);
  const char *text = h2k_error_text(&err);
  const char *needles[] = {file, needle1, needle2};
  for (size_t i = 0; i < 3; i++)
    if (needles[i] && !strstr(text, needles[i]))
      fail_msg("error \"%s\" lacks \"%s\"", text, needles[i]);
}

static const char *dp(const char *rel) {
  static char buf[4][4096];
  static int slot;
  slot = (slot + 1) % 4;
  snprintf(buf[slot], sizeof buf[slot], "%s/%s", DATA, rel);
  return buf[slot];
}

static void test_lsilogicsas_e1000(void **state) {
  (void)state;
  h2k_vm *vm = load("vsphere-win2k8r2-lsilogicsas.ovf", NULL);
  assert_string_equal(vm->name, "2K8R2EESP1_2_Medium");
  assert_int_equal(vm->vcpus, 2);
  assert_int_equal(vm->cores_per_socket, 1);
  assert_int_equal(vm->memory_mb, 4096);
  assert_int_equal(vm->firmware, H2K_FW_BIOS);
  assert_false(vm->secure_boot);
  assert_int_equal(vm->hw_version, 8);
  assert_int_equal(vm->ovf_os_id, 103);
  assert_string_equal(vm->guest_os, "windows7Server64Guest");
  assert_string_equal(vm->annotation,
                      "Windows Server 2008 R2 Enterprise SP1 & IIS");
  assert_int_equal(vm->n_disks, 1);
  const h2k_vm_disk *d = &vm->disks[0];
  assert_string_equal(d->path, dp("2K8R2EESP1_2_Medium-disk1.vmdk"));
  assert_string_equal(d->ovf_href, "2K8R2EESP1_2_Medium-disk1.vmdk");
  assert_string_equal(d->ovf_file_id, "file1");
  assert_string_equal(d->ovf_disk_id, "vmdisk1");
  assert_string_equal(d->format, "vmdk");
  assert_true(d->stream_optimized);
  assert_false(d->gzip);
  assert_int_equal(d->capacity, 40 * GiB);
  assert_int_equal(d->file_size, 3873316352ULL);
  assert_int_equal(d->n_chunks, 0);
  assert_int_equal(d->bus, H2K_BUS_SCSI);
  assert_int_equal(d->bus_index, 0);
  assert_int_equal(d->unit, 0);
  assert_string_equal(d->controller, "lsisas1068");
  assert_int_equal(d->boot_order, 1);
  assert_int_equal(vm->n_cdroms, 1);
  assert_int_equal(vm->cdroms[0].bus, H2K_BUS_IDE);
  assert_int_equal(vm->cdroms[0].bus_index, 1); /* rasd:Address of IDE 1 */
  assert_null(vm->cdroms[0].path);
  assert_int_equal(vm->n_nics, 1);
  assert_string_equal(vm->nics[0].model, "e1000");
  assert_string_equal(vm->nics[0].network, "PG-VLAN60");
  assert_null(vm->nics[0].mac);
  assert_int_equal(vm->n_warnings, 0);
  h2k_vm_free(vm);
}

static void test_efi_pvscsi_two_disks(void **state) {
  (void)state;
  h2k_vm *vm = load("vsphere-rhel9-efi-pvscsi.ovf", NULL);
  assert_string_equal(vm->name, "rhel9-web");
  assert_int_equal(vm->firmware, H2K_FW_UEFI);
  assert_true(vm->secure_boot);
  assert_int_equal(vm->vcpus, 8);
  assert_int_equal(vm->cores_per_socket, 4);
  assert_int_equal(vm->memory_mb, 16384);
  assert_int_equal(vm->hw_version, 19);
  assert_string_equal(vm->guest_os, "rhel9_64Guest");
  assert_string_equal(vm->product, "Web frontend");
  assert_string_equal(vm->product_vendor, "Example Corp");
  assert_string_equal(vm->product_version, "2.4.1");
  assert_int_equal(vm->n_disks, 2);
  assert_string_equal(vm->disks[0].path, dp("rhel9-web-1.vmdk"));
  assert_string_equal(vm->disks[0].controller, "pvscsi");
  assert_int_equal(vm->disks[0].capacity, 32 * GiB);
  assert_int_equal(vm->disks[0].unit, 0);
  assert_int_equal(vm->disks[0].boot_order, 1);
  assert_string_equal(vm->disks[1].path, dp("rhel9-web-2.vmdk"));
  assert_string_equal(vm->disks[1].ovf_disk_id, "vmdisk2");
  assert_int_equal(vm->disks[1].capacity, 107374182400ULL);
  assert_int_equal(vm->disks[1].unit, 1);
  assert_int_equal(vm->disks[1].boot_order, 2);
  assert_int_equal(vm->n_cdroms, 1);
  assert_int_equal(vm->cdroms[0].bus, H2K_BUS_SATA);
  assert_string_equal(vm->cdroms[0].controller, "ahci");
  assert_string_equal(vm->cdroms[0].path, dp("rhel9-web-3.iso"));
  assert_int_equal(vm->n_nics, 1);
  assert_string_equal(vm->nics[0].model, "vmxnet3");
  assert_string_equal(vm->nics[0].mac, "00:50:56:ac:3e:7f");
  assert_string_equal(vm->nics[0].network, "DPortGroup-Prod");
  h2k_vm_free(vm);
}

static void test_chunked_gzip(void **state) {
  (void)state;
  h2k_vm *vm = load("ovftool-chunked-gzip.ovf", NULL);
  assert_string_equal(vm->name, "big");
  assert_int_equal(vm->memory_mb, 2048); /* 2 GigaBytes */
  assert_int_equal(vm->n_disks, 2);
  const h2k_vm_disk *d = &vm->disks[0];
  assert_true(d->gzip);
  assert_int_equal(d->chunk_size, 4 * GiB);
  assert_int_equal(d->file_size, 9 * GiB);
  assert_int_equal(d->capacity, 200 * GiB);
  /* 9 GiB in 4 GiB chunks: 3 files */
  assert_int_equal(d->n_chunks, 3);
  assert_string_equal(d->chunks[0], dp("big-disk1.vmdk.000000000"));
  assert_string_equal(d->chunks[1], dp("big-disk1.vmdk.000000001"));
  assert_string_equal(d->chunks[2], dp("big-disk1.vmdk.000000002"));
  assert_string_equal(d->path, dp("big-disk1.vmdk"));
  d = &vm->disks[1];
  assert_true(d->gzip);
  assert_int_equal(d->n_chunks, 0);
  assert_string_equal(d->path, dp("disks/big-disk2.vmdk"));
  assert_int_equal(d->capacity, 1 * GiB);
  assert_string_equal(vm->nics[0].model, "vlance");
  assert_string_equal(vm->nics[0].network, "bridged");
  h2k_vm_free(vm);
}

static void test_ovf2_namespace(void **state) {
  (void)state;
  h2k_vm *vm = load("ovf2-storageitem.ovf", NULL);
  assert_string_equal(vm->name, "appliance");
  assert_int_equal(vm->firmware, H2K_FW_UEFI);
  assert_int_equal(vm->vcpus, 2);
  assert_int_equal(vm->memory_mb, 3072);
  assert_int_equal(vm->hw_version, 13);
  assert_int_equal(vm->ovf_os_id, 36);
  assert_string_equal(vm->guest_os, "Linux 64-Bit");
  assert_string_equal(vm->annotation, "OVF 2.0 appliance");
  assert_int_equal(vm->n_disks, 1);
  const h2k_vm_disk *d = &vm->disks[0];
  assert_int_equal(d->bus, H2K_BUS_NVME);
  assert_string_equal(d->controller, "nvme");
  assert_int_equal(d->capacity, 20 * GiB);
  assert_false(d->stream_optimized);
  assert_string_equal(d->format, "vmdk");
  assert_string_equal(d->ovf_disk_id, "root");
  assert_int_equal(vm->n_nics, 1);
  assert_string_equal(vm->nics[0].mac, "52:54:00:12:34:56");
  assert_string_equal(vm->nics[0].model, "vmxnet3");
  assert_string_equal(vm->nics[0].network, "mgmt");
  h2k_vm_free(vm);
}

static void test_collection(void **state) {
  (void)state;
  expect_failure("vapp-two-vms.ovf", NULL, "2 virtual systems",
                 "\"web\", \"db\"");
  expect_failure("vapp-two-vms.ovf", "cache",
                 "no virtual system named "
                 "\"cache\"",
                 "\"web\", \"db\"");
  h2k_vm *vm = load("vapp-two-vms.ovf", "db");
  assert_string_equal(vm->name, "db");
  assert_int_equal(vm->vcpus, 4);
  assert_int_equal(vm->memory_mb, 8192);
  assert_string_equal(vm->guest_os, "rhel8_64Guest");
  assert_int_equal(vm->n_disks, 1);
  assert_string_equal(vm->disks[0].path, dp("db-disk1.vmdk"));
  assert_int_equal(vm->disks[0].capacity, 80 * GiB);
  assert_string_equal(vm->nics[0].mac, "00:50:56:01:00:02");
  assert_string_equal(vm->nics[0].network, "backend");
  h2k_vm_free(vm);
  vm = load("vapp-two-vms.ovf", "web");
  assert_string_equal(vm->name, "web");
  assert_int_equal(vm->vcpus, 2);
  assert_string_equal(vm->disks[0].path, dp("web-disk1.vmdk"));
  assert_int_equal(vm->disks[0].capacity, 20 * GiB);
  h2k_vm_free(vm);
}

static void test_errors(void **state) {
  (void)state;
  expect_failure("err-malformed.ovf", NULL, "malformed XML at line 13", "Nmae");
  expect_failure("err-truncated.ovf", NULL, "malformed XML", NULL);
  expect_failure("err-missing-disk.ovf", NULL, "<Item> at line 23",
                 "\"ovf:/disk/vmdisk9\" names no Disk");
  expect_failure("err-unknown-fileref.ovf", NULL, "<Disk> at line 9",
                 "\"file9\" of disk \"vmdisk1\" names no File");
  expect_failure("err-href-escape.ovf", NULL, "../../etc/shadow",
                 "leaves the package");
  expect_failure("err-bad-capacity.ovf", NULL, "furlongs", NULL);
  expect_failure("err-doctype.ovf", NULL, "DOCTYPE", NULL);
  expect_failure("err-ovf09-namespace.ovf", NULL, "not OVF 1.x", NULL);
  expect_failure("missing.ovf", NULL, "cannot open", NULL);
}

static h2k_vm *parse_text(const char *xml, h2k_error *err) {
  return h2k_ovf_parse_buffer(xml, strlen(xml), NULL, NULL, "inline.ovf", err);
}

#define ENVELOPE_OPEN                                                          \
  "<Envelope xmlns='http://schemas.dmtf.org/ovf/envelope/1' "                  \
  "xmlns:ovf='http://schemas.dmtf.org/ovf/envelope/1' "                        \
  "xmlns:rasd='http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"             \
  "CIM_ResourceAllocationSettingData'>"

static void test_buffer(void **state) {
  (void)state;
  h2k_error err = {0};
  /* chunked file, no directory: chunk names stay relative */
  h2k_vm *vm = parse_text(
      ENVELOPE_OPEN
      "<References><File ovf:id='f' ovf:href='d.vmdk' ovf:size='10' "
      "ovf:chunkSize='5'/></References>"
      "<DiskSection><Disk ovf:diskId='d' ovf:fileRef='f' ovf:capacity='3' "
      "ovf:capacityAllocationUnits='byte * 2^20'/></DiskSection>"
      "<VirtualSystem ovf:id='only'><VirtualHardwareSection>"
      "<Item><rasd:InstanceID>1</rasd:InstanceID>"
      "<rasd:ResourceType>4</rasd:ResourceType>"
      "<rasd:VirtualQuantity>512</rasd:VirtualQuantity></Item>"
      "<Item><rasd:HostResource>ovf:/disk/d</rasd:HostResource>"
      "<rasd:InstanceID>2</rasd:InstanceID>"
      "<rasd:ResourceType>17</rasd:ResourceType></Item>"
      "</VirtualHardwareSection></VirtualSystem></Envelope>",
      &err);
  if (!vm)
    fail_msg("%s", h2k_error_text(&err));
  assert_string_equal(vm->name, "only"); /* ovf:id when no <Name> */
  assert_int_equal(vm->memory_mb, 512);
  assert_int_equal(vm->vcpus, 0);
  assert_int_equal(vm->disks[0].n_chunks, 2);
  assert_string_equal(vm->disks[0].chunks[1], "d.vmdk.000000001");
  assert_int_equal(vm->disks[0].capacity, 3u << 20);
  assert_int_equal(vm->disks[0].bus, H2K_BUS_UNKNOWN);
  assert_null(vm->disks[0].format);
  assert_true(strstr(vm->warnings[0], "no AllocationUnits") != NULL);
  h2k_vm_free(vm);

  /* remote hrefs and unknown compression are refused */
  vm = parse_text(ENVELOPE_OPEN
                  "<References><File ovf:id='f' "
                  "ovf:href='http://evil/x.vmdk'/></References>"
                  "<VirtualSystem ovf:id='v'><VirtualHardwareSection>"
                  "<Item><rasd:HostResource>ovf:/file/f</rasd:HostResource>"
                  "<rasd:InstanceID>2</rasd:InstanceID>"
                  "<rasd:ResourceType>17</rasd:ResourceType></Item>"
                  "</VirtualHardwareSection></VirtualSystem></Envelope>",
                  &err);
  assert_null(vm);
  assert_non_null(strstr(err.message, "is a URL"));
  vm = parse_text(ENVELOPE_OPEN
                  "<References><File ovf:id='f' ovf:href='x.vmdk' "
                  "ovf:compression='bzip2'/></References>"
                  "<VirtualSystem ovf:id='v'><VirtualHardwareSection>"
                  "<Item><rasd:HostResource>ovf:/file/f</rasd:HostResource>"
                  "<rasd:InstanceID>2</rasd:InstanceID>"
                  "<rasd:ResourceType>17</rasd:ResourceType></Item>"
                  "</VirtualHardwareSection></VirtualSystem></Envelope>",
                  &err);
  assert_null(vm);
  assert_non_null(strstr(err.message, "bzip2"));
  /* chunked without a size */
  vm = parse_text(ENVELOPE_OPEN
                  "<References><File ovf:id='f' ovf:href='x.vmdk' "
                  "ovf:chunkSize='100'/></References>"
                  "<VirtualSystem ovf:id='v'><VirtualHardwareSection>"
                  "<Item><rasd:HostResource>ovf:/file/f</rasd:HostResource>"
                  "<rasd:InstanceID>2</rasd:InstanceID>"
                  "<rasd:ResourceType>17</rasd:ResourceType></Item>"
                  "</VirtualHardwareSection></VirtualSystem></Envelope>",
                  &err);
  assert_null(vm);
  assert_non_null(strstr(err.message, "without ovf:size"));
  /* no virtual system at all */
  vm = parse_text(ENVELOPE_OPEN "</Envelope>", &err);
  assert_null(vm);
  assert_non_null(strstr(err.message, "no VirtualSystem"));
  /* not XML */
  vm = parse_text("# Disk DescriptorFile\nversion=1\n", &err);
  assert_null(vm);
  assert_int_equal(err.code, H2K_E_INPUT);
  assert_non_null(strstr(err.message, "malformed XML"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lsilogicsas_e1000),
      cmocka_unit_test(test_efi_pvscsi_two_disks),
      cmocka_unit_test(test_chunked_gzip),
      cmocka_unit_test(test_ovf2_namespace),
      cmocka_unit_test(test_collection),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_buffer),
  };
  return cmocka_run_group_tests_name("ovf", tests, NULL, NULL);
}
