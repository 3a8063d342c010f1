/* Kernel command line, /etc/default/grub, grub.cfg, BLS, extlinux, grubenv
 * and device.map transforms. */
#include "storage_test.h"

#include "fix/bootloader.h"

typedef struct boot_opts {
  const h2k_devmap *map;
  const char *root_dev;
  const char *file;
} boot_opts;

static const boot_opts debian = {&test_map, "/dev/sda1", NULL};

static char *run_grub_default(const char *text, const void *ctx,
                              h2k_changes *log, h2k_error *err) {
  const boot_opts *o = ctx;
  return h2k_fix_grub_default(text, o->map, o->root_dev, log, err);
}

static char *run_cmdline(const char *text, const void *ctx, h2k_changes *log,
                         h2k_error *err) {
  const boot_opts *o = ctx;
  return h2k_fix_kernel_cmdline(text, o->map, o->root_dev, o->file, 1, log,
                                err);
}

static char *run_grub_cfg(const char *text, const void *ctx, h2k_changes *log,
                          h2k_error *err) {
  const boot_opts *o = ctx;
  return h2k_fix_grub_cfg(text, o->map, o->root_dev, o->file, log, err);
}

static char *run_bls(const char *text, const void *ctx, h2k_changes *log,
                     h2k_error *err) {
  const boot_opts *o = ctx;
  return h2k_fix_bls_entry(text, o->map, o->root_dev, o->file, log, err);
}

static char *run_extlinux(const char *text, const void *ctx, h2k_changes *log,
                          h2k_error *err) {
  const boot_opts *o = ctx;
  return h2k_fix_extlinux_conf(text, o->map, o->root_dev, o->file, log, err);
}

static char *run_grubenv(const char *text, const void *ctx, h2k_changes *log,
                         h2k_error *err) {
  const boot_opts *o = ctx;
  return h2k_fix_grubenv(text, o->map, o->root_dev, o->file, log, err);
}

#define RESUME_BYPATH "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part5"

/* Debian /etc/default/grub on VMware with a serial console, UUIDs disabled
 * and a GRUB_DEVICE pin. */
static void test_grub_default_debian(void **state) {
  (void)state;
  const char *head =
      "# If you change this file, run 'update-grub' afterwards to update\n"
      "# /boot/grub/grub.cfg.\n"
      "# For full documentation of the options in this file, see:\n"
      "#   info -f grub -n 'Simple configuration'\n"
      "\n"
      "GRUB_DEFAULT=0\n"
      "GRUB_TIMEOUT=5\n"
      "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
      "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n";
  const char *tail = "\n"
                     "# Uncomment to use basic console\n"
                     "#GRUB_TERMINAL=console\n"
                     "GRUB_TERMINAL=\"console serial\"\n"
                     "GRUB_SERIAL_COMMAND=\"serial --speed=115200\"\n";
  char in[4096], want[4096];
  snprintf(in, sizeof in,
           "%sGRUB_CMDLINE_LINUX=\"root=/dev/sda1  resume=" RESUME_BYPATH
           " console=tty0 console=ttyS0,115200n8\"\n%s"
           "GRUB_DISABLE_LINUX_UUID=true\n"
           "GRUB_DEVICE=/dev/sda1   # pinned by the VMware template\n",
           head, tail);
  snprintf(want, sizeof want,
           "%sGRUB_CMDLINE_LINUX=\"root=UUID=" UUID_SDA1
           "  resume=UUID=" UUID_SDA5
           " console=tty0 console=ttyS0,115200n8\"\n%s"
           "GRUB_DISABLE_LINUX_UUID=false\n"
           "#GRUB_DEVICE=/dev/sda1   # pinned by the VMware template\n",
           head, tail);
  const want_change changes[] = {
      {10,
       "GRUB_CMDLINE_LINUX=\"root=/dev/sda1  resume=" RESUME_BYPATH
       " console=tty0 console=ttyS0,115200n8\"",
       "GRUB_CMDLINE_LINUX=\"root=UUID=" UUID_SDA1 "  resume=UUID=" UUID_SDA5
       " console=tty0 console=ttyS0,115200n8\"",
       "stable ID for /dev/sda1 (root=); stable ID for " RESUME_BYPATH
       " (resume=)"},
      {16, "GRUB_DISABLE_LINUX_UUID=true", "GRUB_DISABLE_LINUX_UUID=false",
       "grub-mkconfig writes root=/dev/sdXN"},
      {17, "GRUB_DEVICE=/dev/sda1   # pinned by the VMware template",
       "#GRUB_DEVICE=/dev/sda1   # pinned by the VMware template",
       "pins grub-mkconfig to /dev/sda1"},
  };
  check_fix(run_grub_default, &debian, "/etc/default/grub", in, want, changes,
            N_ELEMS(changes));
}

