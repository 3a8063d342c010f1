/* The QEMU command line of the validation boot, as a pure function of a
 * plan, and the small decisions that go into the plan (MAC, memory, vCPUs,
 * OVMF files).
 *
 * The device layout mirrors what libvirt gives our domain.xml on q35: one
 * pcie-root-port per device (slot 2 functions 0-7, then slot 3, ...), the
 * first NIC on the first port (guest 0000:01:00.0, predictable name enp1s0,
 * the name the FIX stage gives the guest's NIC configuration), then each
 * disk on the next ports, the first disk bootable. Safety: no default
 * devices, no user config, no display, no reboot, user networking with
 * restrict=on (the guest reaches only QEMU's DHCP server) and no forwards. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/util.h"
#include "validate/validate.h"

void h2k_strv_free(char **v) {
  if (!v)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

typedef struct argv_b {
  char **v;
  size_t n;
  bool oom;
} argv_b;

static void add(argv_b *a, const char *s) {
  if (a->oom)
    return;
  char *c = strdup(s);
  if (!c || h2k_strv_push(&a->v, &a->n, c) < 0)
    a->oom = true;
}

static void addf(argv_b *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void addf(argv_b *a, const char *fmt, ...) {
  if (a->oom)
    return;
  va_list ap;
  va_start(ap, fmt);
  if (h2k_strv_vprintf(&a->v, &a->n, fmt, ap) < 0)
    a->oom = true;
  va_end(ap);
}

/* A path as a QEMU option value: every ',' doubled. malloc'ed. */
static char *qemu_escape(const char *s) {
  size_t n = strlen(s), extra = 0;
  for (size_t i = 0; i < n; i++)
    extra += s[i] == ',';
  char *o = malloc(n + extra + 1);
  if (!o)
    return NULL;
  char *p = o;
  for (size_t i = 0; i < n; i++) {
    *p++ = s[i];
    if (s[i] == ',')
      *p++ = ',';
  }
  *p = '\0';
  return o;
}

/* "-opt" then "<prefix><escaped path><suffix>". */
static void add_path_opt(argv_b *a, const char *opt, const char *prefix,
                         const char *path, const char *suffix) {
  char *e = qemu_escape(path);
  if (!e) {
    a->oom = true;
    return;
  }
  add(a, opt);
  addf(a, "%s%s%s", prefix, e, suffix);
  free(e);
}

static void add_machine(argv_b *a, const h2k_qemu_plan *p) {
  add(a, "-no-user-config");
  add(a, "-nodefaults");
  add(a, "-display");
  add(a, "none");
  add(a, "-no-reboot");
  if (p->name) {
    char *e = qemu_escape(p->name);
    if (!e) {
      a->oom = true;
      return;
    }
    add(a, "-name");
    addf(a, "h2k-validate-%s", e);
    free(e);
  }
  add(a, "-machine");
  add(a, p->secure_boot ? "q35,smm=on" : "q35");
  add(a, "-accel");
  add(a, p->kvm ? "kvm" : "tcg");
  add(a, "-cpu");
  add(a, p->kvm ? "host" : "max");
  add(a, "-smp");
  addf(a, "%d", p->vcpus > 0 ? p->vcpus : 1);
  add(a, "-m");
  addf(a, "%llu", (unsigned long long)(p->memory_mb ? p->memory_mb : 1024));
}

static void add_firmware(argv_b *a, const h2k_qemu_plan *p) {
  if (!p->ovmf_code)
    return; /* BIOS: QEMU's default SeaBIOS */
  if (p->secure_boot) {
    add(a, "-global");
    add(a, "driver=cfi.pflash01,property=secure,value=on");
  }
  add_path_opt(a, "-drive",
               "if=pflash,format=raw,unit=0,readonly=on,file=", p->ovmf_code,
               "");
  add_path_opt(a, "-drive", "if=pflash,format=raw,unit=1,file=", p->ovmf_vars,
               "");
}

/* Root port i (0-based): id rp<i+1>, the guest's bus i+1. */
static void add_root_port(argv_b *a, size_t i) {
  add(a, "-device");
  addf(a,
       "pcie-root-port,id=rp%zu,bus=pcie.0,chassis=%zu,port=0x%zx,"
       "addr=0x%zx.0x%zx%s",
       i + 1, i + 1, 0x10 + i, 2 + i / 8, i % 8,
       i % 8 == 0 ? ",multifunction=on" : "");
}

