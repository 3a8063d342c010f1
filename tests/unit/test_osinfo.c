/* OS facts from guest files (lib/inspect/osinfo.c): os-release, release
 * files, ELF headers, hostnames, fstab → mounts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "inspect/osinfo.h"

static void check_osinfo(const h2k_osinfo *o, const char *distro, int major,
                         int minor, const char *product) {
  if (!o->distro || strcmp(o->distro, distro) != 0 || o->major != major ||
      o->minor != minor)
    fail_msg("got %s %d.%d, want %s %d.%d", o->distro ? o->distro : "(null)",
             o->major, o->minor, distro, major, minor);
  if (product && (!o->product_name || strcmp(o->product_name, product) != 0))
    fail_msg("product: got %s, want %s",
             o->product_name ? o->product_name : "(null)", product);
}

static void test_os_release_debian(void **state) {
  (void)state;
  h2k_osinfo o = {0};
  assert_true(h2k_os_release_parse(
      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian "
      "GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\n"
      "ID=debian\nHOME_URL=\"https://www.debian.org/\"\n",
      &o));
  check_osinfo(&o, "debian", 12, 0, "Debian GNU/Linux 12 (bookworm)");
  /* the point release comes from /etc/debian_version */
  assert_true(h2k_release_file_parse("/etc/debian_version", "12.15\n", &o));
  check_osinfo(&o, "debian", 12, 15, "Debian GNU/Linux 12 (bookworm)");
  h2k_osinfo_free(&o);
}

