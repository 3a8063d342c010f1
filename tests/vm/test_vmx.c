/* VMX reader tests: one corpus file per quirk under tests/vm/data/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vm/vmx.h"

#define DATA H2K_VM_TESTDATA

static h2k_vm *load(const char *file) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", DATA, file);
  h2k_error err = {0};
  h2k_vm *vm = h2k_vmx_parse_file(path, &err);
  if (!vm)
    fail_msg("%s: %s", file, h2k_error_text(&err));
  return vm;
}

static void expect_failure(const char *file, int code, const char *needle) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", DATA, file);
  h2k_error err = {0};
  h2k_vm *vm = h2k_vmx_parse_file(path, &err);
  assert_null(vm);
  assert_int_equal(err.code, code);
  const char *text = h2k_error_text(&err);
  if (!strstr(text, needle))
    fail_msg("error \"%s\" lacks \"%s\"", text, needle);
  if (!strstr(text, file))
    fail_msg("error \"%s\" does not name the file", text);
}

/* A data-directory path. */
static const char *dp(const char *rel) {
  static char buf[4][4096];
  static int slot;
  slot = (slot + 1) % 4;
  snprintf(buf[slot], sizeof buf[slot], "%s/%s", DATA, rel);
  return buf[slot];
}

static bool has_warning(const h2k_vm *vm, const char *needle) {
  for (size_t i = 0; i < vm->n_warnings; i++)
    if (strstr(vm->warnings[i], needle))
      return true;
  return false;
}

#define assert_warning(vm, needle)                                             \
  do {                                                                         \
    if (!has_warning(vm, needle))                                              \
      fail_msg("no warning containing \"%s\"", needle);                        \
  } while (0)

static void assert_disk(const h2k_vm_disk *d, enum h2k_bus bus, int idx,
                        int unit, const char *path, const char *ctl) {
  assert_int_equal(d->bus, bus);
  assert_int_equal(d->bus_index, idx);
  assert_int_equal(d->unit, unit);
  assert_string_equal(d->path, path);
  assert_string_equal(d->format, "vmdk");
  if (ctl)
    assert_string_equal(d->controller, ctl);
  else
    assert_null(d->controller);
}

static void test_esx35(void **state) {
  (void)state;
  h2k_vm *vm = load("esx35-lsilogic.vmx");
  assert_string_equal(vm->name, "RHEL4");
  assert_string_equal(vm->uuid, "50115e16-9bdc-49d7-f171-53c4d7f91710");
  assert_int_equal(vm->memory_mb, 512);
  assert_int_equal(vm->vcpus, 1);
  assert_int_equal(vm->cores_per_socket, 0);
  assert_int_equal(vm->hw_version, 4);
  assert_int_equal(vm->firmware, H2K_FW_BIOS);
  assert_false(vm->secure_boot);
  assert_string_equal(vm->guest_os, "rhel4");
  assert_int_equal(vm->n_disks, 1);
  assert_disk(&vm->disks[0], H2K_BUS_SCSI, 0, 0, dp("RHEL4.vmdk"), "lsilogic");
  assert_string_equal(vm->disks[0].vmx_filename, "RHEL4.vmdk");
  assert_int_equal(vm->disks[0].boot_order, 1);
  assert_int_equal(vm->n_cdroms, 1);
  assert_int_equal(vm->cdroms[0].bus, H2K_BUS_IDE);
  assert_null(vm->cdroms[0].path); /* host drive, not an image */
  assert_int_equal(vm->n_nics, 1);
  assert_string_equal(vm->nics[0].mac, "00:50:56:91:48:c7");
  assert_string_equal(vm->nics[0].network, "VM Network");
  assert_null(vm->nics[0].model);
  assert_int_equal(vm->n_warnings, 0);
  h2k_vm_free(vm);
}

static void test_upper_case_keys(void **state) {
  (void)state;
  h2k_vm *vm = load("upper-case-keys.vmx");
  assert_string_equal(vm->name, "Windows 2003");
  assert_string_equal(vm->uuid, "564d9bef-acd9-b4e0-c8f0-aea8b9103515");
  assert_int_equal(vm->memory_mb, 1024);
  assert_int_equal(vm->vcpus, 2);
  assert_string_equal(vm->guest_os, "WINNETENTERPRISE");
  assert_int_equal(vm->n_disks, 1);
  /* file names keep their case */
  assert_disk(&vm->disks[0], H2K_BUS_SCSI, 0, 0, dp("Win2003-Disk1.vmdk"),
              "lsilogic");
  assert_int_equal(vm->n_nics, 1);
  assert_string_equal(vm->nics[0].mac, "00:0c:29:f5:c3:0c");
  assert_string_equal(vm->nics[0].model, "e1000");
  assert_string_equal(vm->nics[0].connection, "bridged");
  assert_int_equal(vm->firmware, H2K_FW_BIOS);
  h2k_vm_free(vm);
}

