/* Initramfs generator configs and checks of the regenerated image. */
#include "storage_test.h"

#include "fix/initramfs.h"

typedef struct mods_opts {
  const char *const *mods;
  size_t n;
} mods_opts;

static const char *const virtio4[] = {"virtio_blk", "virtio_scsi", "virtio_pci",
                                      "virtio_net"};
static const mods_opts v4 = {virtio4, 4};

#define ADDED                                                                  \
  "# Added by hyper2kvm: virtio drivers for the disks and NIC on KVM"

static char *run_itools(const char *text, const void *ctx, h2k_changes *log,
                        h2k_error *err) {
  const mods_opts *o = ctx;
  return h2k_fix_initramfs_tools_modules(text, o->mods, o->n, log, err);
}

static char *run_dracut(const char *text, const void *ctx, h2k_changes *log,
                        h2k_error *err) {
  const mods_opts *o = ctx;
  return h2k_fix_dracut_conf(text, o->mods, o->n, log, err);
}

static char *run_mkinitcpio(const char *text, const void *ctx, h2k_changes *log,
                            h2k_error *err) {
  const mods_opts *o = ctx;
  return h2k_fix_mkinitcpio_conf(text, o->mods, o->n, log, err);
}

static char *run_suse(const char *text, const void *ctx, h2k_changes *log,
                      h2k_error *err) {
  const mods_opts *o = ctx;
  return h2k_fix_suse_sysconfig_kernel(text, o->mods, o->n, log, err);
}

#define ITOOLS_HEAD                                                            \
  "# List of modules that you want to include in your initramfs.\n"            \
  "# They will be loaded at boot time in the order below.\n"                   \
  "#\n"                                                                        \
  "# Syntax:  module_name [args ...]\n"                                        \
  "#\n"                                                                        \
  "# You must run update-initramfs(8) to effect this change.\n"                \
  "#\n"                                                                        \
  "# Examples:\n"                                                              \
  "#\n"                                                                        \
  "# raid1\n"                                                                  \
  "# sd_mod\n"

/* Debian's stock modules file plus one entry with options and one virtio
 * driver written with a dash. */
static void test_initramfs_tools_modules(void **state) {
  (void)state;
  const char *in = ITOOLS_HEAD "vmw_pvscsi\n"
                               "  virtio-pci  force_legacy=1\n";
  const char *want = ITOOLS_HEAD "vmw_pvscsi\n"
                                 "  virtio-pci  force_legacy=1\n" ADDED "\n"
                                 "virtio_blk\n"
                                 "virtio_scsi\n"
                                 "virtio_net\n";
  const want_change changes[] = {
      {15, NULL, "virtio_blk", "virtio_blk is not listed"},
      {16, NULL, "virtio_scsi", "virtio_scsi is not listed"},
      {17, NULL, "virtio_net", "virtio_net is not listed"},
  };
  check_fix(run_itools, &v4, "/etc/initramfs-tools/modules", in, want, changes,
            N_ELEMS(changes));
}

/* No final newline; a commented-out virtio line does not count; the
 * requested list has a repeat. */
static void test_initramfs_tools_edge(void **state) {
  (void)state;
  const char *const mods[] = {"virtio_blk", "virtio-blk", "virtio_pci"};
  const mods_opts o = {mods, 3};
  check_fix(run_itools, &o, "/etc/initramfs-tools/modules",
            "# virtio_blk\nraid1",
            "# virtio_blk\nraid1\n" ADDED "\n"
            "virtio_blk\nvirtio_pci\n",
            (const want_change[]){{4, NULL, "virtio_blk", "virtio_blk"},
                                  {5, NULL, "virtio_pci", "virtio_pci"}},
            2);
  check_fix(run_itools, &o, "/etc/initramfs-tools/modules", "",
            ADDED "\nvirtio_blk\nvirtio_pci\n",
            (const want_change[]){{2, NULL, "virtio_blk", "virtio_blk"},
                                  {3, NULL, "virtio_pci", "virtio_pci"}},
            2);
  /* everything present: an identical copy */
  check_fix(run_itools, &o, "/etc/initramfs-tools/modules",
            "virtio_pci\nvirtio_blk\n", "virtio_pci\nvirtio_blk\n", NULL, 0);
}

