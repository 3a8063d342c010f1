/* /etc/fstab and /etc/crypttab transforms. */
#include "storage_test.h"

#include "fix/fstab.h"

typedef struct tab_opts {
  const h2k_devmap *map;
  enum h2k_fstab_mode mode;
} tab_opts;

static char *run_fstab(const char *text, const void *ctx, h2k_changes *log,
                       h2k_error *err) {
  const tab_opts *o = ctx;
  return h2k_fix_fstab(text, o->map, o->mode, log, err);
}

static char *run_crypttab(const char *text, const void *ctx, h2k_changes *log,
                          h2k_error *err) {
  const tab_opts *o = ctx;
  return h2k_fix_crypttab(text, o->map, o->mode, log, err);
}

static const tab_opts all = {&test_map, H2K_FSTAB_STABILIZE_ALL};
static const tab_opts bypath = {&test_map, H2K_FSTAB_BYPATH_ONLY};
static const tab_opts noop = {&test_map, H2K_FSTAB_NOOP};

/* Debian 12 installed on a VMware LSI Logic disk: root by kernel name, swap
 * by its by-path name, a CD-ROM line. */
static void test_debian12_vmware(void **state) {
  (void)state;
  const char *in =
      "# /etc/fstab: static file system information.\n"
      "#\n"
      "# Use 'blkid' to print the universally unique identifier for a\n"
      "# device; this may be used with UUID= as a more robust way to name "
      "devices\n"
      "# that works even if disks are added and removed. See fstab(5).\n"
      "#\n"
      "# <file system> <mount point>   <type>  <options>       <dump>  "
      "<pass>\n"
      "# / was on /dev/sda1 during installation\n"
      "/dev/sda1       /               ext4    errors=remount-ro 0       1\n"
      "# swap was on /dev/sda5 during installation\n"
      "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part5 none            "
      "swap    sw              0       0\n"
      "/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       "
      "0\n";
  const char *want =
      "# /etc/fstab: static file system information.\n"
      "#\n"
      "# Use 'blkid' to print the universally unique identifier for a\n"
      "# device; this may be used with UUID= as a more robust way to name "
      "devices\n"
      "# that works even if disks are added and removed. See fstab(5).\n"
      "#\n"
      "# <file system> <mount point>   <type>  <options>       <dump>  "
      "<pass>\n"
      "# / was on /dev/sda1 during installation\n"
      "UUID=" UUID_SDA1 "       /               ext4    errors=remount-ro 0 "
      "      1\n"
      "# swap was on /dev/sda5 during installation\n"
      "UUID=" UUID_SDA5 " none            swap    sw              0       0\n"
      "/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       "
      "0\n";
  const want_change changes[] = {
      {9, "/dev/sda1       /               ext4    errors=remount-ro 0       1",
       "UUID=" UUID_SDA1 "       /               ext4    errors=remount-ro 0 "
       "      1",
       "stable ID for /dev/sda1"},
      {11,
       "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part5 none            "
       "swap    sw              0       0",
       "UUID=" UUID_SDA5 " none            swap    sw              0       0",
       "stable ID for /dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part5"},
  };
  check_fix(run_fstab, &all, "/etc/fstab", in, want, changes, N_ELEMS(changes));
}

/* RHEL 9 as installed by anaconda: UUID= and LVM names, nothing to do. */
static void test_rhel_already_stable(void **state) {
  (void)state;
  const char *in =
      "\n"
      "#\n"
      "# /etc/fstab\n"
      "# Created by anaconda on Tue Mar  5 10:12:41 2024\n"
      "#\n"
      "/dev/mapper/rhel-root   /                       xfs     defaults      "
      "  0 0\n"
      "UUID=3c2a1b0e-9d8c-4b7a-a6f5-e4d3c2b1a098 /boot                   xfs  "
      "   defaults        0 0\n"
      "UUID=7A1B-2C3D          /boot/efi               vfat    "
      "umask=0077,shortname=winnt 0 2\n"
      "/dev/mapper/rhel-swap   none                    swap    defaults      "
      "  0 0\n"
      "tmpfs                   /tmp                    tmpfs   "
      "defaults,nosuid 0 0\n"
      "proc /proc proc defaults 0 0\n";
  check_fix(run_fstab, &all, "/etc/fstab", in, in, NULL, 0);
}

