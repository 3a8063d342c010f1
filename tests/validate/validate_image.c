/* h2k-validate-image: run the VALIDATE boot check (lib/validate) on one
 * disk image, outside the pipeline, for the real-boot tests: the guest
 * tests need a verdict on an image as it is, whatever FIX would do to it.
 *
 * Usage: h2k-validate-image IMAGE FORMAT [--name NAME] [--timeout SECS]
 *          [--net-wait SECS] [--avoid-mac MAC] [--uefi] [--serial-out FILE]
 * Prints key=value lines (status, boot, network, boot_s, network_s,
 * total_s, accel, mac, reason) and the serial tail. Exit status: 0 when the
 * check ran (whatever the verdict), 130 when interrupted, 2 otherwise. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/util.h"
#include "validate/validate.h"

static atomic_bool g_cancel;

static void on_signal(int sig) {
  (void)sig;
  atomic_store(&g_cancel, true);
}

typedef struct args {
  const char *image, *format, *name, *avoid, *serial_out;
  unsigned timeout, net_wait;
  bool uefi;
} args;

static int usage(void) {
  fprintf(stderr, "usage: h2k-validate-image IMAGE FORMAT [--name NAME] "
                  "[--timeout SECS] [--net-wait SECS] [--avoid-mac MAC] "
                  "[--uefi] [--serial-out FILE]\n");
  return 2;
}

static int parse(int argc, char **argv, args *a) {
  if (argc < 3)
    return -1;
  *a = (args){.image = argv[1],
              .format = argv[2],
              .name = "guest",
              .timeout = 300,
              .net_wait = 30};
  for (int i = 3; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--uefi")) {
      a->uefi = true;
      continue;
    }
    if (!v)
      return -1;
    i++;
    if (!strcmp(o, "--name"))
      a->name = v;
    else if (!strcmp(o, "--timeout"))
      a->timeout = (unsigned)atoi(v);
    else if (!strcmp(o, "--net-wait"))
      a->net_wait = (unsigned)atoi(v);
    else if (!strcmp(o, "--avoid-mac"))
      a->avoid = v;
    else if (!strcmp(o, "--serial-out"))
      a->serial_out = v;
    else
      return -1;
  }
  return 0;
}

static void print_result(const h2k_validate_result *r) {
  printf("status=%s\nboot=%s\nnetwork=%s\n", h2k_val_status_name(r->status),
         h2k_val_boot_name(r->boot), r->network ? "yes" : "no");
  printf("boot_s=%.0f\nnetwork_s=%.0f\ntotal_s=%.0f\n", r->boot_s, r->network_s,
         r->total_s);
  printf("accel=%s\nfirmware=%s\nmac=%s\nframes_from_mac=%u\n", r->accel,
         r->firmware, r->mac, r->frames_from_mac);
  printf("marker=%s\nreason=%s\n", r->marker, r->reason);
  printf("serial_tail:\n%s", r->serial_tail);
}

int main(int argc, char **argv) {
  args a;
  if (parse(argc, argv, &a) < 0)
    return usage();
  h2k_log_setup(H2K_LOG_INFO, NULL, false);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  char *qemu = h2k_find_in_path("qemu-system-x86_64");
  char *qemu_img = h2k_find_in_path("qemu-img");
  char *code = NULL, *vars = NULL;
  if (!qemu || !qemu_img ||
      (a.uefi && h2k_find_ovmf(NULL, false, &code, &vars) < 0)) {
    fprintf(stderr, "h2k-validate-image: qemu-system-x86_64, qemu-img or "
                    "OVMF missing\n");
    return 2;
  }
  char work[] = "/var/tmp/h2k-validate-image.XXXXXX";
  if (!mkdtemp(work)) {
    perror("mkdtemp");
    return 2;
  }
  char mac[18];
  const char *avoid[] = {a.avoid};
  h2k_validate_mac(a.name, avoid, 1, mac);
  h2k_validate_disk disk = {a.image, a.format};
  h2k_validate_opts o = {
      .qemu = qemu,
      .qemu_img = qemu_img,
      .work_dir = work,
      .name = a.name,
      .disks = &disk,
      .n_disks = 1,
      .uefi = a.uefi,
      .ovmf_code = code,
      .ovmf_vars = vars,
      .mac = mac,
      .kvm = h2k_kvm_usable(),
      .timeout_s = a.timeout,
      .net_wait_s = a.net_wait,
      .cancel = &g_cancel,
  };
  h2k_validate_resources(1024, 2, o.kvm, &o.memory_mb, &o.vcpus);
  h2k_validate_result r = {0};
  h2k_error err = {0};
  int rc = h2k_validate_boot(&o, &r, &err);
  if (a.serial_out) {
    char *log = h2k_path_join(work, "serial.log");
    char *t = h2k_read_file(log, (size_t)64 << 20, NULL, &err);
    FILE *f = fopen(a.serial_out, "w");
    if (f && t)
      fputs(t, f);
    if (f)
      fclose(f);
    free(t);
    free(log);
  }
  h2k_remove_tree(work);
  free(qemu);
  free(qemu_img);
  free(code);
  free(vars);
  if (rc < 0) {
    fprintf(stderr, "h2k-validate-image: %s\n", h2k_error_text(&err));
    return err.code == H2K_E_CANCELLED ? 130 : 2;
  }
  print_result(&r);
  return 0;
}
