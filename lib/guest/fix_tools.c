/* VMware tools out (removed in the appliance with the guest's own package
 * manager: measured faster than a first-boot removal, see
 * docs/PERFORMANCE.md), qemu-guest-agent in (at first boot, since it needs
 * the guest's package repositories). */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "guest/fix_apply.h"

static const char *const vmware_packages[] = {
    "open-vm-tools-desktop", "open-vm-tools-sdmp", "open-vm-tools-dev",
    "open-vm-tools",         "vmware-tools",       NULL};

/* The installed VMware tools packages, space-separated ("" when none). */
static char *installed_packages(h2k_fix_ctx *c, bool deb) {
  h2k_buf cmd = {0};
  h2k_buf_printf(&cmd, "%s",
                 deb ? "dpkg-query -W -f='${Package} ${Status}\\n'"
                     : "rpm -q --qf '%{NAME} install ok installed\\n'");
  for (size_t i = 0; vmware_packages[i]; i++)
    h2k_buf_printf(&cmd, " %s", vmware_packages[i]);
  h2k_buf_printf(&cmd, " 2>/dev/null | awk '/install ok installed/ "
                       "{printf \"%%s \", $1}'; true");
  h2k_error e = {0};
  char *out = h2k_app_sh(c->a, cmd.data, &e);
  h2k_buf_free(&cmd);
  h2k_err_clear(&e);
  return out;
}

/* Removal failed or impossible: at least keep the services from starting. */
static int disable_services(h2k_fix_ctx *c, h2k_error *err) {
  static const char *const links[] = {
      "/etc/systemd/system/multi-user.target.wants/open-vm-tools.service",
      "/etc/systemd/system/multi-user.target.wants/vmtoolsd.service",
      "/etc/systemd/system/multi-user.target.wants/vgauth.service",
      "/etc/systemd/system/open-vm-tools.service.requires/vgauth.service",
      NULL};
  for (size_t i = 0; links[i]; i++)
    if (guestfs_is_symlink(c->a->g, links[i]) > 0 &&
        h2k_fix_remove(c, links[i], "VMware tools service disabled", err) < 0)
      return -1;
  return 0;
}

int h2k_fix_vmware_tools_prepare(h2k_fix_ctx *c, bool side_by_side, char **cmd,
                                 const char **triggers_cmd, h2k_error *err) {
  *cmd = NULL;
  *triggers_cmd = NULL;
  const char *fmt = c->id->package_format ? c->id->package_format : "";
  bool deb = !strcmp(fmt, "deb"), rpm = !strcmp(fmt, "rpm");
  if (!deb && !rpm) {
    h2k_info("no known package manager: VMware tools services disabled only");
    return disable_services(c, err);
  }
  char *pkgs = installed_packages(c, deb);
  if (!pkgs || !*pkgs) {
    free(pkgs);
    return disable_services(c, err);
  }
  /* Beside the initramfs rebuild, dpkg must not run triggers: a package
   * with initramfs hooks would start a second update-initramfs writing the
   * same file as ours. */
  *cmd = deb ? h2k_strdup_printf("DEBIAN_FRONTEND=noninteractive dpkg "
                                 "--purge%s %s",
                                 side_by_side ? " --no-triggers" : "", pkgs)
             : h2k_strdup_printf("rpm -e %s", pkgs);
  free(pkgs);
  if (!*cmd) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  if (deb && side_by_side)
    *triggers_cmd =
        "DEBIAN_FRONTEND=noninteractive dpkg --triggers-only --pending";
  return 0;
}

int h2k_fix_vmware_tools_after(h2k_fix_ctx *c, const h2k_app_job *job,
                               const h2k_app_job *triggers, h2k_error *err) {
  h2k_error e = {0};
  if (h2k_fix_job_check(job, &e) < 0) {
    h2k_warn("VMware tools could not be removed (%s); disabling their "
             "services instead",
             h2k_error_text(&e));
    h2k_err_clear(&e);
    return disable_services(c, err);
  }
  h2k_debug("%s", job->output ? job->output : "");
  if (triggers && h2k_fix_job_check(triggers, &e) < 0) {
    h2k_warn("dpkg triggers left pending (dpkg runs them on its next use): "
             "%s",
             h2k_error_text(&e));
    h2k_err_clear(&e);
  }
  return 0;
}

static const char firstboot_unit[] =
    "# Written by hyper2kvm: install qemu-guest-agent once, on the first boot\n"
    "# under KVM, then remove this unit.\n"
    "[Unit]\n"
    "Description=hyper2kvm: install qemu-guest-agent\n"
    "Wants=network-online.target\n"
    "After=network-online.target\n"
    "\n"
    "[Service]\n"
    "Type=oneshot\n"
    "ExecStart=/bin/sh -c '(command -v apt-get >/dev/null && "
    "DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-guest-agent) || "
    "(command -v dnf >/dev/null && dnf -y install qemu-guest-agent) || "
    "(command -v yum >/dev/null && yum -y install qemu-guest-agent) || "
    "(command -v zypper >/dev/null && zypper -n install qemu-guest-agent)'\n"
    "ExecStartPost=/bin/sh -c 'systemctl enable --now qemu-guest-agent; "
    "systemctl disable hyper2kvm-guest-agent.service; "
    "rm -f /etc/systemd/system/hyper2kvm-guest-agent.service'\n"
    "\n"
    "[Install]\n"
    "WantedBy=multi-user.target\n";

int h2k_fix_guest_agent(h2k_fix_ctx *c, h2k_error *err) {
  if (!c->id->init_systemd) {
    h2k_warn("qemu-guest-agent: the guest does not use systemd; install it "
             "by hand after the first boot");
    return 0;
  }
  const char *unit = "/etc/systemd/system/hyper2kvm-guest-agent.service";
  const char *link = "/etc/systemd/system/multi-user.target.wants/"
                     "hyper2kvm-guest-agent.service";
  if (h2k_app_write(c->a, unit, firstboot_unit, err) < 0)
    return -1;
  h2k_app_forget(c->a);
  if (guestfs_ln_sf(c->a->g, unit, link) < 0) {
    h2k_err_set(err, H2K_E_STAGE, "cannot enable %s: %s", unit,
                h2k_app_error(c->a));
    return -1;
  }
  h2k_changes_add(c->log, unit, 0, NULL, "(file)",
                  "installs qemu-guest-agent on the first boot");
  return 0;
}