/* Names that do not depend on the disk bus stay: device-mapper, LVM,
 * md, by-uuid/by-label links, dm/md/lvm by-id links, NFS, bind mounts. */
static void test_lvm_md_and_others_untouched(void **state) {
  (void)state;
  const char *in =
      "/dev/mapper/vg0-root / ext4 defaults 0 1\n"
      "/dev/vg0/home /home ext4 defaults 0 2\n"
      "/dev/md0 /srv xfs defaults 0 2\n"
      "/dev/md/data /data xfs defaults 0 2\n"
      "/dev/disk/by-uuid/" UUID_SDA1 " /boot ext4 defaults 0 2\n"
      "/dev/disk/by-label/BACKUP /backup ext4 noauto 0 0\n"
      "/dev/disk/by-id/dm-name-vg0-var /var ext4 defaults 0 2\n"
      "/dev/disk/by-id/md-uuid-1a2b3c4d:5e6f7a8b:9c0d1e2f:3a4b5c6d /md xfs "
      "defaults 0 0\n"
      "PARTLABEL=scratch /scratch ext4 defaults 0 0\n"
      "nas:/export/home /mnt/home nfs4 defaults,_netdev 0 0\n"
      "/srv/data /var/www none bind 0 0\n";
  check_fix(run_fstab, &all, "/etc/fstab", in, in, NULL, 0);
}

/* A partition with no UUID, PARTUUID or label: kept, with a warning. */
static void test_no_stable_id(void **state) {
  (void)state;
  const char *in = "/dev/sda1 / ext4 defaults 0 1\n"
                   "/dev/sdd1 /legacy ext2 defaults 0 2\n"
                   "/dev/sdq7 /gone ext4 nofail 0 2\n";
  const char *want = "UUID=" UUID_SDA1 " / ext4 defaults 0 1\n"
                     "/dev/sdd1 /legacy ext2 defaults 0 2\n"
                     "/dev/sdq7 /gone ext4 nofail 0 2\n";
  const want_change changes[] = {
      {1, "/dev/sda1 / ext4 defaults 0 1",
       "UUID=" UUID_SDA1 " / ext4 defaults 0 1", "stable ID for /dev/sda1"},
      {2, "/dev/sdd1 /legacy ext2 defaults 0 2",
       "/dev/sdd1 /legacy ext2 defaults 0 2",
       "no stable ID for /dev/sdd1: left as is"},
      {3, "/dev/sdq7 /gone ext4 nofail 0 2", "/dev/sdq7 /gone ext4 nofail 0 2",
       "no stable ID for /dev/sdq7: left as is"},
  };
  check_fix(run_fstab, &all, "/etc/fstab", in, want, changes, N_ELEMS(changes));
}

/* Layout details: tabs, indentation, blank lines, trailing comments,
 * quoted UUID=, CRLF line ends, no final newline; PARTUUID= and LABEL=
 * fallbacks, a label with a blank octal-escaped. */
