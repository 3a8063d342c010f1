/* serial.c: boot and failure markers on the serial console, and the tail
 * that goes into the error message. Texts as real guests print them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "validate/validate.h"

static enum h2k_serial_mark scan(const char *text, h2k_serial_verdict *v) {
  h2k_serial_scan(text, strlen(text), v);
  return v->mark;
}

static enum h2k_serial_mark line(const char *s) {
  return h2k_serial_classify_line(s, strlen(s));
}

static void test_login_prompt(void **state) {
  (void)state;
  h2k_serial_verdict v;
  /* agetty: no newline after the prompt, CR LF before it */
  const char *t = "[    1.234] Run /init as init process\r\n"
                  "\r\nDebian GNU/Linux 12 debian12 ttyS0\r\n\r\n"
                  "debian12 login: ";
  assert_int_equal(scan(t, &v), H2K_MARK_LOGIN);
  assert_string_equal(v.line, "debian12 login:");
  assert_true(v.any_output);
  assert_true(h2k_serial_mark_is_boot(v.mark));
  assert_false(h2k_serial_mark_is_failure(v.mark));
  assert_int_equal(line("login:"), H2K_MARK_LOGIN);
  assert_int_equal(line("\x1b[0mhost login: \r"), H2K_MARK_LOGIN);
  /* not prompts */
  assert_int_equal(line("Starting systemd-logind.service - User Login "
                        "Management..."),
                   H2K_MARK_NONE);
  assert_int_equal(line("pam: last login: Mon"), H2K_MARK_NONE);
  assert_int_equal(line("autologin:"), H2K_MARK_NONE);
  assert_int_equal(line("debian12 login: root"), H2K_MARK_NONE);
}

static void test_multi_user(void **state) {
  (void)state;
  /* systemd 252 (Debian 12), with colour */
  assert_int_equal(line("[\x1b[0;32m  OK  \x1b[0m] Reached target "
                        "\x1b[0;1;39mmulti-user.target\x1b[0m - Multi-User "
                        "System."),
                   H2K_MARK_MULTIUSER);
  /* older systemd */
  assert_int_equal(line("[  OK  ] Reached target Multi-User System."),
                   H2K_MARK_MULTIUSER);
  assert_int_equal(line("[  OK  ] Reached target Basic System."),
                   H2K_MARK_NONE);
  assert_int_equal(line("[  OK  ] Stopped target Multi-User System."),
                   H2K_MARK_NONE);
}

static void test_initramfs_alert(void **state) {
  (void)state;
  h2k_serial_verdict v;
  /* debian12-vmware on virtio-blk (tests/guests) */
  const char *t =
      "Begin: Waiting for root file system ... Begin: Running /scripts/local-"
      "block ... done.\r\n"
      "Gave up waiting for root file system device.  Common problems:\r\n"
      " - Boot args (cat /proc/cmdline)\r\n"
      "ALERT!  /dev/sda1 does not exist.  Dropping to a shell!\r\n"
      "\r\n\r\nBusyBox v1.35.0 (Debian 1:1.35.0-4+b3) built-in shell (ash)\r\n"
      "(initramfs) ";
  /* "Gave up waiting" comes first; the ALERT! line names the device */
  assert_int_equal(scan(t, &v), H2K_MARK_ALERT);
  assert_true(h2k_serial_mark_is_failure(v.mark));
  assert_string_equal(
      v.line, "ALERT!  /dev/sda1 does not exist.  Dropping to a shell!");
  assert_string_equal(v.detail, "");
  /* cut before the ALERT! line: the first failure stands */
  h2k_serial_scan(t, (size_t)(strstr(t, "ALERT") - t), &v);
  assert_int_equal(v.mark, H2K_MARK_ROOTWAIT);
  assert_string_equal(v.line, "Gave up waiting for root file system device. "
                              " Common problems:");
  assert_int_equal(line("Gave up waiting for root device."), H2K_MARK_ROOTWAIT);
  assert_int_equal(line("ALERT!  /dev/sda1 does not exist.  Dropping to a "
                        "shell!"),
                   H2K_MARK_ALERT);
  assert_int_equal(line("(initramfs) "), H2K_MARK_INITRAMFS_SHELL);
  const char *t2 = "ALERT!  UUID=abc does not exist.  Dropping to a shell!\n";
  assert_int_equal(scan(t2, &v), H2K_MARK_ALERT);
  assert_string_equal(v.detail, "");
}

