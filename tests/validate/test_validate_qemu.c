/* qemu_args.c and report.c: the validation boot's command line (safety
 * options, the domain.xml device layout, firmware), MAC, resources, OVMF
 * discovery, and the report's `validation` object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "core/fsutil.h"
#include "core/util.h"
#include "validate/validate.h"

static const char *const DISKS[] = {"/job/validate/overlay-disk0.qcow2",
                                    "/job/validate/overlay-disk1.qcow2"};

static h2k_qemu_plan bios_plan(void) {
  h2k_qemu_plan p = {
      .qemu = "/usr/bin/qemu-system-x86_64",
      .name = "web01",
      .kvm = false,
      .vcpus = 1,
      .memory_mb = 1024,
      .disks = DISKS,
      .n_disks = 2,
      .mac = "52:54:00:aa:bb:cc",
      .serial_log = "/job/validate/serial.log",
      .pcap = "/job/validate/net.pcap",
  };
  return p;
}

/* Index of `s` in argv, or -1. */
static int find(char **argv, const char *s) {
  for (int i = 0; argv[i]; i++)
    if (strcmp(argv[i], s) == 0)
      return i;
  return -1;
}

/* Index of the first argument containing `sub`, or -1. */
static int find_sub(char **argv, const char *sub) {
  for (int i = 0; argv[i]; i++)
    if (strstr(argv[i], sub))
      return i;
  return -1;
}

/* The value after option `opt` (first occurrence). */
static const char *opt(char **argv, const char *o) {
  int i = find(argv, o);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : "";
}

static void test_safety_options(void **state) {
  (void)state;
  h2k_qemu_plan p = bios_plan();
  char **a = h2k_qemu_argv(&p);
  assert_non_null(a);
  assert_string_equal(a[0], "/usr/bin/qemu-system-x86_64");
  assert_true(find(a, "-no-user-config") > 0);
  assert_true(find(a, "-nodefaults") > 0);
  assert_true(find(a, "-no-reboot") > 0);
  assert_string_equal(opt(a, "-display"), "none");
  assert_string_equal(opt(a, "-netdev"), "user,id=n0,restrict=on");
  assert_int_equal(find_sub(a, "hostfwd"), -1);
  assert_int_equal(find_sub(a, "guestfwd"), -1);
  assert_int_equal(find_sub(a, "smb"), -1);
  assert_int_equal(find(a, "-monitor"), -1);
  assert_int_equal(find(a, "-vnc"), -1);
  assert_string_equal(
      opt(a, "-object"),
      "filter-dump,id=f0,netdev=n0,file=/job/validate/net.pcap");
  assert_string_equal(opt(a, "-serial"), "chardev:s0");
  assert_string_equal(opt(a, "-chardev"),
                      "file,id=s0,path=/job/validate/serial.log");
  assert_string_equal(opt(a, "-machine"), "q35");
  assert_string_equal(opt(a, "-accel"), "tcg");
  assert_string_equal(opt(a, "-cpu"), "max");
  assert_string_equal(opt(a, "-smp"), "1");
  assert_string_equal(opt(a, "-m"), "1024");
  assert_string_equal(opt(a, "-name"), "h2k-validate-web01");
  assert_int_equal(find_sub(a, "pflash"), -1); /* BIOS: SeaBIOS */
  h2k_strv_free(a);
  p.kvm = true;
  p.vcpus = 4;
  a = h2k_qemu_argv(&p);
  assert_string_equal(opt(a, "-accel"), "kvm");
  assert_string_equal(opt(a, "-cpu"), "host");
  assert_string_equal(opt(a, "-smp"), "4");
  h2k_strv_free(a);
}