static void test_layout_and_fallbacks(void **state) {
  (void)state;
  const char *in = "\t/dev/sda1\t/\text4\tdefaults\t0 1   # root fs\n"
                   "\n"
                   "   \n"
                   "UUID=\"" UUID_SDA5 "\"\tnone\tswap\tsw\t0 0\n"
                   "/dev/sdb1  /var/lib/pgsql  xfs  noatime  0 2\r\n"
                   "  # /dev/sdc1 /old ext4 defaults 0 0\n"
                   "/dev/sdc1 /backup ext4 noauto,nofail 0 0\n"
                   "\"/dev/sde1\" /media/data ext4 defaults 0 2";
  const char *want = "\tUUID=" UUID_SDA1 "\t/\text4\tdefaults\t0 1   # root "
                     "fs\n"
                     "\n"
                     "   \n"
                     "UUID=\"" UUID_SDA5 "\"\tnone\tswap\tsw\t0 0\n"
                     "PARTUUID=" PARTUUID_SDB1 "  /var/lib/pgsql  xfs  "
                     "noatime  0 2\r\n"
                     "  # /dev/sdc1 /old ext4 defaults 0 0\n"
                     "LABEL=BACKUP /backup ext4 noauto,nofail 0 0\n"
                     "LABEL=My\\040Data /media/data ext4 defaults 0 2";
  const want_change changes[] = {
      {1, "\t/dev/sda1\t/\text4\tdefaults\t0 1   # root fs",
       "\tUUID=" UUID_SDA1 "\t/\text4\tdefaults\t0 1   # root fs",
       "stable ID for /dev/sda1"},
      {5, "/dev/sdb1  /var/lib/pgsql  xfs  noatime  0 2",
       "PARTUUID=" PARTUUID_SDB1 "  /var/lib/pgsql  xfs  noatime  0 2",
       "stable ID for /dev/sdb1"},
      {7, "/dev/sdc1 /backup ext4 noauto,nofail 0 0",
       "LABEL=BACKUP /backup ext4 noauto,nofail 0 0",
       "stable ID for /dev/sdc1"},
      {8, "\"/dev/sde1\" /media/data ext4 defaults 0 2",
       "LABEL=My\\040Data /media/data ext4 defaults 0 2",
       "stable ID for /dev/sde1"},
  };
  check_fix(run_fstab, &all, "/etc/fstab", in, want, changes, N_ELEMS(changes));
}

/* openSUSE on btrfs: several subvolumes of one device, named by-id as SUSE
 * does. Each line gets the filesystem UUID and keeps its subvol= option. */
static void test_btrfs_subvolumes_by_id(void **state) {
  (void)state;
#define BY_ID "/dev/disk/by-id/scsi-36000c2924f1e8a6b8d4f3c2a1b0e9d8c-part2"
  const char *in = BY_ID
      "  /            btrfs  defaults                           0  0\n" BY_ID
      "  /home        btrfs  subvol=/@/home                     0  0\n"
      "/dev/sda2  /.snapshots  btrfs  subvol=/@/.snapshots,compress=zstd  0  "
      "0\n";
  const char *want =
      "UUID=" UUID_SDA2 "  /            btrfs  defaults                     "
      "      0  0\n"
      "UUID=" UUID_SDA2 "  /home        btrfs  subvol=/@/home               "
      "      0  0\n"
      "UUID=" UUID_SDA2 "  /.snapshots  btrfs  subvol=/@/.snapshots,compress="
      "zstd  0  0\n";
  const want_change changes[] = {
      {1, BY_ID "  /            btrfs  defaults                           0  0",
       "UUID=" UUID_SDA2 "  /            btrfs  defaults                     "
       "      0  0",
       "stable ID for " BY_ID},
      {2, BY_ID "  /home        btrfs  subvol=/@/home                     0  0",
       "UUID=" UUID_SDA2 "  /home        btrfs  subvol=/@/home               "
       "      0  0",
       "stable ID for " BY_ID},
      {3,
       "/dev/sda2  /.snapshots  btrfs  subvol=/@/.snapshots,compress=zstd  0 "
       " 0",
       "UUID=" UUID_SDA2 "  /.snapshots  btrfs  subvol=/@/.snapshots,compress="
       "zstd  0  0",
       "stable ID for /dev/sda2"},
  };
#undef BY_ID
  check_fix(run_fstab, &all, "/etc/fstab", in, want, changes, N_ELEMS(changes));
}

