/* libvirt domain XML for a converted VM.
 *
 * The document is written by hand with a small escaping writer rather than
 * xmlTextWriter: libxml2's writer turns non-ASCII into character references
 * in attributes but not in text, and passes invalid UTF-8 through. Here all
 * text goes through one escaper that emits valid UTF-8 and only characters
 * XML 1.0 allows, so the output is deterministic and always well-formed. */
#include "vm/domain_xml.h"

#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define DEFAULT_MEMORY_MB 2048
#define DEFAULT_VCPUS 2
#define DEFAULT_NETWORK "default"
/* Beyond these the source value is treated as nonsense (QEMU's q35 limits
 * and 16 TiB of RAM), and the default is used instead. */
#define MAX_VCPUS 4096
#define MAX_MEMORY_MB ((uint64_t)16 << 20)
#define MAX_TITLE_BYTES 200

/* ---- an escaping XML writer over h2k_buf ---- */

typedef struct xw {
  h2k_buf b;
  int depth;
  bool oom; /* h2k_buf drops data on OOM: detect it by the length */
} xw;

static void xw_put(xw *w, const char *s, size_t n) {
  size_t before = w->b.len;
  h2k_buf_append(&w->b, s, n);
  if (w->b.len != before + n)
    w->oom = true;
}

static void xw_puts(xw *w, const char *s) {
  xw_put(w, s, strlen(s));
}

static void xw_indent(xw *w) {
  for (int i = 0; i < w->depth; i++)
    xw_put(w, "  ", 2);
}

/* Length of the valid UTF-8 sequence at s encoding an XML 1.0 Char, or 0.
 * Rejects overlong forms, surrogates, U+FFFE/U+FFFF and > U+10FFFF. */
static size_t utf8_char_len(const unsigned char *s) {
  unsigned c = s[0];
  size_t n;
  unsigned cp;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
      cp == 0xFFFE || cp == 0xFFFF)
    return 0;
  return n;
}

/* Escape s for text content or a single-quoted attribute value. Invalid
 * UTF-8 and control characters XML cannot carry become U+FFFD. */
static void xw_escaped(xw *w, const char *s, bool attr) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned char c = *p;
    const char *rep = NULL;
    switch (c) {
    case '&':
      rep = "&amp;";
      break;
    case '<':
      rep = "&lt;";
      break;
    case '>':
      rep = "&gt;";
      break;
    case '\'':
      rep = attr ? "&apos;" : NULL;
      break;
    case '"':
      rep = attr ? "&quot;" : NULL;
      break;
    case '\t':
      rep = attr ? "&#9;" : NULL;
      break;
    case '\n':
      rep = attr ? "&#10;" : NULL;
      break;
    case '\r':
      rep = "&#13;";
      break;
    default:
      if (c < 0x20)
        rep = "\xEF\xBF\xBD";
    }
    if (rep) {
      xw_puts(w, rep);
      p++;
      continue;
    }
    size_t n = utf8_char_len(p);
    if (n == 0) {
      xw_puts(w, "\xEF\xBF\xBD");
      p++;
    } else {
      xw_put(w, (const char *)p, n);
      p += n;
    }
  }
}

/* " name='value'" for each NULL-terminated (name, value) pair; a NULL
 * value skips the attribute. */
static void xw_attrs(xw *w, va_list ap) {
  const char *name;
  while ((name = va_arg(ap, const char *))) {
    const char *value = va_arg(ap, const char *);
    if (!value)
      continue;
    xw_puts(w, " ");
    xw_puts(w, name);
    xw_puts(w, "='");
    xw_escaped(w, value, true);
    xw_puts(w, "'");
  }
}

/* <tag attrs...> and a newline; the caller closes it with xw_end. */
__attribute__((sentinel)) static void xw_start(xw *w, const char *tag, ...) {
  va_list ap;
  va_start(ap, tag);
  xw_indent(w);
  xw_puts(w, "<");
  xw_puts(w, tag);
  xw_attrs(w, ap);
  xw_puts(w, ">\n");
  va_end(ap);
  w->depth++;
}

static void xw_end(xw *w, const char *tag) {
  w->depth--;
  xw_indent(w);
  xw_puts(w, "</");
  xw_puts(w, tag);
  xw_puts(w, ">\n");
}

