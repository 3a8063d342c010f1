/* VMware .vmx reader. See vmx.h for the rules it follows.
 *
 * The text is first made UTF-8 (iconv when .encoding says otherwise), then
 * split into entries {lower-case key, decoded value, line}. Entries are
 * sorted by key so that lookups, duplicate detection and the pruning of
 * `X.present = "FALSE"` subtrees are all binary searches over one array.
 */
#include "core/util.h"
#include "vm/vmx.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct vmx_entry {
  char *key;   /* lower-case */
  char *value; /* unquoted, |XX decoded */
  int line;
  bool dropped; /* pruned by a present = "FALSE" above it */
} vmx_entry;

typedef struct vmx_doc {
  vmx_entry *entries;
  size_t n, cap;
  const char *name; /* for messages */
  const char *dir;  /* for relative file names, may be NULL */
  h2k_vm *vm;       /* receives warnings */
  bool oom;
} vmx_doc;

/* ---- small helpers ---- */

static void warn(vmx_doc *doc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(vmx_doc *doc, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (h2k_vm_add_warning(doc->vm, "%s: %s", doc->name, msg) < 0)
    doc->oom = true;
}

static void set_oom(h2k_error *err, const char *name) {
  h2k_err_set(err, H2K_E_FAIL, "out of memory while parsing %s", name);
}

static void lower_in_place(char *s) {
  for (; *s; s++)
    *s = (char)tolower((unsigned char)*s);
}

static bool ends_with_ci(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && strcasecmp(s + ls - lx, suffix) == 0;
}

static bool starts_with_ci(const char *s, const char *prefix) {
  return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int hex_value(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decode VMware's |XX escapes in place. A '|' not followed by two hex
 * digits is kept literally. */
static void decode_pipe_escapes(char *s) {
  char *out = s;
  for (const char *in = s; *in;) {
    int hi, lo;
    if (in[0] == '|' && (hi = hex_value((unsigned char)in[1])) >= 0 &&
        (lo = hex_value((unsigned char)in[2])) >= 0 && (hi || lo)) {
      *out++ = (char)(hi * 16 + lo);
      in += 3;
    } else {
      *out++ = *in++;
    }
  }
  *out = '\0';
}

/* ---- encoding ---- */

static bool valid_utf8(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= len)
      return false;
    for (size_t k = 1; k <= extra; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += extra + 1;
  }
  return true;
}

static bool is_utf8_name(const char *enc) {
  return strcasecmp(enc, "UTF-8") == 0 || strcasecmp(enc, "UTF8") == 0;
}

static int line_of_offset(const char *text, size_t off) {
  int line = 1;
  for (size_t i = 0; i < off; i++)
    if (text[i] == '\n')
      line++;
  return line;
}

/* Convert len bytes from `enc` to UTF-8. On failure returns NULL with errno
 * EINVAL (unknown encoding), EILSEQ (bad input at *bad_off) or ENOMEM. */
static char *to_utf8(const char *in, size_t len, const char *enc,
                     size_t *out_len, size_t *bad_off) {
  iconv_t cd = iconv_open("UTF-8", enc);
  if (cd == (iconv_t)-1) {
    errno = EINVAL;
    return NULL;
  }
  size_t cap = len * 4 + 16; /* UTF-8 needs at most 4 bytes per char */
  char *out = malloc(cap);
  if (!out) {
    iconv_close(cd);
    errno = ENOMEM;
    return NULL;
  }
  char *src = (char *)in, *dst = out;
  size_t src_left = len, dst_left = cap - 1;
  size_t rc = iconv(cd, &src, &src_left, &dst, &dst_left);
  int saved = errno;
  if (rc != (size_t)-1)
    rc = iconv(cd, NULL, NULL, &dst, &dst_left); /* flush shift state */
  iconv_close(cd);
  if (rc == (size_t)-1) {
    *bad_off = (size_t)(src - in);
    free(out);
    errno = saved == E2BIG ? ENOMEM : EILSEQ;
    return NULL;
  }
  *dst = '\0';
  *out_len = (size_t)(dst - out);
  return out;
}

/* ---- line splitting ---- */

typedef struct raw_line {
  const char *key;
  size_t key_len;
  const char *value;
  size_t value_len;
  bool quoted;
  const char *problem; /* why the line is malformed, NULL when fine */
} raw_line;

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Split one line (without '\n'); blank and comment lines give key NULL. */
static raw_line split_line(const char *s, size_t len) {
  raw_line r = {0};
  while (len && is_blank(*s))
    s++, len--;
  while (len && is_blank(s[len - 1]))
    len--;
  if (!len || *s == '#')
    return r;
  const char *eq = memchr(s, '=', len);
  if (!eq) {
    r.problem = "not a key = \"value\" line";
    return r;
  }
  size_t kl = (size_t)(eq - s);
  while (kl && is_blank(s[kl - 1]))
    kl--;
  for (size_t i = 0; i < kl; i++)
    if (is_blank(s[i]) || s[i] == '"') {
      r.problem = "the key contains blanks or quotes";
      return r;
    }
  if (!kl) {
    r.problem = "the key is empty";
    return r;
  }
  const char *v = eq + 1, *end = s + len;
  while (v < end && is_blank(*v))
    v++;
  r.key = s;
  r.key_len = kl;
  if (v < end && *v == '"') {
    const char *close = memchr(v + 1, '"', (size_t)(end - v - 1));
    r.quoted = true;
    r.value = v + 1;
    if (!close) {
      r.value_len = (size_t)(end - v - 1);
      r.problem = "the closing quote is missing";
      return r;
    }
    r.value_len = (size_t)(close - v - 1);
    const char *rest = close + 1;
    while (rest < end && is_blank(*rest))
      rest++;
    if (rest < end && *rest != '#')
      r.problem = "text after the closing quote was ignored";
    return r;
  }
  r.value = v;
  r.value_len = (size_t)(end - v);
  return r;
}

/* Iterate over lines: returns false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos,
                      const char **line, size_t *line_len) {
  if (*pos >= len)
    return false;
  const char *start = text + *pos;
  const char *nl = memchr(start, '\n', len - *pos);
  size_t l = nl ? (size_t)(nl - start) : len - *pos;
  *line = start;
  *line_len = l;
  *pos += l + (nl ? 1 : 0);
  return true;
}

/* The .encoding value (malloc'd, decoded), or NULL when absent. */
static char *find_encoding(const char *text, size_t len) {
  size_t pos = 0;
  const char *line;
  size_t ll;
  while (next_line(text, len, &pos, &line, &ll)) {
    raw_line r = split_line(line, ll);
    if (r.key && r.key_len == 9 && strncasecmp(r.key, ".encoding", 9) == 0) {
      char *v = strndup(r.value, r.value_len);
      if (v)
        decode_pipe_escapes(v);
      return v;
    }
  }
  return NULL;
}

/* ---- entries ---- */

static int add_entry(vmx_doc *doc, const raw_line *r, int line) {
  if (doc->n == doc->cap) {
    size_t cap = doc->cap ? doc->cap * 2 : 256;
    vmx_entry *grown = realloc(doc->entries, cap * sizeof *grown);
    if (!grown)
      return -1;
    doc->entries = grown;
    doc->cap = cap;
  }
  vmx_entry *e = &doc->entries[doc->n];
  e->key = strndup(r->key, r->key_len);
  e->value = strndup(r->value, r->value_len);
  e->line = line;
  e->dropped = false;
  if (!e->key || !e->value) {
    free(e->key);
    free(e->value);
    return -1;
  }
  lower_in_place(e->key);
  decode_pipe_escapes(e->value);
  doc->n++;
  return 0;
}

static void free_entries(vmx_doc *doc) {
  for (size_t i = 0; i < doc->n; i++) {
    free(doc->entries[i].key);
    free(doc->entries[i].value);
  }
  free(doc->entries);
  doc->entries = NULL;
  doc->n = doc->cap = 0;
}

static int tokenize(vmx_doc *doc, const char *text, size_t len) {
  size_t pos = 0, ll;
  const char *line;
  int lineno = 0;
  while (next_line(text, len, &pos, &line, &ll)) {
    lineno++;
    raw_line r = split_line(line, ll);
    if (!r.key) {
      if (r.problem)
        warn(doc, "line %d: %s; line ignored", lineno, r.problem);
      continue;
    }
    if (r.problem)
      warn(doc, "line %d: %s", lineno, r.problem);
    else if (!r.quoted)
      warn(doc, "line %d: value of '%.*s' is not quoted; accepted as is",
           lineno, (int)r.key_len, r.key);
    if (add_entry(doc, &r, lineno) < 0)
      return -1;
  }
  return 0;
}

static int entry_cmp(const void *a, const void *b) {
  const vmx_entry *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  if (c)
    return c;
  return (x->line > y->line) - (x->line < y->line);
}

/* Sort by key (then line) and drop later duplicates. */
static void sort_and_dedupe(vmx_doc *doc) {
  qsort(doc->entries, doc->n, sizeof *doc->entries, entry_cmp);
  size_t out = 0;
  for (size_t i = 0; i < doc->n; i++) {
    vmx_entry *e = &doc->entries[i];
    if (out && strcmp(doc->entries[out - 1].key, e->key) == 0) {
      warn(doc, "line %d: duplicate key '%s' ignored (first set on line %d)",
           e->line, e->key, doc->entries[out - 1].line);
      free(e->key);
      free(e->value);
      continue;
    }
    doc->entries[out++] = *e;
  }
  doc->n = out;
}

/* First index whose key is >= prefix. */
static size_t lower_bound(const vmx_doc *doc, const char *prefix) {
  size_t lo = 0, hi = doc->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(doc->entries[mid].key, prefix) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static void drop_prefix(vmx_doc *doc, const char *prefix) {
  size_t pl = strlen(prefix);
  for (size_t i = lower_bound(doc, prefix);
       i < doc->n && strncmp(doc->entries[i].key, prefix, pl) == 0; i++)
    doc->entries[i].dropped = true;
}

static int parse_bool(const char *v, bool *out) {
  if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1")) {
    *out = true;
    return 0;
  }
  if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0")) {
    *out = false;
    return 0;
  }
  return -1;
}

/* `X.present = "FALSE"` removes X.* and X:* (devices on controller X). */
static int prune_absent(vmx_doc *doc) {
  static const char suffix[] = ".present";
  const size_t sl = sizeof suffix - 1;
  for (size_t i = 0; i < doc->n; i++) {
    vmx_entry *e = &doc->entries[i];
    size_t kl = strlen(e->key);
    bool present;
    if (kl <= sl || strcmp(e->key + kl - sl, suffix) != 0)
      continue;
    if (parse_bool(e->value, &present) < 0) {
      warn(doc, "line %d: %s = \"%s\" is not TRUE or FALSE; ignored", e->line,
           e->key, e->value);
      continue;
    }
    if (present)
      continue;
    char *prefix = strndup(e->key, kl - sl + 1); /* keeps the '.' */
    if (!prefix)
      return -1;
    drop_prefix(doc, prefix);
    prefix[kl - sl] = ':';
    drop_prefix(doc, prefix);
    free(prefix);
  }
  return 0;
}

static const vmx_entry *find(const vmx_doc *doc, const char *key) {
  size_t i = lower_bound(doc, key);
  if (i < doc->n && strcmp(doc->entries[i].key, key) == 0 &&
      !doc->entries[i].dropped)
    return &doc->entries[i];
  return NULL;
}

static const char *get(const vmx_doc *doc, const char *key) {
  const vmx_entry *e = find(doc, key);
  return e ? e->value : NULL;
}

/* Like get() for "<prefix>.<leaf>"; prefix is lower-case. */
static const char *get2(const vmx_doc *doc, const char *prefix,
                        const char *leaf) {
  char key[128];
  snprintf(key, sizeof key, "%s.%s", prefix, leaf);
  return get(doc, key);
}

/* Is there any live key starting with prefix? */
static bool has_prefix(const vmx_doc *doc, const char *prefix) {
  size_t pl = strlen(prefix);
  for (size_t i = lower_bound(doc, prefix);
       i < doc->n && strncmp(doc->entries[i].key, prefix, pl) == 0; i++)
    if (!doc->entries[i].dropped)
      return true;
  return false;
}

/* Parse an integer key in [min, max]; absent leaves *out alone. */
static int get_int(vmx_doc *doc, const char *key, long min, long max, long *out,
                   h2k_error *err) {
  const vmx_entry *e = find(doc, key);
  if (!e)
    return 0;
  char *end;
  errno = 0;
  long v = strtol(e->value, &end, 10);
  if (errno || end == e->value || *end || v < min || v > max) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s line %d: %s = \"%s\" is not a whole number in %ld..%ld",
                doc->name, e->line, e->key, e->value, min, max);
    return -1;
  }
  *out = v;
  return 0;
}