/* bypath-only: by-path and by-id specs only; kernel names stay. */
static void test_bypath_only_mode(void **state) {
  (void)state;
  const char *in =
      "/dev/sda1 / ext4 defaults 0 1\n"
      "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part5 none swap sw 0 "
      "0\n"
      "/dev/disk/by-id/wwn-0x6000c2924f1e8a6b-part1 /srv xfs defaults 0 2\n"
      "/dev/disk/by-id/dm-name-vg0-root /mnt ext4 noauto 0 0\n";
  const char *want = "/dev/sda1 / ext4 defaults 0 1\n"
                     "UUID=" UUID_SDA5 " none swap sw 0 0\n"
                     "PARTUUID=" PARTUUID_SDB1 " /srv xfs defaults 0 2\n"
                     "/dev/disk/by-id/dm-name-vg0-root /mnt ext4 noauto 0 0\n";
  const want_change changes[] = {
      {2,
       "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part5 none swap sw 0 "
       "0",
       "UUID=" UUID_SDA5 " none swap sw 0 0", "by-path/pci-0000:03:00.0"},
      {3, "/dev/disk/by-id/wwn-0x6000c2924f1e8a6b-part1 /srv xfs defaults 0 2",
       "PARTUUID=" PARTUUID_SDB1 " /srv xfs defaults 0 2",
       "stable ID for /dev/disk/by-id/wwn-0x6000c2924f1e8a6b-part1"},
  };
  check_fix(run_fstab, &bypath, "/etc/fstab", in, want, changes,
            N_ELEMS(changes));
}

static void test_noop_mode(void **state) {
  (void)state;
  const char *in = "/dev/sda1 / ext4 defaults 0 1\n"
                   "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part5 "
                   "none swap sw 0 0\n";
  check_fix(run_fstab, &noop, "/etc/fstab", in, in, NULL, 0);
  /* noop needs no device map */
  h2k_error err = {0};
  char *out = h2k_fix_fstab(in, NULL, H2K_FSTAB_NOOP, NULL, &err);
  assert_non_null(out);
  assert_text(out, in);
  free(out);
}

/* Old Xen/IDE/NVMe/cciss names are rewritten too; pseudo filesystems are
 * never touched even when their spec looks like a disk. */
static void test_other_kernel_names(void **state) {
  (void)state;
  const h2k_blkdev devs[] = {
      {"/dev/xvda1", "11111111-1111-4111-8111-111111111111", NULL, NULL,
       "ext4"},
      {"/dev/hda2", "22222222-2222-4222-8222-222222222222", NULL, NULL, "ext3"},
      {"/dev/nvme0n1p3", "33333333-3333-4333-8333-333333333333", NULL, NULL,
       "xfs"},
      {"/dev/cciss/c0d0p1", "44444444-4444-4444-8444-444444444444", NULL, NULL,
       "ext3"},
  };
  const h2k_devmap map = {devs, N_ELEMS(devs), NULL, NULL, 0};
  const tab_opts o = {&map, H2K_FSTAB_STABILIZE_ALL};
  const char *in = "/dev/xvda1 / ext4 defaults 0 1\n"
                   "/dev/hda2 /usr ext3 defaults 0 2\n"
                   "/dev/nvme0n1p3 /var xfs defaults 0 2\n"
                   "/dev/cciss/c0d0p1 /boot ext3 defaults 1 2\n"
                   "/dev/sda9 /proc proc defaults 0 0\n";
  const char *want = "UUID=11111111-1111-4111-8111-111111111111 / ext4 "
                     "defaults 0 1\n"
                     "UUID=22222222-2222-4222-8222-222222222222 /usr ext3 "
                     "defaults 0 2\n"
                     "UUID=33333333-3333-4333-8333-333333333333 /var xfs "
                     "defaults 0 2\n"
                     "UUID=44444444-4444-4444-8444-444444444444 /boot ext3 "
                     "defaults 1 2\n"
                     "/dev/sda9 /proc proc defaults 0 0\n";
  const want_change changes[] = {
      {1, "/dev/xvda1 / ext4 defaults 0 1",
       "UUID=11111111-1111-4111-8111-111111111111 / ext4 defaults 0 1",
       "/dev/xvda1"},
      {2, "/dev/hda2 /usr ext3 defaults 0 2",
       "UUID=22222222-2222-4222-8222-222222222222 /usr ext3 defaults 0 2",
       "/dev/hda2"},
      {3, "/dev/nvme0n1p3 /var xfs defaults 0 2",
       "UUID=33333333-3333-4333-8333-333333333333 /var xfs defaults 0 2",
       "/dev/nvme0n1p3"},
      {4, "/dev/cciss/c0d0p1 /boot ext3 defaults 1 2",
       "UUID=44444444-4444-4444-8444-444444444444 /boot ext3 defaults 1 2",
       "/dev/cciss/c0d0p1"},
  };
  check_fix(run_fstab, &o, "/etc/fstab", in, want, changes, N_ELEMS(changes));
}