static void test_os_release_others(void **state) {
  (void)state;
  static const struct {
    const char *text, *distro;
    int major, minor;
  } cases[] = {
      {"ID=ubuntu\nVERSION_ID=\"22.04\"\n", "ubuntu", 22, 4},
      {"ID=\"rhel\"\nVERSION_ID=\"8.9\"\n", "rhel", 8, 9},
      {"ID='ol'\nVERSION_ID='9.3'\n", "oraclelinux", 9, 3},
      {"ID=\"opensuse-leap\"\nVERSION_ID=\"15.5\"\n", "opensuse", 15, 5},
      {"ID=\"sles\"\nVERSION_ID=\"15.4\"\n", "sles", 15, 4},
      {"ID=arch\n", "archlinux", 0, 0},
      {"  ID=rocky\nVERSION_ID=\"9.3\"\r\n", "rocky", 9, 3},
      {"ID=NewOS\nVERSION_ID=2024.1\n", "newos", 2024, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    h2k_osinfo o = {0};
    assert_true(h2k_os_release_parse(cases[i].text, &o));
    check_osinfo(&o, cases[i].distro, cases[i].major, cases[i].minor, NULL);
    h2k_osinfo_free(&o);
  }
  h2k_osinfo o = {0};
  assert_false(h2k_os_release_parse("NAME=x\nVERSION_ID=1\n", &o));
  assert_false(h2k_os_release_parse("ID=\n", &o));
  assert_false(h2k_os_release_parse(NULL, &o));
  assert_null(o.distro);
}

static void test_release_files(void **state) {
  (void)state;
  h2k_osinfo o = {0};
  assert_true(h2k_release_file_parse(
      "/etc/redhat-release", "CentOS Linux release 7.9.2009 (Core)\n", &o));
  check_osinfo(&o, "centos", 7, 9, "CentOS Linux release 7.9.2009 (Core)");
  h2k_osinfo_free(&o);
  /* os-release said 7; the release file adds the minor version */
  assert_true(h2k_os_release_parse("ID=\"centos\"\nVERSION_ID=\"7\"\n", &o));
  assert_true(h2k_release_file_parse(
      "/etc/redhat-release", "CentOS Linux release 7.9.2009 (Core)\n", &o));
  check_osinfo(&o, "centos", 7, 9, NULL);
  h2k_osinfo_free(&o);
  assert_true(h2k_release_file_parse(
      "/etc/redhat-release",
      "Red Hat Enterprise Linux Server release 6.10 (Santiago)\n", &o));
  check_osinfo(&o, "rhel", 6, 10, NULL);
  h2k_osinfo_free(&o);
  /* Ubuntu ships /etc/debian_version too: it must not turn into Debian */
  assert_true(h2k_os_release_parse("ID=ubuntu\nVERSION_ID=\"22.04\"\n", &o));
  assert_false(
      h2k_release_file_parse("/etc/debian_version", "bookworm/sid\n", &o));
  check_osinfo(&o, "ubuntu", 22, 4, NULL);
  h2k_osinfo_free(&o);
  /* a Debian testing version names no number */
  assert_true(
      h2k_release_file_parse("/etc/debian_version", "trixie/sid\n", &o));
  check_osinfo(&o, "debian", 0, 0, NULL);
  h2k_osinfo_free(&o);
  assert_false(h2k_release_file_parse("/etc/unknown-release", "x 1.0", &o));
  assert_false(h2k_release_file_parse("/etc/redhat-release", NULL, &o));
}

static void test_version_parse(void **state) {
  (void)state;
  int ma = -1, mi = -1;
  assert_true(h2k_version_parse("12", &ma, &mi));
  assert_int_equal(ma, 12);
  assert_int_equal(mi, 0);
  assert_true(h2k_version_parse("7.9.2009", &ma, &mi));
  assert_int_equal(ma, 7);
  assert_int_equal(mi, 9);
  assert_false(h2k_version_parse("bookworm/sid", &ma, &mi));
  assert_false(h2k_version_parse("", &ma, &mi));
  assert_false(h2k_version_parse(NULL, &ma, &mi));
  assert_false(h2k_version_parse("99999999999", &ma, &mi));
}

static void test_elf_arch(void **state) {
  (void)state;
  uint8_t h[64] = {0x7f, 'E', 'L', 'F', 2, 1};
  h[18] = 62;
  assert_string_equal(h2k_elf_arch(h, sizeof h), "x86_64");
  h[4] = 1;
  h[18] = 3;
  assert_string_equal(h2k_elf_arch(h, sizeof h), "i386");
  h[4] = 2;
  h[18] = 183;
  assert_string_equal(h2k_elf_arch(h, sizeof h), "aarch64");
  h[18] = 21;
  assert_string_equal(h2k_elf_arch(h, sizeof h), "ppc64le");
  h[5] = 2; /* big-endian: e_machine's bytes swap */
  h[18] = 0;
  h[19] = 22;
  assert_string_equal(h2k_elf_arch(h, sizeof h), "s390x");
  h[19] = 21;
  assert_string_equal(h2k_elf_arch(h, sizeof h), "ppc64");
  h[19] = 0x77;
  assert_null(h2k_elf_arch(h, sizeof h));
  assert_null(h2k_elf_arch(h, 10)); /* too short */
  assert_null(h2k_elf_arch((const uint8_t *)"#!/bin/sh\necho hello world", 26));
  assert_null(h2k_elf_arch(NULL, 0));
}

static void test_hostname(void **state) {
  (void)state;
  char *h = h2k_hostname_parse("web01\n", false);
  assert_string_equal(h, "web01");
  free(h);
  h = h2k_hostname_parse("# set by the installer\n\n  db02.example.com  \n",
                         false);
  assert_string_equal(h, "db02.example.com");
  free(h);
  assert_null(h2k_hostname_parse("\n# nothing\n", false));
  assert_null(h2k_hostname_parse(NULL, false));
  h = h2k_hostname_parse("NETWORKING=yes\nHOSTNAME=\"legacy.local\"\n", true);
  assert_string_equal(h, "legacy.local");
  free(h);
  assert_null(h2k_hostname_parse("NETWORKING=yes\nHOSTNAME=\n", true));
}

/* Devices as blkid sees them in the appliance. */
static const h2k_blkdev devs[] = {
    {.dev = "/dev/sda1",
     .uuid = "11111111-aaaa-4bbb-8ccc-000000000001",
     .fstype = "ext4",
     .partuuid = "0c0ffee0-01"},
    {.dev = "/dev/sda2", .uuid = "2222-3333", .fstype = "vfat"},
    {.dev = "/dev/sdb1", .label = "data disk", .fstype = "xfs"},
    {.dev = "/dev/vg-sys/root",
     .uuid = "33333333-aaaa-4bbb-8ccc-000000000003",
     .fstype = "ext4"},
    {.dev = "/dev/vg-sys/var", .fstype = "ext4"},
    {.dev = "/dev/sda3", .fstype = "swap", .uuid = "swap-uuid"},
};

static const char *mount_of(const h2k_mount *m, size_t n, const char *mp) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(m[i].mountpoint, mp))
      return m[i].device;
  return NULL;
}