static bool get_bool(vmx_doc *doc, const char *key, bool dflt) {
  const vmx_entry *e = find(doc, key);
  bool v;
  if (!e)
    return dflt;
  if (parse_bool(e->value, &v) < 0) {
    warn(doc, "line %d: %s = \"%s\" is not TRUE or FALSE; taken as %s", e->line,
         key, e->value, dflt ? "TRUE" : "FALSE");
    return dflt;
  }
  return v;
}

static int dup_opt(const char *v, char **out) {
  if (!v)
    return 0;
  *out = strdup(v);
  return *out ? 0 : -1;
}

/* ---- scalar settings ---- */

/* "56 4d 9e 2a 5c 8f 1e 3b-9a 4c 2d 7e 6f 01 23 45" -> canonical UUID. */
static char *vmware_uuid(const char *v) {
  char hex[33];
  size_t n = 0;
  for (const char *p = v; *p; p++) {
    if (*p == ' ' || *p == '-')
      continue;
    if (hex_value((unsigned char)*p) < 0 || n == 32)
      return NULL;
    hex[n++] = (char)tolower((unsigned char)*p);
  }
  if (n != 32)
    return NULL;
  hex[32] = '\0';
  char *out = NULL;
  if (asprintf(&out, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
               hex + 16, hex + 20) < 0)
    return NULL;
  return out;
}