static void test_pipe_escapes(void **state) {
  (void)state;
  h2k_vm *vm = load("pipe-escapes.vmx");
  assert_string_equal(vm->name, "Web \"front\" | prod");
  assert_string_equal(vm->annotation, "Owner: ops\nTicket #123\nPath C:\\vms");
  assert_string_equal(vm->disks[0].path, dp("web front.vmdk"));
  assert_string_equal(vm->nics[0].network, "DMZ | 10.0.0.0/24");
  h2k_vm_free(vm);
}

static void test_pruned(void **state) {
  (void)state;
  h2k_vm *vm = load("pruned.vmx");
  assert_int_equal(vm->vcpus, 4);
  assert_int_equal(vm->cores_per_socket, 2);
  assert_int_equal(vm->memory_mb, 4096);
  /* scsi0:1 (unit absent) and scsi1:* (controller absent) are gone */
  assert_int_equal(vm->n_disks, 2);
  assert_disk(&vm->disks[0], H2K_BUS_SATA, 0, 1, dp("data.vmdk"), "ahci");
  assert_disk(&vm->disks[1], H2K_BUS_SCSI, 0, 0, dp("pruned.vmdk"), "pvscsi");
  assert_int_equal(vm->disks[0].boot_order, 1);
  assert_int_equal(vm->disks[1].boot_order, 2);
  assert_int_equal(vm->n_cdroms, 0);
  /* ethernet1 absent, but ethernet10 is not below it */
  assert_int_equal(vm->n_nics, 2);
  assert_string_equal(vm->nics[0].mac, "00:0c:29:aa:bb:01");
  assert_string_equal(vm->nics[0].model, "vmxnet3");
  assert_string_equal(vm->nics[1].mac, "00:0c:29:aa:bb:0a");
  h2k_vm_free(vm);
}

static void test_windows_1252(void **state) {
  (void)state;
  h2k_vm *vm = load("windows-1252.vmx");
  assert_string_equal(vm->name, "Caf\xc3\xa9 Serveur \xe2\x82\xac");
  assert_string_equal(vm->annotation, "Cr\xc3\xa9\xc3\xa9 par l'\xc3\xa9quipe");
  assert_string_equal(vm->disks[0].path, dp("Caf\xc3\xa9.vmdk"));
  assert_string_equal(vm->disks[0].controller, "lsisas1068");
  assert_string_equal(vm->nics[0].network, "R\xc3\xa9seau");
  assert_int_equal(vm->memory_mb, 3072);
  assert_int_equal(vm->n_warnings, 0); /* CRLF line ends are fine */
  h2k_vm_free(vm);
}

static void test_shift_jis(void **state) {
  (void)state;
  h2k_vm *vm = load("shift-jis.vmx");
  /* テスト表示: 表 is 0x95 0x5C in Shift_JIS, a '\' trail byte */
  assert_string_equal(vm->name, "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88"
                                "\xe8\xa1\xa8\xe7\xa4\xba");
  assert_int_equal(vm->n_disks, 1);
  assert_string_equal(vm->disks[0].path,
                      dp("\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88.vmdk"));
  assert_int_equal(vm->disks[0].bus, H2K_BUS_SATA);
  h2k_vm_free(vm);
}

static void test_undeclared_latin1(void **state) {
  (void)state;
  h2k_vm *vm = load("no-encoding-latin1.vmx");
  assert_string_equal(vm->name, "Jos\xc3\xa9");
  assert_warning(vm, "not valid UTF-8");
  h2k_vm_free(vm);
}