static void test_panic(void **state) {
  (void)state;
  h2k_serial_verdict v;
  const char *t =
      "[    2.1] VFS: Cannot open root device \"sda1\" or unknown-block(0,0)\n"
      "[    2.1] Please append a correct \"root=\" boot option\n"
      "[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs on "
      "unknown-block(0,0)\n"
      "[    2.1] ---[ end Kernel panic - not syncing: VFS ]---\n";
  assert_int_equal(scan(t, &v), H2K_MARK_PANIC);
  assert_non_null(strstr(v.line, "Kernel panic - not syncing: VFS"));
  assert_string_equal(h2k_serial_mark_name(v.mark), "kernel panic");
}

static void test_emergency_with_cause(void **state) {
  (void)state;
  h2k_serial_verdict v;
  /* systemd: a device in fstab never appears */
  const char *t =
      "[ TIME ] Timed out waiting for device \x1b[0;1;39mdev-sda1.device\x1b[0m"
      " - /dev/sda1.\r\n"
      "[DEPEND] Dependency failed for boot.mount - /boot.\r\n"
      "You are in emergency mode. After logging in, type \"journalctl -xb\" "
      "to view\r\n"
      "Give root password for maintenance\r\n"
      "(or press Control-D to continue): ";
  assert_int_equal(scan(t, &v), H2K_MARK_EMERGENCY);
  assert_string_equal(v.detail,
                      "[DEPEND] Dependency failed for boot.mount - /boot.");
  /* dracut */
  const char *d =
      "[  180.1] dracut-initqueue[300]: Warning: dracut-initqueue: timeout, "
      "still waiting for following initqueue hooks:\n"
      "[  180.2] dracut-initqueue[300]: Warning: /dev/mapper/rhel-root does "
      "not exist\n"
      "Generating \"/run/initramfs/rdsosreport.txt\"\n"
      "Entering emergency mode. Exit the shell to continue.\n"
      "dracut:/# ";
  assert_int_equal(scan(d, &v), H2K_MARK_EMERGENCY);
  assert_non_null(strstr(v.detail, "/dev/mapper/rhel-root does not exist"));
  assert_int_equal(line("dracut:/# "), H2K_MARK_EMERGENCY);
  assert_int_equal(line("         Starting dracut-emergency.service - "
                        "Dracut Emergency Shell..."),
                   H2K_MARK_EMERGENCY);
}

static void test_grub_rescue(void **state) {
  (void)state;
  assert_int_equal(line("grub rescue> "), H2K_MARK_GRUB_RESCUE);
  assert_int_equal(line("Entering rescue mode..."), H2K_MARK_GRUB_RESCUE);
  assert_int_equal(line("error: no such device: 1234."), H2K_MARK_NONE);
}

static void test_uefi_shell(void **state) {
  (void)state;
  h2k_serial_verdict v;
  /* OVMF with nothing bootable on the disk (seen under QEMU 7.2) */
  const char *t =
      "\x1b[2J\x1b[01;01HBdsDxe: failed to load Boot0001 \"UEFI Misc Device\" "
      "from PciRoot(0x0)/Pci(0x2,0x1)/Pci(0x0,0x0): Not Found\r\n"
      "BdsDxe: loading Boot0002 \"EFI Internal Shell\" from Fv(7CB8)\r\n"
      "\x1b[2J\x1b[01;01H\x1b[01;01HUEFI Interactive Shell v2.2\r\n"
      "EDK II\r\n"
      "\x1b[08;01H\x1b[1m\x1b[33m\x1b[40mShell> \x1b[0m";
  assert_int_equal(scan(t, &v), H2K_MARK_UEFI_SHELL);
  assert_string_equal(v.line, "Shell>");
  assert_non_null(strstr(v.detail, "failed to load Boot0001"));
  assert_int_equal(line("\x1b[1mShell> "), H2K_MARK_UEFI_SHELL);
  assert_int_equal(line("UEFI Interactive Shell v2.2"), H2K_MARK_NONE);
}