/* <tag attrs.../> */
__attribute__((sentinel)) static void xw_empty(xw *w, const char *tag, ...) {
  va_list ap;
  va_start(ap, tag);
  xw_indent(w);
  xw_puts(w, "<");
  xw_puts(w, tag);
  xw_attrs(w, ap);
  xw_puts(w, "/>\n");
  va_end(ap);
}

/* <tag attrs...>text</tag> */
__attribute__((sentinel)) static void xw_text(xw *w, const char *tag,
                                              const char *text, ...) {
  va_list ap;
  va_start(ap, text);
  xw_indent(w);
  xw_puts(w, "<");
  xw_puts(w, tag);
  xw_attrs(w, ap);
  xw_puts(w, ">");
  xw_escaped(w, text, false);
  xw_puts(w, "</");
  xw_puts(w, tag);
  xw_puts(w, ">\n");
  va_end(ap);
}

/* ---- decisions taken from the model and the options ---- */

/* Everything the writer needs, decided and validated up front so that the
 * writing itself cannot fail (except for memory). */
typedef struct plan {
  const h2k_vm *vm;
  const h2k_domain_opts *o;
  char *name; /* sanitized */
  const char *uuid;
  char *title; /* first line of the annotation, or NULL */
  uint64_t memory_kib;
  int vcpus, sockets, cores; /* sockets == 0: no topology */
  bool uefi, secure_boot, windows;
  const char *disk_bus;    /* "virtio", "sata" or "scsi" */
  const char *disk_prefix; /* "vd" or "sd" */
  int *disk_boot;          /* boot order of each opts disk */
} plan;