static void test_pvscsi_21_disks(void **state) {
  (void)state;
  h2k_vm *vm = load("pvscsi-21-disks.vmx");
  assert_string_equal(vm->name, "BZ1308535_21disks");
  assert_string_equal(vm->uuid, "42116b8d-1e5c-7f2a-0b33-9e51c4a0d27f");
  assert_int_equal(vm->n_disks, 21);
  /* scsi0: units 0-6, 8-15 (15 disks), then scsi1:0-5 */
  assert_disk(&vm->disks[0], H2K_BUS_SCSI, 0, 0, dp("BZ1308535_21disks.vmdk"),
              "pvscsi");
  assert_disk(&vm->disks[6], H2K_BUS_SCSI, 0, 6, dp("BZ1308535_21disks_6.vmdk"),
              "pvscsi");
  assert_disk(&vm->disks[7], H2K_BUS_SCSI, 0, 8, dp("BZ1308535_21disks_7.vmdk"),
              "pvscsi");
  assert_disk(&vm->disks[14], H2K_BUS_SCSI, 0, 15,
              dp("BZ1308535_21disks_14.vmdk"), "pvscsi");
  assert_disk(&vm->disks[15], H2K_BUS_SCSI, 1, 0,
              dp("BZ1308535_21disks_15.vmdk"), "pvscsi");
  assert_disk(&vm->disks[20], H2K_BUS_SCSI, 1, 5,
              dp("BZ1308535_21disks_20.vmdk"), "pvscsi");
  for (size_t i = 0; i < vm->n_disks; i++)
    assert_int_equal(vm->disks[i].boot_order, (int)i + 1);
  assert_int_equal(vm->n_cdroms, 1);
  assert_int_equal(vm->cdroms[0].bus, H2K_BUS_IDE);
  assert_int_equal(vm->cdroms[0].bus_index, 1);
  assert_int_equal(vm->cdroms[0].unit, 0);
  /* /vmfs path mapped beside the .vmx */
  assert_string_equal(vm->cdroms[0].path, dp("rhel-6.7-x86_64-dvd.iso"));
  assert_string_equal(vm->nics[0].model, "vmxnet3");
  h2k_vm_free(vm);
}

static void test_nvme(void **state) {
  (void)state;
  h2k_vm *vm = load("nvme.vmx");
  assert_int_equal(vm->firmware, H2K_FW_UEFI);
  assert_false(vm->secure_boot);
  assert_int_equal(vm->memory_mb, 4096);
  assert_int_equal(vm->hw_version, 14);
  assert_int_equal(vm->n_disks, 2);
  assert_disk(&vm->disks[0], H2K_BUS_NVME, 0, 0, dp("nvme-test.vmdk"), "nvme");
  assert_disk(&vm->disks[1], H2K_BUS_NVME, 0, 1, dp("nvme-test_1.vmdk"),
              "nvme");
  assert_string_equal(vm->nics[0].mac, "00:50:56:9c:0a:7b");
  h2k_vm_free(vm);
}

static void test_esx80_win11(void **state) {
  (void)state;
  h2k_vm *vm = load("esx80-win11.vmx");
  assert_string_equal(vm->name, "win11");
  assert_int_equal(vm->firmware, H2K_FW_UEFI);
  assert_true(vm->secure_boot);
  assert_int_equal(vm->vcpus, 4);
  assert_int_equal(vm->cores_per_socket, 2);
  assert_int_equal(vm->memory_mb, 8192);
  assert_int_equal(vm->hw_version, 20);
  assert_string_equal(vm->guest_os, "windows11-64");
  assert_string_equal(vm->uuid, "421a9c0e-517b-f813-2c3a-6e7f90abcdef");
  assert_int_equal(vm->n_disks, 2);
  assert_disk(&vm->disks[0], H2K_BUS_SCSI, 0, 0, dp("win11.vmdk"),
              "lsisas1068");
  assert_disk(&vm->disks[1], H2K_BUS_SCSI, 0, 1, dp("subfolder/win11_1.vmdk"),
              "lsisas1068");
  assert_string_equal(vm->disks[1].vmx_filename, "subfolder/win11_1.vmdk");
  assert_int_equal(vm->n_cdroms, 1);
  assert_int_equal(vm->cdroms[0].bus, H2K_BUS_SATA);
  assert_int_equal(vm->cdroms[0].unit, 0);
  assert_string_equal(vm->cdroms[0].controller, "ahci");
  assert_string_equal(vm->cdroms[0].path, dp("Win11_22H2_English_x64v1.iso"));
  assert_int_equal(vm->n_nics, 1);
  assert_string_equal(vm->nics[0].model, "e1000e");
  assert_string_equal(vm->nics[0].mac, "00:50:56:9a:5b:3c");
  assert_null(vm->nics[0].network);
  assert_string_equal(vm->boot_order_hint, "cdrom,hdd");
  h2k_vm_free(vm);
}