/* RHEL: LVM names and commented settings stay; single quotes and export
 * are understood; a quoted "true" is flipped inside its quotes. */
static void test_grub_default_quoting(void **state) {
  (void)state;
  const char *in =
      "GRUB_TIMEOUT=5\n"
      "GRUB_CMDLINE_LINUX=\"crashkernel=1G-4G:192M,4G-64G:256M "
      "resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap "
      "rhgb quiet\"\n"
      "#GRUB_DISABLE_LINUX_UUID=true\n"
      "# GRUB_DEVICE=/dev/sda1\n"
      "export GRUB_CMDLINE_LINUX_DEFAULT='quiet root=/dev/sda2 "
      "rootflags=subvol=@'\n"
      "GRUB_DISABLE_LINUX_UUID=\"true\"\n"
      "GRUB_DEVICE_BOOT=/dev/mapper/vg0-boot\n"
      "GRUB_ENABLE_BLSCFG=true\n";
  const char *want =
      "GRUB_TIMEOUT=5\n"
      "GRUB_CMDLINE_LINUX=\"crashkernel=1G-4G:192M,4G-64G:256M "
      "resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap "
      "rhgb quiet\"\n"
      "#GRUB_DISABLE_LINUX_UUID=true\n"
      "# GRUB_DEVICE=/dev/sda1\n"
      "export GRUB_CMDLINE_LINUX_DEFAULT='quiet root=UUID=" UUID_SDA2
      " rootflags=subvol=@'\n"
      "GRUB_DISABLE_LINUX_UUID=\"false\"\n"
      "GRUB_DEVICE_BOOT=/dev/mapper/vg0-boot\n"
      "GRUB_ENABLE_BLSCFG=true\n";
  const want_change changes[] = {
      {5,
       "export GRUB_CMDLINE_LINUX_DEFAULT='quiet root=/dev/sda2 "
       "rootflags=subvol=@'",
       "export GRUB_CMDLINE_LINUX_DEFAULT='quiet root=UUID=" UUID_SDA2
       " rootflags=subvol=@'",
       "stable ID for /dev/sda2 (root=)"},
      {6, "GRUB_DISABLE_LINUX_UUID=\"true\"",
       "GRUB_DISABLE_LINUX_UUID=\"false\"", "root=UUID="},
  };
  check_fix(run_grub_default, &debian, "/etc/default/grub", in, want, changes,
            N_ELEMS(changes));
}

/* A root= naming a device the map does not know (the old controller
 * order) falls back to the inspected root; without one it is kept with a
 * warning. A label with a blank cannot go on a command line unquoted. */
static void test_cmdline_root_fallback(void **state) {
  (void)state;
  const boot_opts with_root = {&test_map, "/dev/sda1", "/etc/kernel/cmdline"};
  const boot_opts without = {&test_map, NULL, "/etc/kernel/cmdline"};
  check_fix(run_cmdline, &with_root, "/etc/kernel/cmdline",
            "root=/dev/sdz3 ro quiet\n", "root=UUID=" UUID_SDA1 " ro quiet\n",
            (const want_change[]){{1, "root=/dev/sdz3 ro quiet",
                                   "root=UUID=" UUID_SDA1 " ro quiet",
                                   "stable ID for /dev/sdz3 (root=)"}},
            1);
  check_fix(run_cmdline, &without, "/etc/kernel/cmdline",
            "root=/dev/sdz3 resume=/dev/sdz4 ro quiet\n",
            "root=/dev/sdz3 resume=/dev/sdz4 ro quiet\n",
            (const want_change[]){
                {1, "root=/dev/sdz3 resume=/dev/sdz4 ro quiet",
                 "root=/dev/sdz3 resume=/dev/sdz4 ro quiet",
                 "no stable ID for /dev/sdz3 (root=): left as is"},
                {1, "root=/dev/sdz3 resume=/dev/sdz4 ro quiet",
                 "root=/dev/sdz3 resume=/dev/sdz4 ro quiet",
                 "no stable ID for /dev/sdz4 (resume=): left as is"}},
            2);
  /* resume= never falls back to the root device */
  check_fix(run_cmdline, &with_root, "/etc/kernel/cmdline", "resume=/dev/sdz4",
            "resume=/dev/sdz4",
            (const want_change[]){{1, "resume=/dev/sdz4", "resume=/dev/sdz4",
                                   "no stable ID for /dev/sdz4 (resume=)"}},
            1);
  check_fix(run_cmdline, &without, "/etc/kernel/cmdline", "root=/dev/sde1 ro",
            "root=/dev/sde1 ro",
            (const want_change[]){{1, "root=/dev/sde1 ro", "root=/dev/sde1 ro",
                                   "stable ID of /dev/sde1 (root=) cannot "
                                   "be written unquoted"}},
            1);
}