static void test_dracut_new_file(void **state) {
  (void)state;
  h2k_changes log = {0};
  h2k_error err = {0};
  char *out = h2k_fix_dracut_conf(NULL, virtio4, 4, &log, &err);
  assert_non_null(out);
  const char *want = ADDED "\n"
                           "add_drivers+=\" virtio_blk virtio_scsi virtio_pci "
                           "virtio_net \"\n";
  assert_text(out, want);
  assert_changes(&log, H2K_DRACUT_CONF_PATH,
                 (const want_change[]){
                     {2, NULL,
                      "add_drivers+=\" virtio_blk virtio_scsi virtio_pci "
                      "virtio_net \"",
                      "host-only"}},
                 1);
  h2k_changes_free(&log);
  /* the file as written is complete */
  check_fix(run_dracut, &v4, H2K_DRACUT_CONF_PATH, out, out, NULL, 0);
  free(out);
}

/* An existing drop-in (an earlier run, or the admin's) that already names
 * some drivers: only the rest are added. */
static void test_dracut_existing(void **state) {
  (void)state;
  const char *in = "# local additions\n"
                   "add_drivers+=\" virtio_blk \"\n"
                   "force_drivers+=' virtio-net '\n"
                   "hostonly=\"yes\"\n";
  const char *want = "# local additions\n"
                     "add_drivers+=\" virtio_blk \"\n"
                     "force_drivers+=' virtio-net '\n"
                     "hostonly=\"yes\"\n"
                     "add_drivers+=\" virtio_scsi virtio_pci \"\n";
  check_fix(run_dracut, &v4, H2K_DRACUT_CONF_PATH, in, want,
            (const want_change[]){{5, NULL,
                                   "add_drivers+=\" virtio_scsi virtio_pci \"",
                                   "virtio drivers"}},
            1);
}

/* Arch mkinitcpio.conf with an empty MODULES=() and commented examples. */
static void test_mkinitcpio_empty(void **state) {
  (void)state;
  const char *in =
      "# vim:set ft=sh\n"
      "# MODULES\n"
      "# The following modules are loaded before any boot hooks are\n"
      "# run.  Advanced users may wish to specify all system modules\n"
      "# in this array.  For instance:\n"
      "#     MODULES=(usbhid xhci_hcd)\n"
      "MODULES=()\n"
      "\n"
      "BINARIES=()\n"
      "FILES=()\n"
      "HOOKS=(base udev autodetect microcode modconf kms keyboard keymap "
      "consolefont block filesystems fsck)\n";
  const char *want =
      "# vim:set ft=sh\n"
      "# MODULES\n"
      "# The following modules are loaded before any boot hooks are\n"
      "# run.  Advanced users may wish to specify all system modules\n"
      "# in this array.  For instance:\n"
      "#     MODULES=(usbhid xhci_hcd)\n"
      "MODULES=(virtio_blk virtio_scsi virtio_pci virtio_net)\n"
      "\n"
      "BINARIES=()\n"
      "FILES=()\n"
      "HOOKS=(base udev autodetect microcode modconf kms keyboard keymap "
      "consolefont block filesystems fsck)\n";
  check_fix(run_mkinitcpio, &v4, "/etc/mkinitcpio.conf", in, want,
            (const want_change[]){
                {7, "MODULES=()",
                 "MODULES=(virtio_blk virtio_scsi virtio_pci virtio_net)",
                 "added virtio_blk virtio_scsi virtio_pci virtio_net"}},
            1);
}

/* Existing entries and their order stay; optional "?" entries and dashes
 * count; the last assignment is the one bash uses; multi-line arrays. */