static void test_device_layout(void **state) {
  (void)state;
  h2k_qemu_plan p = bios_plan();
  char **a = h2k_qemu_argv(&p);
  /* one root port per device: NIC + 2 disks, libvirt's addresses */
  int rp1 = find(a, "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,port=0x10,"
                    "addr=0x2.0x0,multifunction=on");
  int rp2 = find(a, "pcie-root-port,id=rp2,bus=pcie.0,chassis=2,port=0x11,"
                    "addr=0x2.0x1");
  int rp3 = find(a, "pcie-root-port,id=rp3,bus=pcie.0,chassis=3,port=0x12,"
                    "addr=0x2.0x2");
  assert_true(rp1 > 0 && rp2 > rp1 && rp3 > rp2);
  assert_int_equal(find_sub(a, "id=rp4"), -1);
  /* the NIC on the first port (guest 01:00.0 = enp1s0), new MAC, no ROM */
  int nic = find(a, "virtio-net-pci,netdev=n0,mac=52:54:00:aa:bb:cc,bus=rp1,"
                    "addr=0x0,romfile=");
  assert_true(nic > rp3);
  /* disks on the next ports, the first bootable */
  int d0 = find(a, "file=/job/validate/overlay-disk0.qcow2,format=qcow2,"
                   "if=none,id=d0");
  int v0 = find(a, "virtio-blk-pci,drive=d0,bus=rp2,addr=0x0,bootindex=1");
  int d1 = find(a, "file=/job/validate/overlay-disk1.qcow2,format=qcow2,"
                   "if=none,id=d1");
  int v1 = find(a, "virtio-blk-pci,drive=d1,bus=rp3,addr=0x0");
  assert_true(d0 > nic && v0 > d0 && d1 > v0 && v1 > d1);
  assert_int_equal(find_sub(a, "bootindex=2"), -1);
  h2k_strv_free(a);
}

static void test_many_disks_ports(void **state) {
  (void)state;
  const char *disks[10];
  char names[10][32];
  for (int i = 0; i < 10; i++) {
    snprintf(names[i], sizeof names[i], "/o/d%d.qcow2", i);
    disks[i] = names[i];
  }
  h2k_qemu_plan p = bios_plan();
  p.disks = disks;
  p.n_disks = 10;
  char **a = h2k_qemu_argv(&p);
  /* 11 ports: slot 2 functions 0-7, then slot 3 */
  assert_true(find(a, "pcie-root-port,id=rp8,bus=pcie.0,chassis=8,port=0x17,"
                      "addr=0x2.0x7") > 0);
  assert_true(find(a, "pcie-root-port,id=rp9,bus=pcie.0,chassis=9,port=0x18,"
                      "addr=0x3.0x0,multifunction=on") > 0);
  assert_true(find(a, "virtio-blk-pci,drive=d9,bus=rp11,addr=0x0") > 0);
  h2k_strv_free(a);
}

static void test_uefi(void **state) {
  (void)state;
  h2k_qemu_plan p = bios_plan();
  p.ovmf_code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
  p.ovmf_vars = "/job/validate/OVMF_VARS.fd";
  char **a = h2k_qemu_argv(&p);
  assert_true(find(a, "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/"
                      "OVMF/OVMF_CODE_4M.fd") > 0);
  assert_true(find(a, "if=pflash,format=raw,unit=1,file=/job/validate/"
                      "OVMF_VARS.fd") > 0);
  assert_string_equal(opt(a, "-machine"), "q35");
  assert_int_equal(find_sub(a, "cfi.pflash01"), -1);
  h2k_strv_free(a);
  p.secure_boot = true;
  a = h2k_qemu_argv(&p);
  assert_string_equal(opt(a, "-machine"), "q35,smm=on");
  assert_string_equal(opt(a, "-global"),
                      "driver=cfi.pflash01,property=secure,value=on");
  h2k_strv_free(a);
  p.ovmf_vars = NULL; /* code without a variable store: refused */
  assert_null(h2k_qemu_argv(&p));
}