/* Arguments other than root=/resume= are kept byte for byte, including
 * quoted values with blanks; a quoted root= argument is understood. */
static void test_cmdline_arguments_kept(void **state) {
  (void)state;
  const boot_opts o = {&test_map, NULL, "/proc/cmdline"};
  check_fix(run_cmdline, &o, "/proc/cmdline",
            "BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 \"root=/dev/sda1\" ro "
            "dyndbg=\"file drivers/x.c +p\" rootwait\tnoresume "
            "root_delay=5 resume_offset=34816 rd.luks.uuid=abc",
            "BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=UUID=" UUID_SDA1 " ro "
            "dyndbg=\"file drivers/x.c +p\" rootwait\tnoresume "
            "root_delay=5 resume_offset=34816 rd.luks.uuid=abc",
            (const want_change[]){
                {1,
                 "BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 \"root=/dev/sda1\" ro "
                 "dyndbg=\"file drivers/x.c +p\" rootwait\tnoresume "
                 "root_delay=5 resume_offset=34816 rd.luks.uuid=abc",
                 "BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=UUID=" UUID_SDA1
                 " ro dyndbg=\"file drivers/x.c +p\" rootwait\tnoresume "
                 "root_delay=5 resume_offset=34816 rd.luks.uuid=abc",
                 "stable ID for /dev/sda1 (root=)"}},
            1);
  check_fix(run_cmdline, &o, "/proc/cmdline",
            "root=UUID=" UUID_SDA1 " root=/dev/mapper/vg0-root "
            "resume=PARTUUID=a1b2c3d4-05 root=ZFS=rpool/ROOT ",
            "root=UUID=" UUID_SDA1 " root=/dev/mapper/vg0-root "
            "resume=PARTUUID=a1b2c3d4-05 root=ZFS=rpool/ROOT ",
            NULL, 0);
  check_fix(run_cmdline, &o, "/proc/cmdline", "", "", NULL, 0);
}

/* RHEL 9 BLS entry written on VMware with a kernel disk name. */
static void test_bls_entry_rhel(void **state) {
  (void)state;
  const boot_opts o = {&test_map, "/dev/sda2",
                       "/boot/loader/entries/"
                       "4e9b2c1d-5.14.0-362.8.1.el9_3.x86_64.conf"};
  const char *in =
      "title Red Hat Enterprise Linux (5.14.0-362.8.1.el9_3.x86_64) 9.3 "
      "(Plow)\n"
      "version 5.14.0-362.8.1.el9_3.x86_64\n"
      "linux /vmlinuz-5.14.0-362.8.1.el9_3.x86_64\n"
      "initrd /initramfs-5.14.0-362.8.1.el9_3.x86_64.img $tuned_initrd\n"
      "options root=/dev/sda2 ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M "
      "resume=/dev/sda5 rhgb quiet $tuned_params\n"
      "grub_users $grub_users\n"
      "grub_arg --unrestricted\n"
      "grub_class rhel\n";
  const char *want =
      "title Red Hat Enterprise Linux (5.14.0-362.8.1.el9_3.x86_64) 9.3 "
      "(Plow)\n"
      "version 5.14.0-362.8.1.el9_3.x86_64\n"
      "linux /vmlinuz-5.14.0-362.8.1.el9_3.x86_64\n"
      "initrd /initramfs-5.14.0-362.8.1.el9_3.x86_64.img $tuned_initrd\n"
      "options root=UUID=" UUID_SDA2
      " ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M "
      "resume=UUID=" UUID_SDA5 " rhgb quiet $tuned_params\n"
      "grub_users $grub_users\n"
      "grub_arg --unrestricted\n"
      "grub_class rhel\n";
  const want_change changes[] = {
      {5,
       "options root=/dev/sda2 ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M "
       "resume=/dev/sda5 rhgb quiet $tuned_params",
       "options root=UUID=" UUID_SDA2
       " ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M "
       "resume=UUID=" UUID_SDA5 " rhgb quiet $tuned_params",
       "stable ID for /dev/sda2 (root=); stable ID for /dev/sda5 (resume=)"},
  };
  check_fix(run_bls, &o, o.file, in, want, changes, N_ELEMS(changes));
}