static void test_fstab_mounts(void **state) {
  (void)state;
  const char *fstab =
      "# /etc/fstab\n"
      "UUID=33333333-AAAA-4bbb-8ccc-000000000003 / ext4 errors=remount-ro 0 "
      "1\n"
      "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part1 /boot ext4 "
      "defaults 0 2\n"
      "PARTUUID=0c0ffee0-01 /boot-again ext4 defaults 0 2\n"
      "UUID=2222-3333 /boot/efi vfat umask=0077 0 1\n"
      "LABEL=data\\040disk /srv/data xfs defaults 0 2\n"
      "/dev/mapper/vg--sys-var /var ext4 defaults 0 2\n"
      "/dev/vdb1 /srv/vd xfs defaults 0 2\n"
      "UUID=swap-uuid none swap sw 0 0\n"
      "proc /proc proc defaults 0 0\n"
      "tmpfs /tmp tmpfs defaults 0 0\n"
      "server:/export /mnt/nfs nfs defaults 0 0\n"
      "/srv/data /export/data none bind 0 0\n"
      "UUID=not-here /mnt/gone ext4 defaults,nofail 0 2\n"
      "/dev/sdz9 /mnt/other ext4 defaults 0 2\n";
  h2k_mount *m = NULL;
  char **unres = NULL;
  size_t n_unres = 0;
  size_t n = h2k_fstab_mounts(fstab, devs, sizeof devs / sizeof *devs, 2,
                              "/dev/vg-sys/root", &m, &unres, &n_unres);
  assert_int_equal(n, 7);
  assert_string_equal(m[0].mountpoint, "/"); /* parents first */
  assert_string_equal(m[0].device, "/dev/vg-sys/root");
  assert_string_equal(mount_of(m, n, "/boot"), "/dev/sda1");
  assert_string_equal(mount_of(m, n, "/boot-again"), "/dev/sda1");
  assert_string_equal(mount_of(m, n, "/boot/efi"), "/dev/sda2");
  assert_string_equal(mount_of(m, n, "/srv/data"), "/dev/sdb1");
  assert_string_equal(mount_of(m, n, "/var"), "/dev/vg-sys/var");
  assert_string_equal(mount_of(m, n, "/srv/vd"), "/dev/sdb1");
  for (size_t i = 1; i < n; i++)
    assert_true(strlen(m[i - 1].mountpoint) <= strlen(m[i].mountpoint));
  assert_null(mount_of(m, n, "/proc"));
  assert_null(mount_of(m, n, "/mnt/nfs"));
  assert_null(mount_of(m, n, "/export/data"));
  assert_int_equal(n_unres, 2);
  assert_string_equal(unres[0], "UUID=not-here");
  assert_string_equal(unres[1], "/dev/sdz9");
  for (size_t i = 0; i < n_unres; i++)
    free(unres[i]);
  free(unres);
  h2k_mounts_free(m, n);
}

static void test_fstab_mounts_root_wins(void **state) {
  (void)state;
  /* fstab's own "/" line names a device that is gone: the root we found
   * is mounted on / all the same, and only once */
  h2k_mount *m = NULL;
  char **unres = NULL;
  size_t n_unres = 0;
  size_t n = h2k_fstab_mounts("/dev/sdq1 / ext4 defaults 0 1\n"
                              "/dev/sda1 / ext4 defaults 0 1",
                              devs, sizeof devs / sizeof *devs, 1, "/dev/sda1",
                              &m, &unres, &n_unres);
  assert_int_equal(n, 1);
  assert_string_equal(m[0].device, "/dev/sda1");
  assert_int_equal(n_unres, 0);
  h2k_mounts_free(m, n);
  n = h2k_fstab_mounts("", devs, 0, 1, "/dev/sda1", &m, &unres, &n_unres);
  assert_int_equal(n, 1);
  h2k_mounts_free(m, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_os_release_debian),
      cmocka_unit_test(test_os_release_others),
      cmocka_unit_test(test_release_files),
      cmocka_unit_test(test_version_parse),
      cmocka_unit_test(test_elf_arch),
      cmocka_unit_test(test_hostname),
      cmocka_unit_test(test_fstab_mounts),
      cmocka_unit_test(test_fstab_mounts_root_wins),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