static void test_mkinitcpio_merge(void **state) {
  (void)state;
  check_fix(run_mkinitcpio, &v4, "/etc/mkinitcpio.conf",
            "MODULES=(vmw_pvscsi)\n"
            "MODULES=(ext4 crc32c-intel virtio-pci virtio_net?)\n",
            "MODULES=(vmw_pvscsi)\n"
            "MODULES=(ext4 crc32c-intel virtio-pci virtio_net? virtio_blk "
            "virtio_scsi)\n",
            (const want_change[]){
                {2, "MODULES=(ext4 crc32c-intel virtio-pci virtio_net?)",
                 "MODULES=(ext4 crc32c-intel virtio-pci virtio_net? "
                 "virtio_blk virtio_scsi)",
                 "added virtio_blk virtio_scsi"}},
            1);
  check_fix(run_mkinitcpio, &v4, "/etc/mkinitcpio.conf",
            "MODULES=(\n"
            "  ext4   # root fs\n"
            "  virtio_blk\n"
            ")\n"
            "HOOKS=(base)\n",
            "MODULES=(\n"
            "  ext4   # root fs\n"
            "  virtio_blk\n"
            "virtio_scsi virtio_pci virtio_net)\n"
            "HOOKS=(base)\n",
            (const want_change[]){
                {1, "MODULES=(\n  ext4   # root fs\n  virtio_blk\n)",
                 "MODULES=(\n  ext4   # root fs\n  virtio_blk\nvirtio_scsi "
                 "virtio_pci virtio_net)",
                 "added virtio_scsi virtio_pci virtio_net"}},
            1);
  /* the pre-2017 string form keeps its quotes */
  check_fix(
      run_mkinitcpio, &v4, "/etc/mkinitcpio.conf", "MODULES=\"ext4\"\n",
      "MODULES=\"ext4 virtio_blk virtio_scsi virtio_pci virtio_net\"\n",
      (const want_change[]){{1, "MODULES=\"ext4\"",
                             "MODULES=\"ext4 virtio_blk virtio_scsi virtio_pci "
                             "virtio_net\"",
                             "added"}},
      1);
  /* no MODULES line at all */
  check_fix(
      run_mkinitcpio, &v4, "/etc/mkinitcpio.conf", "HOOKS=(base udev)",
      "HOOKS=(base udev)\n"
      "MODULES=(virtio_blk virtio_scsi virtio_pci virtio_net)\n",
      (const want_change[]){
          {2, NULL, "MODULES=(virtio_blk virtio_scsi virtio_pci virtio_net)",
           "no MODULES setting"}},
      1);
}

/* SLES 11/12 /etc/sysconfig/kernel as installed on VMware. */
static void test_suse_sysconfig_kernel(void **state) {
  (void)state;
  const char *head =
      "## Path:\tSystem/Kernel\n"
      "## Description:\n"
      "## Type:\tstring\n"
      "## Command:\t/sbin/mkinitrd\n"
      "#\n"
      "# This variable contains the list of modules to be added to the "
      "initial\n"
      "# ramdisk by calling the script \"mkinitrd\"\n"
      "#\n";
  const char *tail = "\n"
                     "## Type:\tstring\n"
                     "#\n"
                     "DOMU_INITRD_MODULES=\"xennet xenblk\"\n";
  char in[2048], want[2048];
  snprintf(in, sizeof in,
           "%sINITRD_MODULES=\"ata_piix ata_generic vmw_pvscsi\"\n%s", head,
           tail);
  snprintf(want, sizeof want,
           "%sINITRD_MODULES=\"ata_piix ata_generic vmw_pvscsi virtio_blk "
           "virtio_scsi virtio_pci virtio_net\"\n%s",
           head, tail);
  check_fix(run_suse, &v4, "/etc/sysconfig/kernel", in, want,
            (const want_change[]){
                {9, "INITRD_MODULES=\"ata_piix ata_generic vmw_pvscsi\"",
                 "INITRD_MODULES=\"ata_piix ata_generic vmw_pvscsi "
                 "virtio_blk virtio_scsi virtio_pci virtio_net\"",
                 "added virtio_blk"}},
            1);
  /* empty, bare and missing settings */
  check_fix(run_suse, &v4, "/etc/sysconfig/kernel", "INITRD_MODULES=\"\"\n",
            "INITRD_MODULES=\"virtio_blk virtio_scsi virtio_pci "
            "virtio_net\"\n",
            (const want_change[]){{1, "INITRD_MODULES=\"\"",
                                   "INITRD_MODULES=\"virtio_blk virtio_scsi "
                                   "virtio_pci virtio_net\"",
                                   "added"}},
            1);
  check_fix(run_suse, &v4, "/etc/sysconfig/kernel",
            "INITRD_MODULES=mptspi # old\n",
            "INITRD_MODULES=\"mptspi virtio_blk virtio_scsi virtio_pci "
            "virtio_net\" # old\n",
            (const want_change[]){{1, "INITRD_MODULES=mptspi # old",
                                   "INITRD_MODULES=\"mptspi virtio_blk "
                                   "virtio_scsi virtio_pci virtio_net\" # old",
                                   "added"}},
            1);
  check_fix(run_suse, &v4, "/etc/sysconfig/kernel",
            "# INITRD_MODULES=\"virtio_blk\"\nNO_KMS_IN_INITRD=\"no\"\n",
            "# INITRD_MODULES=\"virtio_blk\"\nNO_KMS_IN_INITRD=\"no\"\n"
            "INITRD_MODULES=\"virtio_blk virtio_scsi virtio_pci "
            "virtio_net\"\n",
            (const want_change[]){{3, NULL,
                                   "INITRD_MODULES=\"virtio_blk virtio_scsi "
                                   "virtio_pci virtio_net\"",
                                   "no INITRD_MODULES setting"}},
            1);
}