/* RHEL 8 BLS entries point at grubenv ($kernelopts); LVM roots are
 * stable: nothing to do. */
static void test_bls_entry_untouched(void **state) {
  (void)state;
  const boot_opts o = {&test_map, "/dev/sda2", "/boot/loader/entries/a.conf"};
  const char *in = "title Red Hat Enterprise Linux (4.18.0-513.el8.x86_64)\n"
                   "linux /vmlinuz-4.18.0-513.el8.x86_64\n"
                   "options $kernelopts $tuned_params\n"
                   "  options root=/dev/mapper/rhel-root ro\n";
  check_fix(run_bls, &o, o.file, in, in, NULL, 0);
}

/* grub.cfg from Debian with UUIDs disabled: only linux lines change;
 * search --fs-uuid and set root='hd0,msdos1' are GRUB's own addressing. */
static void test_grub_cfg(void **state) {
  (void)state;
  const boot_opts o = {&test_map, "/dev/sda1", "/boot/grub/grub.cfg"};
  const char *top =
      "menuentry 'Debian GNU/Linux' --class debian --class gnu-linux "
      "--class os $menuentry_id_option 'gnulinux-simple-" UUID_SDA1 "' {\n"
      "\tload_video\n"
      "\tinsmod gzio\n"
      "\tinsmod part_msdos\n"
      "\tinsmod ext2\n"
      "\tset root='hd0,msdos1'\n"
      "\tif [ x$feature_platform_search_hint = xy ]; then\n"
      "\t  search --no-floppy --fs-uuid --set=root --hint-bios=hd0,msdos1 "
      "--hint-efi=hd0,msdos1 --hint-baremetal=ahci0,msdos1  " UUID_SDA1 "\n"
      "\telse\n"
      "\t  search --no-floppy --fs-uuid --set=root " UUID_SDA1 "\n"
      "\tfi\n"
      "\techo\t'Loading Linux 6.1.0-18-amd64 ...'\n";
  const char *mid = "\techo\t'Loading initial ramdisk ...'\n"
                    "\tinitrd\t/boot/initrd.img-6.1.0-18-amd64\n"
                    "}\n"
                    "menuentry 'old' {\n";
  char in[4096], want[4096];
  snprintf(in, sizeof in,
           "%s\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro  "
           "quiet\n%s"
           "\tlinux16 /vmlinuz-old root=" RESUME_BYPATH "\n"
           "\tlinuxefi /vmlinuz-efi root=UUID=" UUID_SDA1 " ro\n"
           "\tlinux /memtest86+.bin\n"
           "}\n",
           top, mid);
  snprintf(want, sizeof want,
           "%s\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=UUID=" UUID_SDA1
           " ro  quiet\n%s"
           "\tlinux16 /vmlinuz-old root=UUID=" UUID_SDA5 "\n"
           "\tlinuxefi /vmlinuz-efi root=UUID=" UUID_SDA1 " ro\n"
           "\tlinux /memtest86+.bin\n"
           "}\n",
           top, mid);
  const want_change changes[] = {
      {13, "\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro  quiet",
       "\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=UUID=" UUID_SDA1
       " ro  quiet",
       "stable ID for /dev/sda1 (root=)"},
      {18, "\tlinux16 /vmlinuz-old root=" RESUME_BYPATH,
       "\tlinux16 /vmlinuz-old root=UUID=" UUID_SDA5,
       "stable ID for " RESUME_BYPATH " (root=)"},
  };
  check_fix(run_grub_cfg, &o, o.file, in, want, changes, N_ELEMS(changes));
}