static void test_escaping_and_refusals(void **state) {
  (void)state;
  const char *disks[] = {"/tmp/a,b/overlay.qcow2"};
  h2k_qemu_plan p = bios_plan();
  p.disks = disks;
  p.n_disks = 1;
  p.serial_log = "/tmp/a,b/serial.log";
  p.name = "x,y";
  char **a = h2k_qemu_argv(&p);
  assert_true(find(a, "file=/tmp/a,,b/overlay.qcow2,format=qcow2,if=none,"
                      "id=d0") > 0);
  assert_string_equal(opt(a, "-chardev"),
                      "file,id=s0,path=/tmp/a,,b/serial.log");
  assert_string_equal(opt(a, "-name"), "h2k-validate-x,,y");
  h2k_strv_free(a);
  p = bios_plan();
  p.mac = "52:54:00:aa:bb"; /* bad MAC: would let QEMU pick one */
  assert_null(h2k_qemu_argv(&p));
  p = bios_plan();
  p.mac = "52:54:00:aa:bb:cc,hostfwd=tcp::22-:22"; /* injection */
  assert_null(h2k_qemu_argv(&p));
  p = bios_plan();
  p.n_disks = 0;
  assert_null(h2k_qemu_argv(&p));
  p = bios_plan();
  p.pcap = NULL;
  assert_null(h2k_qemu_argv(&p));
  assert_null(h2k_qemu_argv(NULL));
}

static void test_mac(void **state) {
  (void)state;
  char m1[18], m2[18], m3[18];
  h2k_validate_mac("debian12-vmware", NULL, 0, m1);
  h2k_validate_mac("debian12-vmware", NULL, 0, m2);
  assert_string_equal(m1, m2); /* deterministic */
  assert_int_equal(strncmp(m1, "52:54:00:", 9), 0);
  uint8_t b[6];
  assert_int_equal(h2k_mac_parse(m1, b), 0);
  assert_true(b[0] & 0x02);  /* locally administered */
  assert_false(b[0] & 0x01); /* unicast */
  h2k_validate_mac("debian12-lvm-networkd", NULL, 0, m3);
  assert_string_not_equal(m1, m3);
  /* never one of the source MACs */
  const char *avoid[] = {"00:50:56:8a:3c:01", NULL, m1};
  h2k_validate_mac("debian12-vmware", avoid, 3, m2);
  assert_string_not_equal(m2, m1);
  assert_int_equal(strncmp(m2, "52:54:00:", 9), 0);
  char upper[18];
  for (int i = 0; i < 18; i++)
    upper[i] = (char)(m1[i] >= 'a' && m1[i] <= 'f' ? m1[i] - 32 : m1[i]);
  const char *avoid2[] = {upper};
  h2k_validate_mac("debian12-vmware", avoid2, 1, m2);
  assert_string_not_equal(m2, m1);
  h2k_validate_mac(NULL, NULL, 0, m2); /* no name: still a MAC */
  assert_int_equal(h2k_mac_parse(m2, b), 0);
}

static void test_resources(void **state) {
  (void)state;
  uint64_t mem;
  int cpus;
  h2k_validate_resources(0, 0, false, &mem, &cpus);
  assert_int_equal(mem, 1024);
  assert_int_equal(cpus, 1);
  h2k_validate_resources(16384, 8, false, &mem, &cpus);
  assert_int_equal(mem, 2048);
  assert_int_equal(cpus, 1); /* TCG: one vCPU */
  h2k_validate_resources(16384, 8, true, &mem, &cpus);
  assert_int_equal(cpus, 4);
  h2k_validate_resources(512, 2, true, &mem, &cpus);
  assert_int_equal(mem, 512);
  assert_int_equal(cpus, 2);
  h2k_validate_resources(1024, 0, true, &mem, &cpus);
  assert_int_equal(cpus, 1);
}

static void touch(const char *root, const char *rel) {
  char *p = h2k_strdup_printf("%s%s", root, rel);
  char *dir = h2k_path_dirname(p);
  h2k_error err = {0};
  assert_int_equal(h2k_mkdir_p(dir, 0755, &err), 0);
  assert_int_equal(h2k_write_file_atomic(p, "x", 1, 0644, &err), 0);
  free(dir);
  free(p);
}

