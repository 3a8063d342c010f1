/* VALIDATE: boot the converted disks once under QEMU (lib/validate) and
 * record whether the guest reached a login prompt and asked for an address
 * by DHCP on its new NIC. The delivered disks are never written (the guest
 * runs on throwaway overlays in the job directory).
 *
 * Skipped (with a reason) for --no-validate, and with a warning when QEMU
 * is missing or there is nothing to boot. A failed validation is the
 * H2K_E_VALIDATE error; the pipeline still delivers the outputs so the user
 * can look at them. The serial log is kept as <out_dir>/validate-serial.log. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/util.h"
#include "job/job.h"
#include "validate/validate.h"

#define NET_WAIT_S 30
#define SERIAL_LOG_NAME "validate-serial.log"

static int skip(h2k_job *job, bool warn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int skip(h2k_job *job, bool warn, const char *fmt, ...) {
  h2k_validate_result *v = &job->validation;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->reason, sizeof v->reason, fmt, ap);
  va_end(ap);
  v->status = H2K_VAL_SKIPPED;
  h2k_stage_result *r = &job->stages[H2K_STAGE_VALIDATE];
  r->status = H2K_ST_SKIPPED;
  snprintf(r->message, sizeof r->message, "%s", v->reason);
  if (warn)
    h2k_job_warn(job, "VALIDATE skipped: %s", v->reason);
  else
    h2k_info("skipped: %s", v->reason);
  return 0;
}

/* 1: the first disk has a boot sector; 0: skipped (said why); -1: error. */
static int check_bootable(h2k_job *job, h2k_error *err) {
  if (job->n_disks == 0 || !job->disks[0].out_partial)
    return skip(job, true, "no converted disk to boot");
  int rc = h2k_disk_has_boot_sector(job->disks[0].out_partial, err);
  if (rc < 0) {
    h2k_err_wrap(err, "VALIDATE: cannot read the converted boot disk");
    return -1;
  }
  if (rc == 0)
    return skip(job, true,
                "the first disk has no boot sector (no MBR or GPT): nothing "
                "to boot, the guest was not started");
  return 1;
}

typedef struct tools {
  char *qemu, *qemu_img, *ovmf_code, *ovmf_vars;
  bool secure_boot;
} tools;

static void tools_free(tools *t) {
  free(t->qemu);
  free(t->qemu_img);
  free(t->ovmf_code);
  free(t->ovmf_vars);
}

/* 1: found everything; 0: skipped with a warning. */
static int find_tools(h2k_job *job, bool uefi, tools *t) {
  t->qemu = h2k_find_in_path("qemu-system-x86_64");
  if (!t->qemu)
    return skip(job, true,
                "qemu-system-x86_64 is not installed (not in PATH): the "
                "converted guest was not booted");
  t->qemu_img = h2k_find_in_path("qemu-img");
  if (!t->qemu_img)
    return skip(job, true,
                "qemu-img is not installed (not in PATH): the converted guest "
                "was not booted");
  if (!uefi)
    return 1;
  int sb =
      h2k_find_ovmf(NULL, job->vm->secure_boot, &t->ovmf_code, &t->ovmf_vars);
  if (sb < 0)
    return skip(
        job, true,
        "the VM boots with UEFI and no OVMF firmware was found (install "
        "ovmf / edk2-ovmf): the converted guest was not booted");
  t->secure_boot = sb == 1;
  if (job->vm->secure_boot && !t->secure_boot)
    h2k_job_warn(job, "VALIDATE: no Secure Boot OVMF build found; booting "
                      "with Secure Boot off");
  return 1;
}

static char *new_mac(const h2k_job *job, char mac[18]) {
  const h2k_vm *vm = job->vm;
  const char **avoid = calloc(vm->n_nics + 1, sizeof *avoid);
  if (!avoid)
    return NULL;
  for (size_t i = 0; i < vm->n_nics; i++)
    avoid[i] = vm->nics[i].mac;
  h2k_validate_mac(job->vm_name, avoid, vm->n_nics, mac);
  free(avoid);
  return mac;
}

static void fill_opts(h2k_job *job, const tools *t, h2k_validate_disk *disks,
                      h2k_validate_opts *o) {
  const h2k_vm *vm = job->vm;
  for (size_t i = 0; i < job->n_disks; i++) {
    disks[i].path = job->disks[i].out_partial;
    disks[i].format = h2k_cfg_str(job->cfg, H2K_OPT_OUT_FORMAT);
  }
  memset(o, 0, sizeof *o);
  o->qemu = t->qemu;
  o->qemu_img = t->qemu_img;
  o->name = job->vm_name;
  o->disks = disks;
  o->n_disks = job->n_disks;
  o->uefi = vm->firmware == H2K_FW_UEFI;
  o->secure_boot = t->secure_boot;
  o->ovmf_code = t->ovmf_code;
  o->ovmf_vars = t->ovmf_vars;
  o->kvm = h2k_kvm_usable();
  h2k_validate_resources(vm->memory_mb, vm->vcpus, o->kvm, &o->memory_mb,
                         &o->vcpus);
  uint64_t timeout = h2k_cfg_u64(job->cfg, H2K_OPT_BOOT_TIMEOUT);
  o->timeout_s = timeout < 1 ? 1 : timeout > 86400 ? 86400 : (unsigned)timeout;
  o->net_wait_s = NET_WAIT_S;
  o->cancel = &job->cancel;
}