/* GRUB legacy grub.conf (RHEL 6): kernel lines. */
static void test_grub_legacy_conf(void **state) {
  (void)state;
  const boot_opts o = {&test_map, NULL, "/boot/grub/grub.conf"};
  const char *in = "default=0\n"
                   "timeout=5\n"
                   "splashimage=(hd0,0)/grub/splash.xpm.gz\n"
                   "title CentOS (2.6.32-754.el6.x86_64)\n"
                   "        root (hd0,0)\n"
                   "        kernel /vmlinuz-2.6.32-754.el6.x86_64 ro "
                   "root=/dev/sdb1 rd_NO_LUKS LANG=en_US.UTF-8 rhgb quiet\n"
                   "        initrd /initramfs-2.6.32-754.el6.x86_64.img\n";
  const char *want =
      "default=0\n"
      "timeout=5\n"
      "splashimage=(hd0,0)/grub/splash.xpm.gz\n"
      "title CentOS (2.6.32-754.el6.x86_64)\n"
      "        root (hd0,0)\n"
      "        kernel /vmlinuz-2.6.32-754.el6.x86_64 ro "
      "root=PARTUUID=" PARTUUID_SDB1 " rd_NO_LUKS LANG=en_US.UTF-8 rhgb quiet\n"
      "        initrd /initramfs-2.6.32-754.el6.x86_64.img\n";
  const want_change changes[] = {
      {6,
       "        kernel /vmlinuz-2.6.32-754.el6.x86_64 ro root=/dev/sdb1 "
       "rd_NO_LUKS LANG=en_US.UTF-8 rhgb quiet",
       "        kernel /vmlinuz-2.6.32-754.el6.x86_64 ro "
       "root=PARTUUID=" PARTUUID_SDB1 " rd_NO_LUKS LANG=en_US.UTF-8 rhgb quiet",
       "stable ID for /dev/sdb1"},
  };
  check_fix(run_grub_cfg, &o, o.file, in, want, changes, N_ELEMS(changes));
}

/* Alpine extlinux.conf: APPEND and lowercase append. */
static void test_extlinux(void **state) {
  (void)state;
  const boot_opts o = {&test_map, NULL, "/boot/extlinux.conf"};
  const char *in = "DEFAULT lts\n"
                   "PROMPT 0\n"
                   "LABEL lts\n"
                   "  MENU LABEL Linux lts\n"
                   "  LINUX vmlinuz-lts\n"
                   "  INITRD initramfs-lts\n"
                   "  APPEND root=/dev/sda1 modules=sd-mod,usb-storage,ext4 "
                   "quiet rootfstype=ext4\n"
                   "label rescue\n"
                   "\tkernel vmlinuz-lts\n"
                   "\tappend\troot=/dev/sdc1 single\n"
                   "# APPEND root=/dev/sda1\n";
  const char *want = "DEFAULT lts\n"
                     "PROMPT 0\n"
                     "LABEL lts\n"
                     "  MENU LABEL Linux lts\n"
                     "  LINUX vmlinuz-lts\n"
                     "  INITRD initramfs-lts\n"
                     "  APPEND root=UUID=" UUID_SDA1
                     " modules=sd-mod,usb-storage,ext4 quiet rootfstype=ext4\n"
                     "label rescue\n"
                     "\tkernel vmlinuz-lts\n"
                     "\tappend\troot=LABEL=BACKUP single\n"
                     "# APPEND root=/dev/sda1\n";
  const want_change changes[] = {
      {7,
       "  APPEND root=/dev/sda1 modules=sd-mod,usb-storage,ext4 quiet "
       "rootfstype=ext4",
       "  APPEND root=UUID=" UUID_SDA1 " modules=sd-mod,usb-storage,ext4 quiet "
       "rootfstype=ext4",
       "stable ID for /dev/sda1 (root=)"},
      {10, "\tappend\troot=/dev/sdc1 single",
       "\tappend\troot=LABEL=BACKUP single", "stable ID for /dev/sdc1 (root=)"},
  };
  check_fix(run_extlinux, &o, o.file, in, want, changes, N_ELEMS(changes));
}

static char *pad_block(const char *body, size_t size) {
  char *s = malloc(size + 1);
  size_t n = strlen(body);
  assert_true(n <= size);
  memcpy(s, body, n);
  memset(s + n, '#', size - n);
  s[size] = '\0';
  return s;
}