static void test_find_ovmf(void **state) {
  (void)state;
  char root[] = "/tmp/h2k-ovmf-XXXXXX";
  assert_non_null(mkdtemp(root));
  char *code, *vars;
  assert_int_equal(h2k_find_ovmf(root, false, &code, &vars), -1);
  assert_null(code);
  /* a code file without its variable store does not count */
  touch(root, "/usr/share/OVMF/OVMF_CODE_4M.fd");
  assert_int_equal(h2k_find_ovmf(root, false, &code, &vars), -1);
  touch(root, "/usr/share/edk2/ovmf/OVMF_CODE.fd");
  touch(root, "/usr/share/edk2/ovmf/OVMF_VARS.fd");
  assert_int_equal(h2k_find_ovmf(root, false, &code, &vars), 0);
  assert_non_null(strstr(code, "/usr/share/edk2/ovmf/OVMF_CODE.fd"));
  free(code);
  free(vars);
  touch(root, "/usr/share/OVMF/OVMF_VARS_4M.fd");
  assert_int_equal(h2k_find_ovmf(root, false, &code, &vars), 0);
  assert_non_null(strstr(code, "/usr/share/OVMF/OVMF_CODE_4M.fd"));
  assert_non_null(strstr(vars, "/usr/share/OVMF/OVMF_VARS_4M.fd"));
  free(code);
  free(vars);
  /* Secure Boot wanted, no such build: the plain one (0) */
  assert_int_equal(h2k_find_ovmf(root, true, &code, &vars), 0);
  free(code);
  free(vars);
  touch(root, "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
  touch(root, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
  assert_int_equal(h2k_find_ovmf(root, true, &code, &vars), 1);
  assert_non_null(strstr(code, "OVMF_CODE_4M.secboot.fd"));
  assert_non_null(strstr(vars, "OVMF_VARS_4M.ms.fd"));
  free(code);
  free(vars);
  h2k_remove_tree(root);
}

static void test_report_json(void **state) {
  (void)state;
  h2k_validate_result v = {0};
  json_object *o = h2k_validate_json(&v);
  assert_string_equal(
      json_object_get_string(json_object_object_get(o, "status")), "not-run");
  assert_null(json_object_object_get(o, "boot"));
  assert_null(json_object_object_get(o, "mac"));
  json_object_put(o);
  v.status = H2K_VAL_FAILED;
  v.ran = true;
  v.boot = H2K_VBOOT_YES;
  v.boot_s = 61.5;
  snprintf(v.accel, sizeof v.accel, "tcg");
  snprintf(v.firmware, sizeof v.firmware, "bios");
  snprintf(v.mac, sizeof v.mac, "52:54:00:aa:bb:cc");
  snprintf(v.reason, sizeof v.reason, "no DHCP");
  snprintf(v.serial_tail, sizeof v.serial_tail, "  | host login:\n");
  o = h2k_validate_json(&v);
  assert_string_equal(json_object_get_string(json_object_object_get(o, "boot")),
                      "yes");
  assert_false(json_object_get_boolean(json_object_object_get(o, "network")));
  assert_true(json_object_object_get_ex(o, "network_seconds", NULL));
  assert_null(json_object_object_get(o, "network_seconds"));
  assert_true(
      json_object_get_double(json_object_object_get(o, "boot_seconds")) > 61);
  assert_string_equal(
      json_object_get_string(json_object_object_get(o, "accelerator")), "tcg");
  json_object_put(o);
  h2k_buf md = {0};
  h2k_validate_markdown(&v, &md);
  assert_non_null(strstr(md.data, "## Validation"));
  assert_non_null(strstr(md.data, "- Status: **failed**"));
  assert_non_null(strstr(md.data, "- Boot: yes (after 62 s)"));
  assert_non_null(strstr(md.data, "```\n  | host login:\n```"));
  h2k_buf_free(&md);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_safety_options),
      cmocka_unit_test(test_device_layout),
      cmocka_unit_test(test_many_disks_ports),
      cmocka_unit_test(test_uefi),
      cmocka_unit_test(test_escaping_and_refusals),
      cmocka_unit_test(test_mac),
      cmocka_unit_test(test_resources),
      cmocka_unit_test(test_find_ovmf),
      cmocka_unit_test(test_report_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