static void add_devices(argv_b *a, const h2k_qemu_plan *p) {
  size_t ports = 1 + p->n_disks;
  for (size_t i = 0; i < ports; i++)
    add_root_port(a, i);
  /* the NIC first: guest PCI 0000:01:00.0 -> enp1s0. romfile= (none):
   * no iPXE, so the firmware cannot PXE-boot and fake a DHCP client. */
  add(a, "-netdev");
  add(a, "user,id=n0,restrict=on");
  add(a, "-device");
  addf(a, "virtio-net-pci,netdev=n0,mac=%s,bus=rp1,addr=0x0,romfile=", p->mac);
  add_path_opt(a, "-object", "filter-dump,id=f0,netdev=n0,file=", p->pcap, "");
  for (size_t i = 0; i < p->n_disks; i++) {
    char suffix[64];
    snprintf(suffix, sizeof suffix, ",format=qcow2,if=none,id=d%zu", i);
    add_path_opt(a, "-drive", "file=", p->disks[i], suffix);
    add(a, "-device");
    addf(a, "virtio-blk-pci,drive=d%zu,bus=rp%zu,addr=0x0%s", i, i + 2,
         i == 0 ? ",bootindex=1" : "");
  }
  add_path_opt(a, "-chardev", "file,id=s0,path=", p->serial_log, "");
  add(a, "-serial");
  add(a, "chardev:s0");
}

char **h2k_qemu_argv(const h2k_qemu_plan *p) {
  if (!p || !p->qemu || !p->disks || !p->n_disks || !p->mac || !p->serial_log ||
      !p->pcap || (p->ovmf_code && !p->ovmf_vars))
    return NULL;
  for (size_t i = 0; i < p->n_disks; i++)
    if (!p->disks[i])
      return NULL;
  uint8_t mac[6];
  if (h2k_mac_parse(p->mac, mac) < 0)
    return NULL;
  argv_b a = {0};
  add(&a, p->qemu);
  add_machine(&a, p);
  add_firmware(&a, p);
  add_devices(&a, p);
  /* the NULL terminator */
  char **v = a.oom ? NULL : realloc(a.v, (a.n + 1) * sizeof *a.v);
  if (v) {
    v[a.n] = NULL;
    a.v = v;
  } else {
    a.oom = true;
  }
  if (a.oom) {
    for (size_t i = 0; i < a.n; i++)
      free(a.v[i]);
    free(a.v);
    return NULL;
  }
  return a.v;
}

static bool mac_in(const char *mac, const char *const *avoid, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (avoid[i] && strcasecmp(avoid[i], mac) == 0)
      return true;
  return false;
}

void h2k_validate_mac(const char *vm_name, const char *const *avoid,
                      size_t n_avoid, char out[18]) {
  char hex[65];
  const char *name = vm_name ? vm_name : "";
  h2k_sha256_hex(name, strlen(name), hex);
  unsigned v = 0;
  sscanf(hex, "%6x", &v);
  for (unsigned tries = 0; tries < 0x1000000u; tries++) {
    snprintf(out, 18, "52:54:00:%02x:%02x:%02x", (v >> 16) & 0xff,
             (v >> 8) & 0xff, v & 0xff);
    if (!mac_in(out, avoid, n_avoid))
      return;
    v = (v + 1) & 0xffffff;
  }
}

void h2k_validate_resources(uint64_t vm_memory_mb, int vm_vcpus, bool kvm,
                            uint64_t *memory_mb, int *vcpus) {
  *memory_mb = vm_memory_mb ? h2k_min_u64(vm_memory_mb, 2048) : 1024;
  if (!kvm)
    *vcpus = 1;
  else
    *vcpus = vm_vcpus <= 0 ? 1 : vm_vcpus > 4 ? 4 : vm_vcpus;
}

/* OVMF builds: code and matching variable-store template, best first.
 * Debian/Ubuntu (ovmf), then Fedora/RHEL (edk2-ovmf), then openSUSE. */
static const char *const ovmf_plain[][2] = {
    {"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"},
    {"/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"},
    {"/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"},
    {"/usr/share/edk2-ovmf/x64/OVMF_CODE.fd",
     "/usr/share/edk2-ovmf/x64/OVMF_VARS.fd"},
    {"/usr/share/qemu/ovmf-x86_64-4m-code.bin",
     "/usr/share/qemu/ovmf-x86_64-4m-vars.bin"},
};
static const char *const ovmf_secure[][2] = {
    {"/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
     "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"},
    {"/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
     "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"},
    {"/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd",
     "/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd"},
    {"/usr/share/qemu/ovmf-x86_64-smm-ms-code.bin",
     "/usr/share/qemu/ovmf-x86_64-smm-ms-vars.bin"},
};

static bool readable(const char *root, const char *path, char **out) {
  char *p = h2k_strdup_printf("%s%s", root, path);
  if (p && access(p, R_OK) == 0) {
    *out = p;
    return true;
  }
  free(p);
  return false;
}

static int find_pair(const char *root, const char *const (*t)[2], size_t n,
                     char **code, char **vars) {
  for (size_t i = 0; i < n; i++) {
    if (!readable(root, t[i][0], code))
      continue;
    if (readable(root, t[i][1], vars))
      return 0;
    free(*code);
    *code = NULL;
  }
  return -1;
}

int h2k_find_ovmf(const char *root, bool secure_boot, char **code,
                  char **vars) {
  const char *r = root ? root : "";
  *code = *vars = NULL;
  if (secure_boot &&
      find_pair(r, ovmf_secure, sizeof ovmf_secure / sizeof *ovmf_secure, code,
                vars) == 0)
    return 1;
  return find_pair(r, ovmf_plain, sizeof ovmf_plain / sizeof *ovmf_plain, code,
                   vars);
}