static void test_static_mac(void **state) {
  (void)state;
  h2k_vm *vm = load("ws-static-mac.vmx");
  assert_string_equal(vm->name, "Ubuntu 64-bit");
  assert_int_equal(vm->n_nics, 3);
  assert_string_equal(vm->nics[0].mac, "00:50:56:3f:ab:cd");
  assert_string_equal(vm->nics[0].connection, "nat");
  assert_string_equal(vm->nics[0].model, "e1000");
  assert_string_equal(vm->nics[1].mac, "00:0c:29:5e:a1:f0");
  assert_string_equal(vm->nics[1].model, "vmxnet3");
  assert_string_equal(vm->nics[1].connection, "bridged");
  assert_null(vm->nics[2].mac);
  assert_string_equal(vm->nics[2].model, "e1000e");
  assert_warning(vm, "not-a-mac");
  assert_int_equal(vm->n_cdroms, 1);
  assert_int_equal(vm->cdroms[0].bus, H2K_BUS_SATA);
  assert_int_equal(vm->cdroms[0].unit, 1);
  assert_null(vm->cdroms[0].path);
  assert_disk(&vm->disks[0], H2K_BUS_SCSI, 0, 0, dp("Ubuntu 64-bit.vmdk"),
              "lsilogic");
  h2k_vm_free(vm);
}

static void test_duplicate_keys(void **state) {
  (void)state;
  h2k_vm *vm = load("duplicate-keys.vmx");
  assert_string_equal(vm->name, "first-name");
  assert_int_equal(vm->memory_mb, 1024);
  assert_string_equal(vm->disks[0].path, dp("dup.vmdk"));
  assert_warning(vm, "line 7: duplicate key 'displayname'");
  assert_warning(vm, "line 8: duplicate key 'memsize'");
  assert_warning(vm, "line 13: duplicate key 'scsi0:0.filename'");
  h2k_vm_free(vm);
}

static void test_unquoted(void **state) {
  (void)state;
  h2k_vm *vm = load("unquoted.vmx");
  assert_int_equal(vm->memory_mb, 2048);
  assert_int_equal(vm->vcpus, 2);
  assert_int_equal(vm->hw_version, 11);
  assert_int_equal(vm->n_disks, 1);
  assert_disk(&vm->disks[0], H2K_BUS_SATA, 0, 0, dp("disk.vmdk"), "ahci");
  assert_warning(vm, "line 6: value of 'memsize' is not quoted");
  assert_warning(vm, "line 4: value of 'virtualHW.version' is not quoted");
  assert_warning(vm, "line 13: not a key = \"value\" line");
  h2k_vm_free(vm);
}

static void test_hdd_order(void **state) {
  (void)state;
  h2k_vm *vm = load("fusion-hddorder.vmx");
  assert_int_equal(vm->n_disks, 3);
  /* list order: IDE before SCSI */
  assert_disk(&vm->disks[0], H2K_BUS_IDE, 0, 0, dp("Legacy IDE.vmdk"), "ide");
  assert_disk(&vm->disks[1], H2K_BUS_SCSI, 0, 0, dp("Virtual Disk.vmdk"),
              "lsisas1068");
  /* Windows path: the base name beside the .vmx */
  assert_disk(&vm->disks[2], H2K_BUS_SCSI, 0, 1, dp("Boot Disk.vmdk"),
              "lsisas1068");
  /* bios.hddOrder = "scsi0:1,ide0:0" */
  assert_int_equal(vm->disks[2].boot_order, 1);
  assert_int_equal(vm->disks[0].boot_order, 2);
  assert_int_equal(vm->disks[1].boot_order, 3);
  assert_string_equal(vm->boot_order_hint, "hdd,cdrom");
  assert_int_equal(vm->n_cdroms, 1);
  /* absolute, not on VMFS and absent here: kept, with a warning */
  assert_string_equal(vm->cdroms[0].path, "/Users/me/Downloads/ubuntu.iso");
  assert_warning(vm, "/Users/me/Downloads/ubuntu.iso does not exist");
  h2k_vm_free(vm);
}

static void test_vmfs_paths(void **state) {
  (void)state;
  h2k_vm *vm = load("vmfs-paths.vmx");
  assert_int_equal(vm->n_disks, 3);
  assert_string_equal(vm->disks[0].path, dp("vmfs-paths.vmdk"));
  assert_string_equal(vm->disks[0].vmx_filename,
                      "/vmfs/volumes/datastore1/vmfs-paths/vmfs-paths.vmdk");
  assert_string_equal(vm->disks[1].path, dp("vmfs-paths_1.vmdk"));
  assert_string_equal(vm->disks[2].path, "/nonexistent/dir/elsewhere.vmdk");
  assert_warning(vm, "scsi-passthru");
  assert_warning(vm, "notes.txt");
  h2k_vm_free(vm);
}

static void test_vmdk_given_as_vmx(void **state) {
  (void)state;
  expect_failure("vmdk-descriptor.vmx", H2K_E_INPUT, "VMDK");
  expect_failure("vmdk-createtype.vmx", H2K_E_INPUT, "VMDK");
}