static void test_bad_module_names(void **state) {
  (void)state;
  const char *const bad[] = {"virtio_blk", "evil\" ; rm"};
  h2k_error err = {0};
  assert_null(h2k_fix_mkinitcpio_conf("MODULES=()\n", bad, 2, NULL, &err));
  assert_int_equal(err.code, H2K_E_FAIL);
  assert_non_null(strstr(err.message, "bad module name"));
  h2k_err_clear(&err);
  assert_null(h2k_fix_initramfs_tools_modules(NULL, virtio4, 4, NULL, &err));
  assert_non_null(strstr(err.message, "no text"));
  /* the default list */
  assert_int_equal(h2k_n_virtio_modules, 4);
  assert_string_equal(h2k_virtio_modules[0], "virtio_blk");
}

/* lsinitramfs output (Debian 12): plain .ko files. */
static const char lsinitramfs_debian[] =
    "/boot/initrd.img-6.1.0-18-amd64\n"
    "conf\n"
    "conf/arch.conf\n"
    "usr/lib/modules/6.1.0-18-amd64/kernel/drivers/block\n"
    "usr/lib/modules/6.1.0-18-amd64/kernel/drivers/block/virtio_blk.ko\n"
    "usr/lib/modules/6.1.0-18-amd64/kernel/drivers/scsi/virtio_scsi.ko\n"
    "usr/lib/modules/6.1.0-18-amd64/kernel/drivers/virtio/virtio_pci.ko\n"
    "usr/lib/modules/6.1.0-18-amd64/kernel/drivers/net/virtio_net.ko\n";

/* lsinitrd output (RHEL 9): header, then ls -l lines, .ko.xz modules. */
static const char lsinitrd_rhel[] =
    "Image: /boot/initramfs-5.14.0-362.8.1.el9_3.x86_64.img: 33M\n"
    "==================================================================\n"
    "Version: dracut-057-44.git20230822.el9\n"
    "\n"
    "Arguments:  --kver '5.14.0-362.8.1.el9_3.x86_64' -f --add-drivers "
    "'virtio_blk'\n"
    "\n"
    "dracut modules:\n"
    "bash\n"
    "systemd\n"
    "kernel-modules\n"
    "==================================================================\n"
    "drwxr-xr-x  12 root     root            0 Jan 10 09:14 .\n"
    "-rw-r--r--   1 root     root        14020 Jan 10 09:14 usr/lib/modules/"
    "5.14.0-362.8.1.el9_3.x86_64/kernel/drivers/block/virtio_blk.ko.xz\n"
    "-rw-r--r--   1 root     root         9876 Jan 10 09:14 usr/lib/modules/"
    "5.14.0-362.8.1.el9_3.x86_64/kernel/drivers/scsi/vmw_pvscsi.ko.xz\n"
    "lrwxrwxrwx   1 root     root            7 Jan 10 09:14 lib -> usr/lib\n";

/* A VMware host-only initramfs: no virtio at all, and decoys. */
static const char lsinitramfs_vmware[] =
    "usr/lib/modules/6.1.0-18-amd64/kernel/drivers/scsi/vmw_pvscsi.ko\n"
    "usr/lib/modules/6.1.0-18-amd64/kernel/drivers/message/fusion/mptspi.ko\n"
    "usr/lib/modules/6.1.0-18-amd64/kernel/drivers/block/virtio_blk.ko.bak\n"
    "usr/lib/modules/6.1.0-18-amd64/kernel/drivers/block/virtio_blk_x.ko\n"
    "etc/modprobe.d/virtio_blk.conf\n"
    "usr/lib/modules/6.1.0-18-amd64/modules.dep\n";

static void test_initramfs_listing(void **state) {
  (void)state;
  assert_int_equal(h2k_initramfs_virtio_modules(lsinitramfs_debian),
                   H2K_INITRD_VIRTIO_BLK | H2K_INITRD_VIRTIO_PCI |
                       H2K_INITRD_VIRTIO_SCSI | H2K_INITRD_VIRTIO_NET);
  assert_true(h2k_initramfs_has_virtio(lsinitramfs_debian));
  assert_int_equal(h2k_initramfs_virtio_modules(lsinitrd_rhel),
                   H2K_INITRD_VIRTIO_BLK);
  assert_true(h2k_initramfs_has_virtio(lsinitrd_rhel));
  assert_int_equal(h2k_initramfs_virtio_modules(lsinitramfs_vmware), 0);
  assert_false(h2k_initramfs_has_virtio(lsinitramfs_vmware));
  assert_true(h2k_initramfs_has_virtio("lib/modules/6.8.0/kernel/drivers/"
                                       "block/virtio_blk.ko.zst\r\n"));
  assert_true(h2k_initramfs_has_virtio("virtio_blk.ko.gz"));
  assert_false(h2k_initramfs_has_virtio(""));
  assert_false(h2k_initramfs_has_virtio(NULL));
}