static void test_first_marker_wins(void **state) {
  (void)state;
  h2k_serial_verdict v;
  /* a failed mount earlier, then a login prompt anyway: booted */
  const char *t = "[FAILED] Failed to mount mnt-data.mount - /mnt/data.\n"
                  "[  OK  ] Reached target multi-user.target - Multi-User "
                  "System.\n"
                  "host login: ";
  assert_int_equal(scan(t, &v), H2K_MARK_MULTIUSER);
  assert_string_equal(v.detail, "");
  /* nothing at all / only blanks and escapes */
  assert_int_equal(scan("", &v), H2K_MARK_NONE);
  assert_false(v.any_output);
  assert_int_equal(scan("\r\n \x1b[2J\r\n", &v), H2K_MARK_NONE);
  assert_false(v.any_output);
  assert_int_equal(scan("SeaBIOS (version 1.16)\n", &v), H2K_MARK_NONE);
  assert_true(v.any_output);
}

static void test_clean_line(void **state) {
  (void)state;
  char out[64];
  const char *s = "\x1b[0;32m  OK  \x1b[0m\tdone\x07\xe2\x97\x8f end \r";
  h2k_serial_clean_line(s, strlen(s), out, sizeof out);
  assert_string_equal(out, "OK   done end");
  h2k_serial_clean_line("abcdef", 6, out, 4);
  assert_string_equal(out, "abc");
  h2k_serial_clean_line("\x1b[", 2, out, sizeof out); /* cut escape */
  assert_string_equal(out, "");
}

static void test_tail(void **state) {
  (void)state;
  char text[8192] = "";
  for (int i = 1; i <= 30; i++) {
    char l[64];
    snprintf(l, sizeof l, "line %d\r\n\r\n", i);
    strcat(text, l);
  }
  strcat(text, "(initramfs) ");
  char out[1600];
  h2k_serial_tail(text, strlen(text), 20, out, sizeof out);
  assert_non_null(strstr(out, "  | line 12\n"));
  assert_null(strstr(out, "line 11\n"));
  assert_non_null(strstr(out, "  | line 30\n  | (initramfs)\n"));
  assert_true(strncmp(out, "  | line 12\n", 12) == 0);
  /* a small buffer keeps the newest lines */
  h2k_serial_tail(text, strlen(text), 20, out, 41);
  assert_string_equal(out, "  | line 29\n  | line 30\n  | (initramfs)\n");
  /* long lines are cut */
  char longl[400];
  memset(longl, 'x', sizeof longl - 1);
  longl[sizeof longl - 1] = '\0';
  h2k_serial_tail(longl, strlen(longl), 20, out, sizeof out);
  assert_int_equal(strlen(out), 4 + 100 + 1);
  h2k_serial_tail("", 0, 20, out, sizeof out);
  assert_string_equal(out, "");
}

static void test_names(void **state) {
  (void)state;
  assert_string_equal(h2k_val_status_name(H2K_VAL_PASSED), "passed");
  assert_string_equal(h2k_val_status_name(H2K_VAL_FAILED), "failed");
  assert_string_equal(h2k_val_status_name(H2K_VAL_SKIPPED), "skipped");
  assert_string_equal(h2k_val_status_name(H2K_VAL_NOT_RUN), "not-run");
  assert_string_equal(h2k_val_boot_name(H2K_VBOOT_YES), "yes");
  assert_string_equal(h2k_val_boot_name(H2K_VBOOT_NO), "no");
  assert_string_equal(h2k_val_boot_name(H2K_VBOOT_UNKNOWN), "unknown");
  assert_string_equal(h2k_serial_mark_name(H2K_MARK_ALERT),
                      "initramfs could not find the root device");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_login_prompt),
      cmocka_unit_test(test_multi_user),
      cmocka_unit_test(test_initramfs_alert),
      cmocka_unit_test(test_panic),
      cmocka_unit_test(test_emergency_with_cause),
      cmocka_unit_test(test_grub_rescue),
      cmocka_unit_test(test_uefi_shell),
      cmocka_unit_test(test_first_marker_wins),
      cmocka_unit_test(test_clean_line),
      cmocka_unit_test(test_tail),
      cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