static char *default_name(const char *name_for_messages) {
  const char *base = strrchr(name_for_messages, '/');
  base = base ? base + 1 : name_for_messages;
  size_t len = strlen(base);
  if (ends_with_ci(base, ".vmx"))
    len -= 4;
  return strndup(base, len ? len : strlen(base));
}

static int parse_identity(vmx_doc *doc) {
  h2k_vm *vm = doc->vm;
  const char *name = get(doc, "displayname");
  if (name && *name)
    vm->name = strdup(name);
  else
    vm->name = default_name(doc->name);
  if (!vm->name)
    return -1;
  const vmx_entry *u = find(doc, "uuid.bios");
  if (u) {
    vm->uuid = vmware_uuid(u->value);
    if (!vm->uuid)
      warn(doc, "line %d: uuid.bios = \"%s\" is not a UUID; ignored", u->line,
           u->value);
  }
  if (dup_opt(get(doc, "guestos"), &vm->guest_os) < 0 ||
      dup_opt(get(doc, "annotation"), &vm->annotation) < 0 ||
      dup_opt(get(doc, "bios.bootorder"), &vm->boot_order_hint) < 0)
    return -1;
  return 0;
}

static int parse_firmware(vmx_doc *doc) {
  h2k_vm *vm = doc->vm;
  const vmx_entry *fw = find(doc, "firmware");
  vm->firmware = H2K_FW_BIOS;
  if (fw && !strcasecmp(fw->value, "efi"))
    vm->firmware = H2K_FW_UEFI;
  else if (fw && strcasecmp(fw->value, "bios") != 0)
    warn(doc, "line %d: firmware = \"%s\" is unknown; assuming BIOS", fw->line,
         fw->value);
  vm->secure_boot = get_bool(doc, "uefi.secureboot.enabled", false);
  if (vm->secure_boot && vm->firmware != H2K_FW_UEFI)
    warn(doc, "uefi.secureBoot.enabled is set but firmware is not EFI");
  return 0;
}

