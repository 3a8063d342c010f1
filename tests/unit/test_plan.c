/* PLAN: identity + options -> ordered fix operations with reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "plan/plan.h"

static h2k_guest_kernel k61 = {.version = "6.1.0-18-amd64",
                               .initrd = "/boot/initrd.img-6.1.0-18-amd64",
                               .virtio_blk = true,
                               .virtio_net = true,
                               .is_default = true};

/* The Debian 12 VMware-style test guest as INSPECT sees it. */
static h2k_guest_identity debian_vmware(void) {
  h2k_guest_identity id = {
      .os_type = H2K_OS_LINUX,
      .distro = "debian",
      .major = 12,
      .product_name = "Debian GNU/Linux 12 (bookworm)",
      .firmware = H2K_GUEST_FW_BIOS,
      .bootloader = H2K_BOOT_GRUB2,
      .init_systemd = true,
      .net_styles = H2K_NETCFG_IFUPDOWN | H2K_NETCFG_UDEV_RULES,
      .initramfs = H2K_INITRD_INITRAMFS_TOOLS,
      .kernels = &k61,
      .n_kernels = 1,
      .fstab_unstable = true,
      .cmdline_unstable = true,
      .device_map_stale = true,
      .vmware_tools = true,
  };
  return id;
}

static const h2k_plan_opts defaults = {.fstab_mode = "stabilize-all",
                                       .regen_initramfs = true,
                                       .update_grub = true,
                                       .network_fix_level = "moderate",
                                       .remove_vmware_tools = true,
                                       .trim = true};

static void assert_ops(const h2k_plan *p, const enum h2k_fix_op *want,
                       size_t n) {
  assert_int_equal(p->n, n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(p->steps[i].op, want[i]);
    assert_non_null(p->steps[i].reason);
    assert_true(strlen(p->steps[i].reason) > 10);
  }
}

static void test_debian_vmware_full_plan(void **state) {
  (void)state;
  h2k_guest_identity id = debian_vmware();
  h2k_plan p;
  h2k_error err = {0};
  assert_int_equal(h2k_plan_build(&id, &defaults, &p, &err), 0);
  const enum h2k_fix_op want[] = {H2K_OP_FSTAB,
                                  H2K_OP_BOOT_CMDLINE,
                                  H2K_OP_GRUB_DEVICE_MAP,
                                  H2K_OP_INITRAMFS_CONFIG,
                                  H2K_OP_NETWORK,
                                  H2K_OP_VMWARE_TOOLS,
                                  H2K_OP_INITRAMFS_REGEN,
                                  H2K_OP_GRUB_REGEN,
                                  H2K_OP_TRIM};
  assert_ops(&p, want, sizeof want / sizeof *want);
  assert_non_null(strstr(p.steps[6].reason, "6.1.0-18-amd64"));
  assert_non_null(strstr(p.steps[4].reason, "moderate"));
  h2k_plan_free(&p);
}

static void test_stable_guest_plans_less(void **state) {
  (void)state;
  h2k_guest_identity id = debian_vmware();
  id.fstab_unstable = false;
  id.cmdline_unstable = false;
  id.vmware_tools = false;
  id.net_styles = 0;
  h2k_plan_opts o = defaults;
  o.trim = false;
  h2k_plan p;
  h2k_error err = {0};
  assert_int_equal(h2k_plan_build(&id, &o, &p, &err), 0);
  const enum h2k_fix_op want[] = {
      H2K_OP_GRUB_DEVICE_MAP, H2K_OP_INITRAMFS_CONFIG, H2K_OP_INITRAMFS_REGEN};
  assert_ops(&p, want, 3);
  assert_true(p.n_skipped >= 4);
  h2k_plan_free(&p);
}

/* A guest we already converted: everything is in place, so converting it
 * again plans only the steps whose edits find nothing to change. */