static const char kconfig_debian[] =
    "#\n"
    "# Automatically generated file; DO NOT EDIT.\n"
    "# Linux/x86 6.1.0-18-amd64 Kernel Configuration\n"
    "#\n"
    "CONFIG_VIRTIO_BLK_SCSI=y\n"
    "CONFIG_VIRTIO_BLK=m\n"
    "CONFIG_VIRTIO_PCI=y\n"
    "CONFIG_VIRTIO_PCI_LEGACY=y\n"
    "# CONFIG_VIRTIO_MMIO is not set\n"
    "CONFIG_SCSI_VIRTIO=m\n"
    "CONFIG_CMDLINE=\"\"\n";

static void test_kernel_config(void **state) {
  (void)state;
  assert_int_equal(h2k_kernel_config_has(kconfig_debian, "VIRTIO_BLK"), 'm');
  assert_int_equal(h2k_kernel_config_has(kconfig_debian, "CONFIG_VIRTIO_PCI"),
                   'y');
  assert_int_equal(h2k_kernel_config_has(kconfig_debian, "VIRTIO_MMIO"), 0);
  assert_int_equal(h2k_kernel_config_has(kconfig_debian, "VIRTIO_NET"), 0);
  assert_int_equal(h2k_kernel_config_has(kconfig_debian, "VIRTIO"), 0);
  assert_int_equal(h2k_kernel_config_has(kconfig_debian, "CMDLINE"), 0);
  assert_int_equal(h2k_kernel_config_has("CONFIG_VIRTIO_BLK=y", "VIRTIO_BLK"),
                   'y');
  assert_int_equal(h2k_kernel_config_has(NULL, "VIRTIO_BLK"), 0);
  assert_int_equal(h2k_kernel_config_has(kconfig_debian, ""), 0);
}

static void test_check_virtio(void **state) {
  (void)state;
  h2k_error err = {0};
  assert_int_equal(h2k_initramfs_check_virtio(lsinitramfs_debian, NULL,
                                              "6.1.0-18-amd64", &err),
                   0);
  /* virtio_pci built in (Debian), virtio_blk in the image */
  const char *blk_only =
      "usr/lib/modules/6.1.0-18-amd64/kernel/drivers/block/virtio_blk.ko\n";
  assert_int_equal(h2k_initramfs_check_virtio(blk_only, kconfig_debian,
                                              "6.1.0-18-amd64", &err),
                   0);
  /* both built in: nothing needed in the image */
  assert_int_equal(
      h2k_initramfs_check_virtio(
          "", "CONFIG_VIRTIO_BLK=y\nCONFIG_VIRTIO_PCI=y\n", "6.6.0", &err),
      0);
  /* the VMware image: fails, naming the kernel and the driver */
  assert_int_equal(h2k_initramfs_check_virtio(lsinitramfs_vmware,
                                              kconfig_debian, "6.1.0-18-amd64",
                                              &err),
                   -1);
  assert_int_equal(err.code, H2K_E_STAGE);
  assert_non_null(strstr(err.message, "6.1.0-18-amd64 has no virtio_blk"));
  assert_null(strstr(err.message, "virtio_pci"));
  /* virtio_pci a module and missing from the image */
  h2k_err_clear(&err);
  assert_int_equal(h2k_initramfs_check_virtio(
                       lsinitrd_rhel, "CONFIG_VIRTIO_PCI=m\n", "5.14", &err),
                   -1);
  assert_non_null(strstr(err.message, "has no virtio_pci"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_initramfs_tools_modules),
      cmocka_unit_test(test_initramfs_tools_edge),
      cmocka_unit_test(test_dracut_new_file),
      cmocka_unit_test(test_dracut_existing),
      cmocka_unit_test(test_mkinitcpio_empty),
      cmocka_unit_test(test_mkinitcpio_merge),
      cmocka_unit_test(test_suse_sysconfig_kernel),
      cmocka_unit_test(test_bad_module_names),
      cmocka_unit_test(test_initramfs_listing),
      cmocka_unit_test(test_kernel_config),
      cmocka_unit_test(test_check_virtio),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