static void test_errors(void **state) {
  (void)state;
  expect_failure("bad-memsize.vmx", H2K_E_INPUT, "line 4: memsize = \"lots\"");
  expect_failure("bad-encoding.vmx", H2K_E_INPUT, "x-no-such-charset");
  expect_failure("does-not-exist.vmx", H2K_E_INPUT, "cannot open");
}

static void test_buffer(void **state) {
  (void)state;
  static const char text[] =
      "displayName = \"buf\"\n"
      "scsi0.present = \"TRUE\"\n"
      "scsi0:0.fileName = \"a/b.vmdk\"\n"
      "scsi0:1.fileName = \"/vmfs/volumes/ds/x/c.vmdk\"\n"
      "memsize = \"64\"\n";
  h2k_error err = {0};
  h2k_vm *vm =
      h2k_vmx_parse_buffer(text, sizeof text - 1, NULL, "mem.vmx", &err);
  assert_non_null(vm);
  assert_string_equal(vm->name, "buf");
  assert_int_equal(vm->n_disks, 2);
  assert_string_equal(vm->disks[0].path, "a/b.vmdk");
  /* without a directory nothing is checked or remapped */
  assert_string_equal(vm->disks[1].path, "/vmfs/volumes/ds/x/c.vmdk");
  h2k_vm_free(vm);

  /* no displayName: the base name of the input */
  static const char anon[] = "memsize = \"64\"\n";
  vm = h2k_vmx_parse_buffer(anon, sizeof anon - 1, NULL, "/x/My VM.vmx", &err);
  assert_non_null(vm);
  assert_string_equal(vm->name, "My VM");
  h2k_vm_free(vm);

  /* binary data */
  static const char bin[] = "KDMV\0\0\0\1";
  vm = h2k_vmx_parse_buffer(bin, sizeof bin - 1, NULL, "disk.vmx", &err);
  assert_null(vm);
  assert_int_equal(err.code, H2K_E_INPUT);
  static const char nul[] = "memsize = \"64\"\n\0\0";
  vm = h2k_vmx_parse_buffer(nul, sizeof nul - 1, NULL, "nul.vmx", &err);
  assert_null(vm);
  assert_non_null(strstr(err.message, "NUL"));
}

static void test_model_helpers(void **state) {
  (void)state;
  assert_string_equal(h2k_bus_name(H2K_BUS_SCSI), "scsi");
  assert_string_equal(h2k_bus_name(H2K_BUS_NVME), "nvme");
  assert_string_equal(h2k_bus_name((enum h2k_bus)99), "unknown");
  assert_string_equal(h2k_firmware_name(H2K_FW_UEFI), "uefi");
  assert_string_equal(h2k_firmware_name(H2K_FW_BIOS), "bios");
  h2k_vm *vm = h2k_vm_new();
  assert_non_null(vm);
  for (int i = 0; i < 40; i++)
    assert_non_null(h2k_vm_add_disk(vm));
  assert_int_equal(vm->n_disks, 40);
  assert_int_equal(vm->disks[39].unit, 0);
  for (int i = 0; i < H2K_VM_MAX_WARNINGS + 10; i++)
    assert_int_equal(h2k_vm_add_warning(vm, "w%d", i), 0);
  assert_int_equal(vm->n_warnings, H2K_VM_MAX_WARNINGS + 1);
  assert_string_equal(vm->warnings[H2K_VM_MAX_WARNINGS],
                      "further warnings suppressed");
  h2k_vm_free(vm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_esx35),
      cmocka_unit_test(test_upper_case_keys),
      cmocka_unit_test(test_pipe_escapes),
      cmocka_unit_test(test_pruned),
      cmocka_unit_test(test_windows_1252),
      cmocka_unit_test(test_shift_jis),
      cmocka_unit_test(test_undeclared_latin1),
      cmocka_unit_test(test_pvscsi_21_disks),
      cmocka_unit_test(test_nvme),
      cmocka_unit_test(test_esx80_win11),
      cmocka_unit_test(test_static_mac),
      cmocka_unit_test(test_duplicate_keys),
      cmocka_unit_test(test_unquoted),
      cmocka_unit_test(test_hdd_order),
      cmocka_unit_test(test_vmfs_paths),
      cmocka_unit_test(test_vmdk_given_as_vmx),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_buffer),
      cmocka_unit_test(test_model_helpers),
  };
  return cmocka_run_group_tests_name("vmx", tests, NULL, NULL);
}