static void test_converted_guest_plans_nothing_new(void **state) {
  (void)state;
  h2k_guest_identity id = debian_vmware();
  h2k_guest_kernel k = k61;
  k.initrd_virtio = true;
  id.kernels = &k;
  id.fstab_unstable = false;
  id.cmdline_unstable = false;
  id.device_map_stale = false;
  id.vmware_tools = false;
  h2k_plan p;
  h2k_error err = {0};
  assert_int_equal(h2k_plan_build(&id, &defaults, &p, &err), 0);
  const enum h2k_fix_op want[] = {H2K_OP_NETWORK, H2K_OP_TRIM};
  assert_ops(&p, want, 2);
  bool saw_initrd = false, saw_grub = false;
  for (size_t i = 0; i < p.n_skipped; i++) {
    saw_initrd |= strstr(p.skipped[i], "already holds virtio_blk") != NULL;
    saw_grub |= strstr(p.skipped[i], "already names the root") != NULL;
  }
  assert_true(saw_initrd && saw_grub);
  h2k_plan_free(&p);
}

static void test_options_turn_steps_off(void **state) {
  (void)state;
  h2k_guest_identity id = debian_vmware();
  h2k_plan_opts o = defaults;
  o.fstab_mode = "noop";
  o.regen_initramfs = false;
  o.update_grub = false;
  o.remove_vmware_tools = false;
  o.trim = false;
  h2k_plan p;
  h2k_error err = {0};
  assert_int_equal(h2k_plan_build(&id, &o, &p, &err), 0);
  const enum h2k_fix_op want[] = {H2K_OP_BOOT_CMDLINE, H2K_OP_GRUB_DEVICE_MAP,
                                  H2K_OP_NETWORK};
  assert_ops(&p, want, 3);
  bool saw_noop = false, saw_regen = false;
  for (size_t i = 0; i < p.n_skipped; i++) {
    saw_noop |= strstr(p.skipped[i], "fstab_mode is noop") != NULL;
    saw_regen |= strstr(p.skipped[i], "regen_initramfs is false") != NULL;
  }
  assert_true(saw_noop && saw_regen);
  h2k_plan_free(&p);
}

static void test_rhel_selinux_systemd_boot(void **state) {
  (void)state;
  h2k_guest_identity id = debian_vmware();
  id.distro = "rhel";
  id.bootloader = H2K_BOOT_SYSTEMD_BOOT;
  id.initramfs = H2K_INITRD_DRACUT;
  id.selinux = H2K_SELINUX_ENFORCING;
  id.vmware_tools = false;
  h2k_plan p;
  h2k_error err = {0};
  assert_int_equal(h2k_plan_build(&id, &defaults, &p, &err), 0);
  const enum h2k_fix_op want[] = {
      H2K_OP_FSTAB,   H2K_OP_BOOT_CMDLINE,    H2K_OP_INITRAMFS_CONFIG,
      H2K_OP_NETWORK, H2K_OP_INITRAMFS_REGEN, H2K_OP_SELINUX_RELABEL,
      H2K_OP_TRIM};
  assert_ops(&p, want, sizeof want / sizeof *want);
  h2k_plan_free(&p);
}

static void test_refusals(void **state) {
  (void)state;
  h2k_plan p;
  h2k_error err = {0};
  h2k_guest_identity none = {0};
  assert_int_equal(h2k_plan_build(&none, &defaults, &p, &err), -1);
  assert_int_equal(err.code, H2K_E_STAGE);
  assert_non_null(strstr(err.message, "no operating system found"));
  h2k_guest_identity win = {.os_type = H2K_OS_WINDOWS,
                            .product_name = "Windows Server 2022"};
  assert_int_equal(h2k_plan_build(&win, &defaults, &p, &err), -1);
  assert_int_equal(err.code, H2K_E_NOTIMPL);
  h2k_guest_identity old = debian_vmware();
  h2k_guest_kernel k = k61;
  k.virtio_blk = false;
  old.kernels = &k;
  assert_int_equal(h2k_plan_build(&old, &defaults, &p, &err), -1);
  assert_non_null(strstr(err.message, "virtio_blk"));
  assert_non_null(strstr(err.message, "Debian GNU/Linux 12"));
}

static void test_op_names_unique(void **state) {
  (void)state;
  for (int i = 0; i < H2K_OP_COUNT_; i++)
    for (int j = 0; j < i; j++)
      assert_string_not_equal(h2k_fix_op_name(i), h2k_fix_op_name(j));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_debian_vmware_full_plan),
      cmocka_unit_test(test_stable_guest_plans_less),
      cmocka_unit_test(test_converted_guest_plans_nothing_new),
      cmocka_unit_test(test_options_turn_steps_off),
      cmocka_unit_test(test_rhel_selinux_systemd_boot),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_op_names_unique),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