static void test_dev_is_unstable(void **state) {
  (void)state;
  const char *unstable[] = {
      "/dev/sda",
      "/dev/sda1",
      "/dev/sdab12",
      "/dev/hdc",
      "/dev/vdb3",
      "/dev/xvdf",
      "/dev/nvme0n1",
      "/dev/nvme12n3p4",
      "/dev/cciss/c0d1",
      "/dev/cciss/c1d0p5",
      "\"/dev/sda1\"",
      "/dev/disk/by-path/pci-0000:00:10.0-scsi-0:0:0:0",
      ("/dev/disk/by-id/ata-VMware_Virtual_IDE_Hard_Drive_00000000000000000001"
       "-part1"),
  };
  const char *stable[] = {
      "UUID=" UUID_SDA1,
      "/dev/mapper/vg0-root",
      "/dev/vg0/root",
      "/dev/md0",
      "/dev/md127",
      "/dev/dm-0",
      "/dev/sr0",
      "/dev/sd",
      "/dev/sda1x",
      "/dev/nvme0",
      "/dev/nvme0n",
      "/dev/loop0",
      "/dev/disk/by-uuid/" UUID_SDA1,
      "/dev/disk/by-path/",
      "/dev/disk/by-id/dm-uuid-LVM-abc",
      "/dev/disk/by-id/lvm-pv-uuid-xyz",
      "tmpfs",
      "",
      "/dev/SDA1",
  };
  for (size_t i = 0; i < N_ELEMS(unstable); i++)
    if (!h2k_dev_is_unstable(unstable[i], H2K_FSTAB_STABILIZE_ALL))
      fail_msg("%s should be unstable", unstable[i]);
  for (size_t i = 0; i < N_ELEMS(stable); i++)
    if (h2k_dev_is_unstable(stable[i], H2K_FSTAB_STABILIZE_ALL))
      fail_msg("%s should be stable", stable[i]);
  assert_false(h2k_dev_is_unstable("/dev/sda1", H2K_FSTAB_BYPATH_ONLY));
  assert_true(h2k_dev_is_unstable("/dev/disk/by-path/pci-0000:00:10.0-scsi-0:"
                                  "0:0:0-part1",
                                  H2K_FSTAB_BYPATH_ONLY));
  assert_false(h2k_dev_is_unstable("/dev/disk/by-path/x", H2K_FSTAB_NOOP));
  assert_false(h2k_dev_is_unstable(NULL, H2K_FSTAB_STABILIZE_ALL));
}

static void test_mode_names(void **state) {
  (void)state;
  enum h2k_fstab_mode m = H2K_FSTAB_NOOP;
  assert_int_equal(h2k_fstab_mode_parse("stabilize-all", &m), 0);
  assert_int_equal(m, H2K_FSTAB_STABILIZE_ALL);
  assert_int_equal(h2k_fstab_mode_parse("bypath-only", &m), 0);
  assert_int_equal(m, H2K_FSTAB_BYPATH_ONLY);
  assert_int_equal(h2k_fstab_mode_parse("noop", &m), 0);
  assert_int_equal(m, H2K_FSTAB_NOOP);
  assert_int_equal(h2k_fstab_mode_parse("uuid", &m), -1);
  assert_int_equal(h2k_fstab_mode_parse(NULL, &m), -1);
  assert_string_equal(h2k_fstab_mode_name(H2K_FSTAB_BYPATH_ONLY),
                      "bypath-only");
}