/* Keep the serial log next to the outputs (or drop a stale one). */
static void keep_serial_log(h2k_job *job, const char *work_dir) {
  h2k_validate_result *v = &job->validation;
  char *dst = h2k_path_join(job->out_dir, SERIAL_LOG_NAME);
  char *src = h2k_path_join(work_dir, "serial.log");
  h2k_error e = {0};
  size_t len = 0;
  char *data = src ? h2k_read_file(src, (size_t)64 << 20, &len, &e) : NULL;
  if (dst && data && h2k_write_file_atomic(dst, data, len, 0644, &e) == 0)
    snprintf(v->serial_log, sizeof v->serial_log, "%s", dst);
  else if (dst)
    unlink(dst);
  if (data == NULL && v->ran)
    h2k_job_warn(job, "VALIDATE: serial log not kept: %s", h2k_error_text(&e));
  free(data);
  free(src);
  free(dst);
}

static int boot(h2k_job *job, const tools *t, h2k_error *err) {
  h2k_validate_disk *disks = calloc(job->n_disks, sizeof *disks);
  char *work = h2k_path_join(job->job_dir, "validate");
  char mac[18];
  if (!disks || !work || !new_mac(job, mac)) {
    free(disks);
    free(work);
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  h2k_validate_opts o;
  fill_opts(job, t, disks, &o);
  o.work_dir = work;
  o.mac = mac;
  int rc = h2k_validate_boot(&o, &job->validation, err);
  keep_serial_log(job, work);
  if (!h2k_cfg_bool(job->cfg, H2K_OPT_KEEP_TEMP))
    h2k_remove_tree(work); /* overlays, pcap, logs */
  free(disks);
  free(work);
  return rc;
}

/* The verdict as the stage's message and, when failed, as the error. */
static int conclude(h2k_job *job, h2k_error *err) {
  h2k_validate_result *v = &job->validation;
  h2k_stage_result *r = &job->stages[H2K_STAGE_VALIDATE];
  snprintf(r->message, sizeof r->message, "%s: boot %s, network %s (%s): %s",
           h2k_val_status_name(v->status), h2k_val_boot_name(v->boot),
           v->network ? "yes" : "no", v->accel[0] ? v->accel : "no QEMU",
           v->reason);
  if (v->status == H2K_VAL_PASSED) {
    h2k_info("passed: %s", v->reason);
    return 0;
  }
  h2k_err_set(err, H2K_E_VALIDATE, "the converted guest failed validation: %s",
              v->reason);
  if (v->serial_tail[0])
    snprintf(err->cause, sizeof err->cause, "last serial console lines:\n%s",
             v->serial_tail);
  else if (v->ran)
    snprintf(err->cause, sizeof err->cause,
             "the guest wrote nothing on its serial console");
  h2k_err_hint(err, "the converted disks are delivered anyway; see %s",
               v->serial_log[0] ? v->serial_log : "the report");
  return -1;
}

/* The check could not run (an I/O or setup error): a failed validation,
 * so the outputs are still delivered and the report says why. */
static void could_not_run(h2k_job *job, h2k_error *err) {
  h2k_validate_result *v = &job->validation;
  v->status = H2K_VAL_FAILED;
  snprintf(v->reason, sizeof v->reason, "the boot check could not run: %s",
           h2k_error_text(err));
  h2k_err_clear(err);
}

int h2k_stage_validate(h2k_job *job, h2k_error *err) {
  memset(&job->validation, 0, sizeof job->validation);
  char *stale =
      job->out_dir ? h2k_path_join(job->out_dir, SERIAL_LOG_NAME) : NULL;
  if (stale)
    unlink(stale);
  free(stale);
  if (!h2k_cfg_bool(job->cfg, H2K_OPT_VALIDATE))
    return skip(job, false, "disabled (--no-validate)");
  tools t = {0};
  int rc = find_tools(job, job->vm->firmware == H2K_FW_UEFI, &t);
  if (rc > 0)
    rc = check_bootable(job, err);
  if (rc > 0)
    rc = boot(job, &t, err) == 0 ? 1 : -1;
  tools_free(&t);
  if (rc < 0 && err->code != H2K_E_CANCELLED) {
    could_not_run(job, err);
    rc = 1;
  }
  if (rc <= 0)
    return rc; /* skipped, or cancelled */
  return conclude(job, err);
}