static bool is_uuid(const char *s) {
  static const char form[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
  size_t n = strlen(s);
  if (n == 32) {
    for (size_t i = 0; i < n; i++)
      if (!strchr("0123456789abcdefABCDEF", s[i]))
        return false;
    return true;
  }
  if (n != sizeof form - 1)
    return false;
  for (size_t i = 0; i < n; i++) {
    bool ok = form[i] == '-' ? s[i] == '-'
                             : s[i] && strchr("0123456789abcdefABCDEF", s[i]);
    if (!ok)
      return false;
  }
  return true;
}

/* libvirt rejects newlines in names, and '/' would end up in the path of
 * the domain's config file: replace them. An empty name becomes "vm". */
static char *sanitize_name(const char *name) {
  if (!name || !*name)
    return strdup("vm");
  char *s = strdup(name);
  if (!s)
    return NULL;
  for (char *p = s; *p; p++)
    if (*p == '/' || *p == '\n' || *p == '\r')
      *p = '_';
  return s;
}

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The first non-blank line of the annotation, trimmed and cut (on a UTF-8
 * boundary) to MAX_TITLE_BYTES; NULL when there is none. */
static char *title_from(const char *annotation, bool *oom) {
  const char *p = annotation;
  if (!p)
    return NULL;
  while (is_space(*p))
    p++;
  if (!*p)
    return NULL;
  size_t n = strcspn(p, "\r\n");
  while (n > 0 && is_space(p[n - 1]))
    n--;
  if (n > MAX_TITLE_BYTES) {
    n = MAX_TITLE_BYTES;
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
      n--;
  }
  char *t = strndup(p, n);
  if (!t)
    *oom = true;
  return t;
}

static bool guest_is_windows(const h2k_vm *vm) {
  return vm->guest_os && strncasecmp(vm->guest_os, "win", 3) == 0;
}

static void plan_cpu(plan *p) {
  const h2k_vm *vm = p->vm;
  int def = p->o->vcpus_default > 0 && p->o->vcpus_default <= MAX_VCPUS
                ? p->o->vcpus_default
                : DEFAULT_VCPUS;
  p->vcpus = vm->vcpus > 0 && vm->vcpus <= MAX_VCPUS ? vm->vcpus : def;
  int cps = vm->cores_per_socket;
  if (p->vcpus == vm->vcpus && cps > 0 && p->vcpus % cps == 0) {
    p->sockets = p->vcpus / cps;
    p->cores = cps;
  }
}

static void plan_memory(plan *p) {
  uint64_t mb = p->vm->memory_mb;
  if (mb == 0 || mb > MAX_MEMORY_MB)
    mb = p->o->memory_mb_default;
  if (mb == 0 || mb > MAX_MEMORY_MB)
    mb = DEFAULT_MEMORY_MB;
  p->memory_kib = mb * 1024;
}

static int plan_disk_bus(plan *p, h2k_error *err) {
  const char *bus = p->o->disk_bus;
  if (!bus || !*bus || !strcmp(bus, "virtio")) {
    p->disk_bus = "virtio";
    p->disk_prefix = "vd";
  } else if (!strcmp(bus, "sata") || !strcmp(bus, "scsi")) {
    p->disk_bus = !strcmp(bus, "sata") ? "sata" : "scsi";
    p->disk_prefix = "sd";
  } else {
    h2k_err_set(err, H2K_E_USAGE,
                "disk bus '%s' is not supported (use virtio, sata or scsi)",
                bus);
    return -1;
  }
  return 0;
}

/* Boot orders 1..n for the disks: those the source numbered first, in its
 * order, then the others in model order. A stable insertion sort keeps
 * ties in model order, so no two disks share an order. */
/* Sort key of disk i: its source boot order, unnumbered disks last. */
static long long boot_key(const plan *p, size_t i) {
  int src = i < p->vm->n_disks ? p->vm->disks[i].boot_order : 0;
  return src > 0 ? src : (long long)1 << 40;
}

static int plan_boot_order(plan *p, h2k_error *err) {
  size_t n = p->o->n_disks;
  if (n == 0)
    return 0;
  size_t *idx = malloc(n * sizeof *idx);
  p->disk_boot = calloc(n, sizeof *p->disk_boot);
  if (!idx || !p->disk_boot) {
    free(idx);
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    size_t j = i;
    while (j > 0 && boot_key(p, idx[j - 1]) > boot_key(p, i)) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = i;
  }
  for (size_t k = 0; k < n; k++)
    p->disk_boot[idx[k]] = (int)(k + 1);
  free(idx);
  return 0;
}

static int check_disks(const h2k_domain_opts *o, h2k_error *err) {
  if (o->n_disks && !o->disks) {
    h2k_err_set(err, H2K_E_FAIL, "%zu disks announced, none given", o->n_disks);
    return -1;
  }
  for (size_t i = 0; i < o->n_disks; i++) {
    const h2k_domain_disk *d = &o->disks[i];
    if (!d->path || d->path[0] != '/') {
      h2k_err_set(err, H2K_E_USAGE, "disk %zu: path '%s' is not absolute", i,
                  d->path ? d->path : "(none)");
      return -1;
    }
    if (!d->format ||
        (strcmp(d->format, "qcow2") != 0 && strcmp(d->format, "raw") != 0)) {
      h2k_err_set(err, H2K_E_USAGE,
                  "disk %zu (%s): format '%s' is not supported in a domain "
                  "(use qcow2 or raw)",
                  i, d->path, d->format ? d->format : "(none)");
      return -1;
    }
  }
  return 0;
}

/* Linux bridge names: 1..15 characters, no '/', ':' or blanks. */
static bool valid_bridge(const char *s, size_t n) {
  if (n == 0 || n > 15)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

/* libvirt network names: not empty, no '/' and no newline. */
static bool valid_network(const char *s) {
  return *s && !strpbrk(s, "/\n\r");
}

/* "SRC:DST" splits at the last ':' (bridge and libvirt network names
 * cannot contain one, VMware port group names can). */
static const char *map_split(const char *entry) {
  const char *colon = strrchr(entry, ':');
  return colon && colon != entry && colon[1] ? colon : NULL;
}

static int check_networks(const h2k_domain_opts *o, h2k_error *err) {
  if (o->n_network_map && !o->network_map) {
    h2k_err_set(err, H2K_E_FAIL,
                "%zu network map entries announced, none "
                "given",
                o->n_network_map);
    return -1;
  }
  for (size_t i = 0; i < o->n_network_map; i++) {
    const char *e = o->network_map[i];
    const char *colon = e ? map_split(e) : NULL;
    if (!colon) {
      h2k_err_set(err, H2K_E_USAGE,
                  "network map entry '%s' is not SOURCE:NETWORK or "
                  "SOURCE:bridge=BRIDGE",
                  e ? e : "(null)");
      return -1;
    }
    const char *dst = colon + 1;
    bool ok = strncmp(dst, "bridge=", 7) == 0
                  ? valid_bridge(dst + 7, strlen(dst + 7))
                  : valid_network(dst);
    if (!ok) {
      h2k_err_set(err, H2K_E_USAGE,
                  "network map entry '%s': '%s' is not a valid libvirt "
                  "network or bridge name",
                  e, dst);
      return -1;
    }
  }
  if (o->bridge && *o->bridge && !valid_bridge(o->bridge, strlen(o->bridge))) {
    h2k_err_set(err, H2K_E_USAGE, "'%s' is not a valid bridge name", o->bridge);
    return -1;
  }
  if (o->network && *o->network && !valid_network(o->network)) {
    h2k_err_set(err, H2K_E_USAGE, "'%s' is not a valid libvirt network name",
                o->network);
    return -1;
  }
  return 0;
}

static void plan_free(plan *p) {
  free(p->name);
  free(p->title);
  free(p->disk_boot);
}

static int plan_make(plan *p, const h2k_vm *vm, const h2k_domain_opts *o,
                     h2k_error *err) {
  p->vm = vm;
  p->o = o;
  if (check_disks(o, err) < 0 || check_networks(o, err) < 0 ||
      plan_disk_bus(p, err) < 0 || plan_boot_order(p, err) < 0)
    return -1;
  bool oom = false;
  p->name = sanitize_name(o->name ? o->name : vm->name);
  p->title = title_from(vm->annotation, &oom);
  if (!p->name || oom) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  p->uuid = vm->uuid && is_uuid(vm->uuid) ? vm->uuid : NULL;
  plan_cpu(p);
  plan_memory(p);
  p->uefi = vm->firmware == H2K_FW_UEFI ||
            (vm->firmware == H2K_FW_UNKNOWN && o->uefi_default);
  p->secure_boot = p->uefi && vm->secure_boot;
  p->windows = guest_is_windows(vm);
  return 0;
}

/* ---- writing ---- */

/* Disk target names as the kernel names them: a..z, aa..az, ba.., zz, aaa. */
static void target_dev(const char *prefix, size_t index, char *out,
                       size_t cap) {
  char rev[16];
  size_t n = 0;
  size_t i = index + 1;
  while (i > 0 && n < sizeof rev) {
    i--;
    rev[n++] = (char)('a' + i % 26);
    i /= 26;
  }
  size_t len = strlen(prefix);
  snprintf(out, cap, "%s", prefix);
  for (size_t k = 0; k < n && len + k + 1 < cap; k++)
    out[len + k] = rev[n - 1 - k];
  out[len + n < cap ? len + n : cap - 1] = '\0';
}

static void write_identity(xw *w, const plan *p) {
  xw_text(w, "name", p->name, NULL);
  if (p->uuid)
    xw_text(w, "uuid", p->uuid, NULL);
  if (p->title) {
    xw_text(w, "title", p->title, NULL);
    xw_text(w, "description", p->vm->annotation, NULL);
  }
}

static void write_resources(xw *w, const plan *p) {
  char num[32], s[16], c[16];
  snprintf(num, sizeof num, "%llu", (unsigned long long)p->memory_kib);
  xw_text(w, "memory", num, "unit", "KiB", NULL);
  xw_text(w, "currentMemory", num, "unit", "KiB", NULL);
  snprintf(num, sizeof num, "%d", p->vcpus);
  xw_text(w, "vcpu", num, "placement", "static", NULL);
  if (p->sockets == 0) {
    xw_empty(w, "cpu", "mode", "host-passthrough", NULL);
    return;
  }
  snprintf(s, sizeof s, "%d", p->sockets);
  snprintf(c, sizeof c, "%d", p->cores);
  xw_start(w, "cpu", "mode", "host-passthrough", NULL);
  xw_empty(w, "topology", "sockets", s, "cores", c, "threads", "1", NULL);
  xw_end(w, "cpu");
}

/* UEFI is chosen through libvirt's firmware auto-selection: the features
 * ask for a Secure Boot build with Microsoft keys enrolled when the source
 * had Secure Boot, and for a plain build otherwise. */
static void write_os(xw *w, const plan *p) {
  xw_start(w, "os", "firmware", p->uefi ? "efi" : NULL, NULL);
  xw_text(w, "type", "hvm", "arch", "x86_64", "machine", "q35", NULL);
  if (p->uefi) {
    const char *sb = p->secure_boot ? "yes" : "no";
    xw_start(w, "firmware", NULL);
    xw_empty(w, "feature", "enabled", sb, "name", "enrolled-keys", NULL);
    xw_empty(w, "feature", "enabled", sb, "name", "secure-boot", NULL);
    xw_end(w, "firmware");
    if (p->secure_boot)
      xw_empty(w, "loader", "secure", "yes", NULL);
  }
  xw_end(w, "os");
}

static void write_features(xw *w, const plan *p) {
  xw_start(w, "features", NULL);
  xw_empty(w, "acpi", NULL);
  xw_empty(w, "apic", NULL);
  if (p->secure_boot) /* QEMU needs SMM to protect Secure Boot variables */
    xw_empty(w, "smm", "state", "on", NULL);
  xw_end(w, "features");
  /* Windows keeps the RTC in local time (as VMware presents it). */
  xw_empty(w, "clock", "offset", p->windows ? "localtime" : "utc", NULL);
  xw_text(w, "on_poweroff", "destroy", NULL);
  xw_text(w, "on_reboot", "restart", NULL);
  xw_text(w, "on_crash", "destroy", NULL);
}

static void write_disks(xw *w, const plan *p) {
  char dev[32], order[24];
  for (size_t i = 0; i < p->o->n_disks; i++) {
    const h2k_domain_disk *d = &p->o->disks[i];
    target_dev(p->disk_prefix, i, dev, sizeof dev);
    snprintf(order, sizeof order, "%d", p->disk_boot[i]);
    xw_start(w, "disk", "type", "file", "device", "disk", NULL);
    xw_empty(w, "driver", "name", "qemu", "type", d->format, "discard", "unmap",
             NULL);
    xw_empty(w, "source", "file", d->path, NULL);
    xw_empty(w, "target", "dev", dev, "bus", p->disk_bus, NULL);
    xw_empty(w, "boot", "order", order, NULL);
    xw_end(w, "disk");
  }
  if (!strcmp(p->disk_bus, "scsi"))
    xw_empty(w, "controller", "type", "scsi", "index", "0", "model",
             "virtio-scsi", NULL);
}

static bool is_regular_file(const char *path) {
  struct stat st;
  return path && path[0] == '/' && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* CD-ROMs go on SATA after the disks (sdX names are shared by SATA and
 * SCSI, so they continue after sd-named disks). The ISO is attached only
 * when it exists here: a missing one would make the domain unstartable. */
static void write_cdroms(xw *w, const plan *p) {
  char dev[32], order[24];
  size_t first = strcmp(p->disk_prefix, "sd") == 0 ? p->o->n_disks : 0;
  for (size_t i = 0; i < p->vm->n_cdroms; i++) {
    const char *iso = p->vm->cdroms[i].path;
    target_dev("sd", first + i, dev, sizeof dev);
    snprintf(order, sizeof order, "%zu", p->o->n_disks + i + 1);
    xw_start(w, "disk", "type", "file", "device", "cdrom", NULL);
    xw_empty(w, "driver", "name", "qemu", "type", "raw", NULL);
    if (is_regular_file(iso))
      xw_empty(w, "source", "file", iso, NULL);
    xw_empty(w, "target", "dev", dev, "bus", "sata", NULL);
    xw_empty(w, "readonly", NULL);
    xw_empty(w, "boot", "order", order, NULL);
    xw_end(w, "disk");
  }
}

/* A unicast MAC in canonical lower case, or false (libvirt makes one). */
static bool normalize_mac(const char *in, char out[18]) {
  if (!in || strlen(in) != 17)
    return false;
  for (size_t i = 0; i < 17; i++) {
    char c = in[i];
    if (i % 3 == 2) {
      if (c != ':' && c != '-')
        return false;
      out[i] = ':';
      continue;
    }
    if (!strchr("0123456789abcdefABCDEF", c))
      return false;
    out[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  }
  out[17] = '\0';
  /* The group bit is the low bit of the first octet: libvirt refuses
   * multicast MACs for NICs. */
  char low = out[1];
  int nibble = low <= '9' ? low - '0' : low - 'a' + 10;
  return (nibble & 1) == 0;
}

/* The map entry whose SOURCE equals the NIC's network, or NULL. */
static const char *map_lookup(const h2k_domain_opts *o, const char *net) {
  if (!net)
    return NULL;
  size_t len = strlen(net);
  for (size_t i = 0; i < o->n_network_map; i++) {
    const char *e = o->network_map[i];
    const char *colon = map_split(e);
    if ((size_t)(colon - e) == len && strncmp(e, net, len) == 0)
      return colon + 1;
  }
  return NULL;
}

static void write_nic(xw *w, const plan *p, const h2k_vm_nic *nic) {
  const char *dst = map_lookup(p->o, nic->network);
  const char *bridge = NULL, *network = NULL;
  if (dst && strncmp(dst, "bridge=", 7) == 0)
    bridge = dst + 7;
  else if (dst)
    network = dst;
  else if (p->o->bridge && *p->o->bridge)
    bridge = p->o->bridge;
  else
    network = p->o->network && *p->o->network ? p->o->network : DEFAULT_NETWORK;
  char mac[18];
  xw_start(w, "interface", "type", bridge ? "bridge" : "network", NULL);
  if (normalize_mac(nic->mac, mac))
    xw_empty(w, "mac", "address", mac, NULL);
  if (bridge)
    xw_empty(w, "source", "bridge", bridge, NULL);
  else
    xw_empty(w, "source", "network", network, NULL);
  xw_empty(w, "model", "type", "virtio", NULL);
  xw_end(w, "interface");
}

static void write_console(xw *w) {
  xw_start(w, "serial", "type", "pty", NULL);
  xw_empty(w, "target", "port", "0", NULL);
  xw_end(w, "serial");
  xw_start(w, "console", "type", "pty", NULL);
  xw_empty(w, "target", "type", "serial", "port", "0", NULL);
  xw_end(w, "console");
  xw_start(w, "channel", "type", "unix", NULL);
  xw_empty(w, "target", "type", "virtio", "name", "org.qemu.guest_agent.0",
           NULL);
  xw_end(w, "channel");
}

static void write_misc_devices(xw *w, const plan *p) {
  xw_empty(w, "controller", "type", "usb", "index", "0", "model", "qemu-xhci",
           NULL);
  xw_empty(w, "controller", "type", "virtio-serial", "index", "0", NULL);
  xw_empty(w, "input", "type", "tablet", "bus", "usb", NULL);
  xw_empty(w, "graphics", "type", "vnc", "autoport", "yes", "listen",
           "127.0.0.1", NULL);
  /* Windows has no inbox virtio-gpu driver; stdvga works everywhere. */
  xw_start(w, "video", NULL);
  xw_empty(w, "model", "type", p->windows ? "vga" : "virtio", NULL);
  xw_end(w, "video");
  xw_start(w, "rng", "model", "virtio", NULL);
  xw_text(w, "backend", "/dev/urandom", "model", "random", NULL);
  xw_end(w, "rng");
  xw_empty(w, "memballoon", "model", "virtio", NULL);
}

static void write_domain(xw *w, const plan *p) {
  xw_start(w, "domain", "type", "kvm", NULL);
  write_identity(w, p);
  write_resources(w, p);
  write_os(w, p);
  write_features(w, p);
  xw_start(w, "devices", NULL);
  write_disks(w, p);
  write_cdroms(w, p);
  for (size_t i = 0; i < p->vm->n_nics; i++)
    write_nic(w, p, &p->vm->nics[i]);
  write_console(w);
  write_misc_devices(w, p);
  xw_end(w, "devices");
  xw_end(w, "domain");
}

char *h2k_domain_xml(const h2k_vm *vm, const h2k_domain_opts *opts,
                     h2k_error *err) {
  static const h2k_domain_opts no_opts;
  if (!vm) {
    h2k_err_set(err, H2K_E_FAIL, "domain XML: no VM model");
    return NULL;
  }
  const h2k_domain_opts *o = opts ? opts : &no_opts;
  plan p = {0};
  if (plan_make(&p, vm, o, err) < 0) {
    plan_free(&p);
    h2k_err_wrap(err, "cannot write the libvirt domain XML for '%s'",
                 vm->name ? vm->name : "(unnamed)");
    return NULL;
  }
  xw w = {0};
  write_domain(&w, &p);
  plan_free(&p);
  if (w.oom) {
    h2k_buf_free(&w.b);
    h2k_err_set(err, H2K_E_FAIL, "domain XML: out of memory");
    return NULL;
  }
  return h2k_buf_steal(&w.b);
}