/* Debian crypttab: the LUKS partition by kernel name and by by-id; the
 * second field is the one rewritten, options and key files stay. */
static void test_crypttab(void **state) {
  (void)state;
  const char *in =
      "# <target name>\t<source device>\t\t<key file>\t<options>\n"
      "sda3_crypt\t/dev/sda3\tnone\t\tluks,discard\n"
      "swap_crypt /dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part5 "
      "/dev/urandom swap,cipher=aes-xts-plain64,size=256\n"
      "home_crypt UUID=" UUID_SDA1 " /etc/keys/home.key luks\n"
      "data_crypt /dev/sdd1 none luks,nofail\n"
      "short\n";
  const char *want =
      "# <target name>\t<source device>\t\t<key file>\t<options>\n"
      "sda3_crypt\tUUID=" UUID_SDA3 "\tnone\t\tluks,discard\n"
      "swap_crypt UUID=" UUID_SDA5 " /dev/urandom "
      "swap,cipher=aes-xts-plain64,size=256\n"
      "home_crypt UUID=" UUID_SDA1 " /etc/keys/home.key luks\n"
      "data_crypt /dev/sdd1 none luks,nofail\n"
      "short\n";
  const want_change changes[] = {
      {2, "sda3_crypt\t/dev/sda3\tnone\t\tluks,discard",
       "sda3_crypt\tUUID=" UUID_SDA3 "\tnone\t\tluks,discard",
       "stable ID for /dev/sda3"},
      {3,
       "swap_crypt /dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part5 "
       "/dev/urandom swap,cipher=aes-xts-plain64,size=256",
       "swap_crypt UUID=" UUID_SDA5 " /dev/urandom "
       "swap,cipher=aes-xts-plain64,size=256",
       "stable ID for /dev/disk/by-path/"},
      {5, "data_crypt /dev/sdd1 none luks,nofail",
       "data_crypt /dev/sdd1 none luks,nofail",
       "no stable ID for /dev/sdd1: left as is"},
  };
  check_fix(run_crypttab, &all, "/etc/crypttab", in, want, changes,
            N_ELEMS(changes));
}

static void test_empty_and_errors(void **state) {
  (void)state;
  check_fix(run_fstab, &all, "/etc/fstab", "", "", NULL, 0);
  h2k_error err = {0};
  assert_null(
      h2k_fix_fstab(NULL, &test_map, H2K_FSTAB_STABILIZE_ALL, NULL, &err));
  assert_int_equal(err.code, H2K_E_FAIL);
  assert_non_null(strstr(err.message, "/etc/fstab"));
  h2k_err_clear(&err);
  assert_null(h2k_fix_crypttab("x /dev/sda1\n", NULL, H2K_FSTAB_STABILIZE_ALL,
                               NULL, &err));
  assert_non_null(strstr(err.message, "device map"));
  /* the change log is optional */
  char *out = h2k_fix_fstab("/dev/sda1 / ext4 defaults 0 1\n", &test_map,
                            H2K_FSTAB_STABILIZE_ALL, NULL, &err);
  assert_non_null(out);
  assert_text(out, "UUID=" UUID_SDA1 " / ext4 defaults 0 1\n");
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_debian12_vmware),
      cmocka_unit_test(test_rhel_already_stable),
      cmocka_unit_test(test_lvm_md_and_others_untouched),
      cmocka_unit_test(test_no_stable_id),
      cmocka_unit_test(test_layout_and_fallbacks),
      cmocka_unit_test(test_btrfs_subvolumes_by_id),
      cmocka_unit_test(test_bypath_only_mode),
      cmocka_unit_test(test_noop_mode),
      cmocka_unit_test(test_other_kernel_names),
      cmocka_unit_test(test_dev_is_unstable),
      cmocka_unit_test(test_mode_names),
      cmocka_unit_test(test_crypttab),
      cmocka_unit_test(test_empty_and_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