static int parse_sizing(vmx_doc *doc, h2k_error *err) {
  h2k_vm *vm = doc->vm;
  long mem = 0, cpus = 1, cores = 0, hw = 0;
  if (get_int(doc, "memsize", 1, 128L * 1024 * 1024, &mem, err) < 0 ||
      get_int(doc, "numvcpus", 1, 4096, &cpus, err) < 0 ||
      get_int(doc, "cpuid.corespersocket", 1, 4096, &cores, err) < 0)
    return -1;
  h2k_error hw_err = {0};
  const vmx_entry *hwe = find(doc, "virtualhw.version");
  if (get_int(doc, "virtualhw.version", 1, 1000, &hw, &hw_err) < 0)
    warn(doc, "line %d: virtualHW.version = \"%s\" ignored", hwe->line,
         hwe->value);
  vm->memory_mb = (uint64_t)mem;
  vm->vcpus = (int)cpus;
  vm->cores_per_socket = (int)cores;
  vm->hw_version = (int)hw;
  if (!mem)
    warn(doc, "memsize is missing; memory size unknown");
  return 0;
}

/* ---- file names ---- */

static bool path_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* Base name of a foreign path: after the last '/' or '\'. */
static const char *foreign_basename(const char *p) {
  const char *b = p;
  for (const char *q = p; *q; q++)
    if (*q == '/' || *q == '\\')
      b = q + 1;
  return b;
}

