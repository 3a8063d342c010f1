/* Source VM device links (by-path, by-id) -> appliance device names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "guest/devnames.h"

static void check_resolve(const char *link, size_t n_disks, const char *want) {
  char *got = h2k_resolve_disk_link(link, n_disks);
  if (!want) {
    if (got)
      fail_msg("%s (%zu disks): got %s, want nothing", link, n_disks, got);
    return;
  }
  if (!got || strcmp(got, want) != 0)
    fail_msg("%s (%zu disks): got %s, want %s", link, n_disks,
             got ? got : "(null)", want);
  free(got);
}

static void test_by_path_scsi_target(void **state) {
  (void)state;
  const char *swap = "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part2";
  check_resolve(swap, 1, "/dev/sda2");
  check_resolve(swap, 3, "/dev/sda2");
  check_resolve("/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:1:0-part1", 2,
                "/dev/sdb1");
  check_resolve("/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:2:0", 3,
                "/dev/sdc");
  /* target beyond the disks we have: cannot tell */
  check_resolve("/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:5:0-part1", 2,
                NULL);
  /* one disk: whatever the target, it is that disk */
  check_resolve("/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:5:0-part1", 1,
                "/dev/sda1");
  /* no SCSI address and several disks: cannot tell */
  check_resolve("/dev/disk/by-path/pci-0000:00:10.0-ata-1-part1", 2, NULL);
}

static void test_by_id(void **state) {
  (void)state;
  const char *id =
      "/dev/disk/by-id/scsi-36000c29a1b2c3d4e5f60718293a4b5c6-part1";
  check_resolve(id, 1, "/dev/sda1");
  check_resolve(id, 2, NULL); /* serials are not known here */
  check_resolve("/dev/disk/by-id/dm-name-vg0-root", 1, NULL);
  check_resolve("/dev/disk/by-id/lvm-pv-uuid-abc", 1, NULL);
  check_resolve("/dev/disk/by-id/md-uuid-1234", 1, NULL);
  check_resolve("/dev/sda1", 1, NULL);
  check_resolve("/dev/disk/by-path/x-part1", 0, NULL);
}

static void test_find_links(void **state) {
  (void)state;
  const char *fstab =
      "# /dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part2 in a comment\n"
      "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part2 none swap sw 0 0\n"
      "/dev/disk/by-id/wwn-0x5000-part1\t/data ext4 defaults 0 2\n";
  const char *grub = "GRUB_CMDLINE_LINUX=\"resume=/dev/disk/by-id/"
                     "wwn-0x5000-part1 quiet\"\n";
  char **v = NULL;
  size_t n = 0;
  h2k_find_disk_links(fstab, &v, &n);
  h2k_find_disk_links(grub, &v, &n);
  assert_int_equal(n, 2);
  assert_string_equal(v[0],
                      "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part2");
  assert_string_equal(v[1], "/dev/disk/by-id/wwn-0x5000-part1");
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_by_path_scsi_target),
      cmocka_unit_test(test_by_id),
      cmocka_unit_test(test_find_links),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