/* RHEL 8 grubenv: kernelopts is fixed, the block stays 1024 bytes. */
static void test_grubenv(void **state) {
  (void)state;
  const boot_opts o = {&test_map, NULL, "/boot/grub2/grubenv"};
  char *in = pad_block("# GRUB Environment Block\n"
                       "saved_entry=4e9b2c1d-4.18.0-513.el8.x86_64\n"
                       "kernelopts=root=/dev/sda2 ro resume=/dev/sda5 rhgb "
                       "quiet \n"
                       "boot_success=0\n",
                       1024);
  char *want = pad_block("# GRUB Environment Block\n"
                         "saved_entry=4e9b2c1d-4.18.0-513.el8.x86_64\n"
                         "kernelopts=root=UUID=" UUID_SDA2
                         " ro resume=UUID=" UUID_SDA5 " rhgb quiet \n"
                         "boot_success=0\n",
                         1024);
  const want_change changes[] = {
      {3, "kernelopts=root=/dev/sda2 ro resume=/dev/sda5 rhgb quiet ",
       "kernelopts=root=UUID=" UUID_SDA2 " ro resume=UUID=" UUID_SDA5
       " rhgb quiet ",
       "stable ID for /dev/sda2 (root=)"},
  };
  check_fix(run_grubenv, &o, o.file, in, want, changes, N_ELEMS(changes));
  free(in);
  free(want);

  /* No room left in the block: an error, not a grown file. */
  const char *body = "# GRUB Environment Block\nkernelopts=root=/dev/sda2\n";
  char *full = pad_block(body, strlen(body) + 3);
  h2k_error err = {0};
  assert_null(h2k_fix_grubenv(full, &test_map, NULL, o.file, NULL, &err));
  assert_int_equal(err.code, H2K_E_STAGE);
  assert_non_null(strstr(err.message, "does not fit"));
  free(full);
}

static void test_device_map(void **state) {
  (void)state;
  assert_true(h2k_device_map_is_stale("# this device map was generated by "
                                      "anaconda\n(hd0)      /dev/sda\n"));
  assert_true(h2k_device_map_is_stale("(fd0)\t/dev/fd0\n(hd0)\t/dev/disk/by-id/"
                                      "ata-VMware_Virtual_IDE_Hard_Drive_"
                                      "00000000000000000001\n"));
  assert_true(h2k_device_map_is_stale("(hd1) /dev/vdb"));
  assert_false(h2k_device_map_is_stale("# (hd0) /dev/sda\n\n"));
  assert_false(h2k_device_map_is_stale("(hd0) /dev/mapper/mpatha\n"));
  assert_false(h2k_device_map_is_stale("(fd0) /dev/fd0\n"));
  assert_false(h2k_device_map_is_stale(""));
  assert_false(h2k_device_map_is_stale(NULL));
}

static void test_errors(void **state) {
  (void)state;
  h2k_error err = {0};
  assert_null(h2k_fix_grub_default(NULL, &test_map, NULL, NULL, &err));
  assert_int_equal(err.code, H2K_E_FAIL);
  assert_non_null(strstr(err.message, "/etc/default/grub"));
  h2k_err_clear(&err);
  assert_null(h2k_fix_kernel_cmdline("root=/dev/sda1", NULL, NULL,
                                     "/etc/kernel/cmdline", 1, NULL, &err));
  assert_non_null(strstr(err.message, "device map"));
  /* An unterminated quote continues on the next line: left alone. */
  const char *in = "GRUB_CMDLINE_LINUX=\"root=/dev/sda1\n quiet\"\n";
  check_fix(run_grub_default, &debian, "/etc/default/grub", in, in, NULL, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grub_default_debian),
      cmocka_unit_test(test_grub_default_quoting),
      cmocka_unit_test(test_cmdline_root_fallback),
      cmocka_unit_test(test_cmdline_arguments_kept),
      cmocka_unit_test(test_bls_entry_rhel),
      cmocka_unit_test(test_bls_entry_untouched),
      cmocka_unit_test(test_grub_cfg),
      cmocka_unit_test(test_grub_legacy_conf),
      cmocka_unit_test(test_extlinux),
      cmocka_unit_test(test_grubenv),
      cmocka_unit_test(test_device_map),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