static bool is_windows_path(const char *p) {
  return (isalpha((unsigned char)p[0]) && p[1] == ':') ||
         (p[0] == '\\' && p[1] == '\\');
}

/* Resolve a fileName value to a local path (see vmx.h). */
static char *resolve_file(vmx_doc *doc, const char *file, int line) {
  bool datastore = file[0] == '[' && strchr(file, ']');
  if (datastore || is_windows_path(file)) {
    char *local = h2k_path_join(doc->dir, foreign_basename(file));
    if (local)
      warn(doc, "line %d: \"%s\" is not a local path; using %s", line, file,
           local);
    return local;
  }
  if (file[0] != '/' || !doc->dir || path_exists(file))
    return h2k_path_join(doc->dir, file);
  char *local = h2k_path_join(doc->dir, foreign_basename(file));
  if (!local)
    return NULL;
  if (starts_with_ci(file, "/vmfs/volumes/") || path_exists(local)) {
    warn(doc,
         "line %d: %s does not exist here; using the copy beside the "
         ".vmx, %s",
         line, file, local);
    return local;
  }
  free(local);
  warn(doc, "line %d: %s does not exist", line, file);
  return strdup(file);
}

/* ---- disks and CD-ROMs ---- */

typedef struct bus_spec {
  const char *prefix;
  enum h2k_bus bus;
  int max_index; /* exclusive */
  int max_unit;  /* exclusive */
} bus_spec;

/* VMware's default BIOS disk order: IDE, SATA, SCSI, NVMe. */
static const bus_spec buses[] = {
    {"ide", H2K_BUS_IDE, 2, 2},
    {"sata", H2K_BUS_SATA, 4, 30},
    {"scsi", H2K_BUS_SCSI, 4, 65},
    {"nvme", H2K_BUS_NVME, 4, 64},
};

enum dev_kind { DEV_SKIP, DEV_DISK, DEV_CDROM };

static bool devtype_is_cdrom(const char *t) {
  return t && (!strcasecmp(t, "cdrom-image") || !strcasecmp(t, "atapi-cdrom") ||
               !strcasecmp(t, "cdrom-raw"));
}

static bool devtype_is_disk(const char *t) {
  static const char *const names[] = {"scsi-hardDisk", "disk", "plainDisk",
                                      "rawDisk", "ata-hardDisk"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (!strcasecmp(t, names[i]))
      return true;
  return false;
}

static enum dev_kind classify(vmx_doc *doc, const char *dev, const char *type,
                              const char *file) {
  if (devtype_is_cdrom(type))
    return DEV_CDROM;
  if (file && ends_with_ci(file, ".iso"))
    return DEV_CDROM;
  if (type && *type && !devtype_is_disk(type)) {
    warn(doc, "%s: deviceType \"%s\" is not converted", dev, type);
    return DEV_SKIP;
  }
  if (!file || !*file) {
    if (type && *type)
      warn(doc, "%s: disk without fileName ignored", dev);
    return DEV_SKIP;
  }
  if (ends_with_ci(file, ".vmdk"))
    return DEV_DISK;
  if (type && *type) {
    warn(doc, "%s: disk file \"%s\" does not end in .vmdk", dev, file);
    return DEV_DISK;
  }
  warn(doc, "%s: \"%s\" is neither a .vmdk disk nor an .iso; ignored", dev,
       file);
  return DEV_SKIP;
}

/* Controller model for a device on bus `b` number `index`. */
static int controller_model(vmx_doc *doc, const bus_spec *b, int index,
                            char **out) {
  *out = NULL;
  switch (b->bus) {
  case H2K_BUS_IDE:
    return dup_opt("ide", out);
  case H2K_BUS_SATA:
    return dup_opt("ahci", out);
  case H2K_BUS_NVME:
    return dup_opt("nvme", out);
  default:
    break;
  }
  char ctl[16];
  snprintf(ctl, sizeof ctl, "%s%d", b->prefix, index);
  const char *dev = get2(doc, ctl, "virtualdev");
  if (!dev)
    return 0;
  if (dup_opt(dev, out) < 0)
    return -1;
  lower_in_place(*out);
  if (strcmp(*out, "lsilogic") && strcmp(*out, "buslogic") &&
      strcmp(*out, "lsisas1068") && strcmp(*out, "pvscsi"))
    warn(doc, "%s.virtualDev = \"%s\" is an unknown SCSI controller", ctl, dev);
  return 0;
}

static int add_cdrom(vmx_doc *doc, const bus_spec *b, int index, int unit,
                     const char *prefix, const char *type, const char *file) {
  h2k_vm_cdrom *cd = h2k_vm_add_cdrom(doc->vm);
  if (!cd)
    return -1;
  cd->bus = b->bus;
  cd->bus_index = index;
  cd->unit = unit;
  if (controller_model(doc, b, index, &cd->controller) < 0)
    return -1;
  /* atapi-cdrom and cdrom-raw name a host drive, not an image. */
  bool image = !devtype_is_cdrom(type) || !strcasecmp(type, "cdrom-image");
  if (image && file && *file) {
    const vmx_entry *fe = find(doc, prefix);
    cd->path = resolve_file(doc, file, fe ? fe->line : 0);
    if (!cd->path)
      return -1;
  }
  return 0;
}

static int add_disk(vmx_doc *doc, const bus_spec *b, int index, int unit,
                    const vmx_entry *file) {
  h2k_vm_disk *d = h2k_vm_add_disk(doc->vm);
  if (!d)
    return -1;
  d->bus = b->bus;
  d->bus_index = index;
  d->unit = unit;
  d->vmx_filename = strdup(file->value);
  d->path = resolve_file(doc, file->value, file->line);
  d->format = strdup("vmdk");
  if (!d->vmx_filename || !d->path || !d->format)
    return -1;
  return controller_model(doc, b, index, &d->controller);
}

static int parse_device(vmx_doc *doc, const bus_spec *b, int index, int unit) {
  char dev[32], prefix[40];
  snprintf(dev, sizeof dev, "%s%d:%d", b->prefix, index, unit);
  snprintf(prefix, sizeof prefix, "%s.", dev);
  if (!has_prefix(doc, prefix))
    return 0;
  const char *type = get2(doc, dev, "devicetype");
  snprintf(prefix, sizeof prefix, "%s.filename", dev);
  const vmx_entry *file = find(doc, prefix);
  switch (classify(doc, dev, type, file ? file->value : NULL)) {
  case DEV_CDROM:
    return add_cdrom(doc, b, index, unit, prefix, type,
                     file ? file->value : NULL);
  case DEV_DISK:
    return add_disk(doc, b, index, unit, file);
  case DEV_SKIP:
    break;
  }
  return 0;
}

static int parse_storage(vmx_doc *doc) {
  for (size_t i = 0; i < sizeof buses / sizeof *buses; i++)
    for (int index = 0; index < buses[i].max_index; index++)
      for (int unit = 0; unit < buses[i].max_unit; unit++)
        if (parse_device(doc, &buses[i], index, unit) < 0)
          return -1;
  return 0;
}

/* "scsi0:1" names this disk? */
static bool disk_named(const h2k_vm_disk *d, const char *name) {
  char buf[32];
  snprintf(buf, sizeof buf, "%s%d:%d", h2k_bus_name(d->bus), d->bus_index,
           d->unit);
  return strcmp(buf, name) == 0;
}

/* Boot order: bios.hddOrder entries first, then the rest in list order. */
static int assign_boot_order(vmx_doc *doc) {
  h2k_vm *vm = doc->vm;
  int next = 1;
  const vmx_entry *order = find(doc, "bios.hddorder");
  if (order) {
    char *list = strdup(order->value), *save = NULL;
    if (!list)
      return -1;
    lower_in_place(list);
    for (char *tok = strtok_r(list, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
      bool found = false;
      for (size_t i = 0; i < vm->n_disks; i++) {
        if (!vm->disks[i].boot_order && disk_named(&vm->disks[i], tok)) {
          vm->disks[i].boot_order = next++;
          found = true;
        }
      }
      if (!found)
        warn(doc, "line %d: bios.hddOrder names \"%s\", which is not a disk",
             order->line, tok);
    }
    free(list);
  }
  for (size_t i = 0; i < vm->n_disks; i++)
    if (!vm->disks[i].boot_order)
      vm->disks[i].boot_order = next++;
  return 0;
}

/* ---- network ---- */

/* Normalise a MAC to "xx:xx:xx:xx:xx:xx" lower case; NULL if malformed. */
static char *normalise_mac(const char *v) {
  if (strlen(v) != 17)
    return NULL;
  char *mac = strdup(v);
  if (!mac)
    return NULL;
  for (int i = 0; i < 17; i++) {
    bool sep = i % 3 == 2;
    if (sep && (mac[i] == ':' || mac[i] == '-'))
      mac[i] = ':';
    else if (sep || hex_value((unsigned char)mac[i]) < 0) {
      free(mac);
      return NULL;
    } else
      mac[i] = (char)tolower((unsigned char)mac[i]);
  }
  return mac;
}

static const vmx_entry *nic_mac_entry(vmx_doc *doc, const char *nic) {
  char key[64];
  const char *type = get2(doc, nic, "addresstype");
  const char *first =
      type && !strcasecmp(type, "static") ? "address" : "generatedaddress";
  const char *second =
      strcmp(first, "address") ? "address" : "generatedaddress";
  snprintf(key, sizeof key, "%s.%s", nic, first);
  const vmx_entry *e = find(doc, key);
  if (!e) {
    snprintf(key, sizeof key, "%s.%s", nic, second);
    e = find(doc, key);
  }
  return e;
}

static int parse_nic(vmx_doc *doc, int n) {
  char nic[32], prefix[40];
  snprintf(nic, sizeof nic, "ethernet%d", n);
  snprintf(prefix, sizeof prefix, "%s.", nic);
  if (!has_prefix(doc, prefix))
    return 0;
  h2k_vm_nic *out = h2k_vm_add_nic(doc->vm);
  if (!out)
    return -1;
  const vmx_entry *mac = nic_mac_entry(doc, nic);
  if (mac && *mac->value) {
    out->mac = normalise_mac(mac->value);
    if (!out->mac)
      warn(doc, "line %d: %s = \"%s\" is not a MAC address; ignored", mac->line,
           mac->key, mac->value);
  }
  if (dup_opt(get2(doc, nic, "virtualdev"), &out->model) < 0 ||
      dup_opt(get2(doc, nic, "networkname"), &out->network) < 0 ||
      dup_opt(get2(doc, nic, "connectiontype"), &out->connection) < 0)
    return -1;
  if (out->model)
    lower_in_place(out->model);
  if (out->connection)
    lower_in_place(out->connection);
  return 0;
}

static int parse_network(vmx_doc *doc) {
  for (int n = 0; n < 100; n++)
    if (parse_nic(doc, n) < 0)
      return -1;
  return 0;
}

/* ---- entry points ---- */

static bool looks_like_vmdk(const char *text, size_t len) {
  if (len >= 4 && (!memcmp(text, "KDMV", 4) || !memcmp(text, "COWD", 4)))
    return true;
  size_t pos = 0, ll;
  const char *line;
  while (next_line(text, len, &pos, &line, &ll)) {
    while (ll && is_blank(*line))
      line++, ll--;
    if (ll >= 21 && !strncasecmp(line, "# Disk DescriptorFile", 21))
      return true;
    raw_line r = split_line(line, ll);
    if (r.key && r.key_len == 10 && !strncasecmp(r.key, "createType", 10))
      return true;
  }
  return false;
}

/* Make the text UTF-8: *owned receives a converted copy when needed. */
static int make_utf8(vmx_doc *doc, const char **text, size_t *len, char **owned,
                     h2k_error *err) {
  *owned = NULL;
  char *enc = find_encoding(*text, *len);
  const char *from = enc;
  if (!enc || is_utf8_name(enc)) {
    if (valid_utf8((const unsigned char *)*text, *len)) {
      free(enc);
      return 0;
    }
    warn(doc, "the file is not valid UTF-8 although %s; read as windows-1252",
         enc ? ".encoding says UTF-8" : "it has no .encoding");
    from = "WINDOWS-1252";
  }
  size_t out_len = 0, bad = 0;
  char *utf8 = to_utf8(*text, *len, from, &out_len, &bad);
  if (!utf8) {
    if (errno == EINVAL)
      h2k_err_set(err, H2K_E_INPUT, "%s: .encoding \"%s\" is not supported",
                  doc->name, from);
    else if (errno == EILSEQ)
      h2k_err_set(err, H2K_E_INPUT, "%s line %d: bytes invalid in %s",
                  doc->name, line_of_offset(*text, bad), from);
    else
      set_oom(err, doc->name);
    free(enc);
    return -1;
  }
  free(enc);
  *owned = utf8;
  *text = utf8;
  *len = out_len;
  return 0;
}

static int check_input(const char *name, const char *text, size_t len,
                       h2k_error *err) {
  if (len > H2K_VM_DESCRIPTOR_MAX) {
    h2k_err_set(err, H2K_E_INPUT, "%s is too large for a .vmx (%zu bytes)",
                name, len);
    return -1;
  }
  if (memchr(text, '\0', len)) {
    if (looks_like_vmdk(text, len < 4 ? len : 4))
      goto vmdk;
    h2k_err_set(err, H2K_E_INPUT,
                "%s is not a .vmx file: it contains binary data (NUL bytes)",
                name);
    return -1;
  }
  if (looks_like_vmdk(text, len))
    goto vmdk;
  return 0;
vmdk:
  h2k_err_set(err, H2K_E_INPUT,
              "%s is a VMDK disk (descriptor), not a .vmx configuration file",
              name);
  h2k_err_hint(err, "give the .vmx of the VM, or pass the disk as a disk");
  return -1;
}

static int parse_doc(vmx_doc *doc, const char *text, size_t len,
                     h2k_error *err) {
  char *converted = NULL;
  if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
    text += 3, len -= 3; /* UTF-8 byte order mark */
  if (make_utf8(doc, &text, &len, &converted, err) < 0)
    return -1;
  int rc = tokenize(doc, text, len);
  free(converted);
  if (rc < 0)
    goto oom;
  sort_and_dedupe(doc);
  if (prune_absent(doc) < 0 || parse_identity(doc) < 0 ||
      parse_firmware(doc) < 0)
    goto oom;
  if (parse_sizing(doc, err) < 0)
    return -1;
  if (parse_storage(doc) < 0 || assign_boot_order(doc) < 0 ||
      parse_network(doc) < 0 || doc->oom)
    goto oom;
  return 0;
oom:
  set_oom(err, doc->name);
  return -1;
}

h2k_vm *h2k_vmx_parse_buffer(const char *text, size_t len,
                             const char *dir_for_relative_paths,
                             const char *name_for_messages, h2k_error *err) {
  const char *name = name_for_messages ? name_for_messages : "VMX input";
  if (check_input(name, text, len, err) < 0)
    return NULL;
  vmx_doc doc = {.name = name, .dir = dir_for_relative_paths};
  doc.vm = h2k_vm_new();
  if (!doc.vm || !(doc.vm->source_path = strdup(name))) {
    h2k_vm_free(doc.vm);
    set_oom(err, name);
    return NULL;
  }
  int rc = parse_doc(&doc, text, len, err);
  free_entries(&doc);
  if (rc < 0) {
    h2k_vm_free(doc.vm);
    return NULL;
  }
  return doc.vm;
}

h2k_vm *h2k_vmx_parse_file(const char *path, h2k_error *err) {
  char *text = NULL;
  size_t len = 0;
  if (h2k_vm_read_descriptor(path, H2K_VM_DESCRIPTOR_MAX, &text, &len, err) < 0)
    return NULL;
  char *dir = h2k_path_dirname(path);
  if (!dir) {
    free(text);
    set_oom(err, path);
    return NULL;
  }
  h2k_vm *vm = h2k_vmx_parse_buffer(text, len, dir, path, err);
  free(dir);
  free(text);
  return vm;
}
