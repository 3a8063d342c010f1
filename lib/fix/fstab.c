/* /etc/fstab and /etc/crypttab device specs → stable specs, plus the small
 * line-editing helpers the other storage and boot fixers share. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "fix/fstab.h"

/* ---- line editing ---- */

static bool put(h2k_buf *b, const char *s, size_t n) {
  size_t before = b->len;
  h2k_buf_append(b, s, n);
  return b->data && b->len == before + n;
}

char *h2k_fix_edit_lines(const char *text, h2k_line_edit_fn fn, void *ctx,
                         h2k_error *err) {
  h2k_buf out = {0};
  bool failed = !put(&out, "", 0);
  int lineno = 0;
  for (const char *p = text; *p && !failed;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    size_t body = n;
    bool cr = body > 0 && p[body - 1] == '\r';
    if (cr)
      body--;
    char *line = strndup(p, body);
    char *rep = line ? fn(line, ++lineno, ctx, &failed) : NULL;
    const char *keep = rep ? rep : line;
    if (!line || failed || !put(&out, keep, strlen(keep)) ||
        (cr && !put(&out, "\r", 1)) || (nl && !put(&out, "\n", 1)))
      failed = true;
    free(rep);
    free(line);
    p += n + (nl ? 1 : 0);
  }
  if (failed) {
    h2k_buf_free(&out);
    h2k_err_set(err, H2K_E_FAIL, "out of memory while editing a guest file");
    return NULL;
  }
  return h2k_buf_steal(&out);
}

bool h2k_field_span(const char *line, int idx, size_t *start, size_t *len) {
  size_t i = 0;
  for (int f = 0;; f++) {
    while (line[i] == ' ' || line[i] == '\t')
      i++;
    if (!line[i])
      return false;
    size_t s = i;
    while (line[i] && line[i] != ' ' && line[i] != '\t')
      i++;
    if (f == idx) {
      *start = s;
      *len = i - s;
      return true;
    }
  }
}

char *h2k_splice(const char *line, size_t start, size_t len, const char *with) {
  return h2k_strdup_printf("%.*s%s%s", (int)start, line, with,
                           line + start + len);
}

/* The change log is optional. */
#define NOTE(log, ...)                                                         \
  do {                                                                         \
    if (log)                                                                   \
      h2k_changes_add(log, __VA_ARGS__);                                       \
  } while (0)

/* ---- which names are unstable ---- */

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Skip a run of digits; NULL when there is none. */
static const char *digits(const char *s) {
  if (!isdigit((unsigned char)*s))
    return NULL;
  while (isdigit((unsigned char)*s))
    s++;
  return s;
}

/* sda, sda1, hdb2, vdc, xvda3, sdaa10 */
static bool is_scsi_style(const char *name) {
  static const char *const prefixes[] = {"xvd", "sd", "hd", "vd"};
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
    if (!starts_with(name, prefixes[i]))
      continue;
    const char *p = name + strlen(prefixes[i]);
    if (!islower((unsigned char)*p))
      return false;
    while (islower((unsigned char)*p))
      p++;
    while (isdigit((unsigned char)*p))
      p++;
    return *p == '\0';
  }
  return false;
}

/* nvme0n1, nvme0n1p2 */
static bool is_nvme(const char *name) {
  if (!starts_with(name, "nvme"))
    return false;
  const char *p = digits(name + 4);
  if (!p || *p != 'n' || !(p = digits(p + 1)))
    return false;
  if (*p == 'p' && !(p = digits(p + 1)))
    return false;
  return *p == '\0';
}

/* cciss/c0d0, cciss/c0d0p1 (HP Smart Array on old ESX guests) */
static bool is_cciss(const char *name) {
  if (!starts_with(name, "cciss/c"))
    return false;
  const char *p = digits(name + 7);
  if (!p || *p != 'd' || !(p = digits(p + 1)))
    return false;
  if (*p == 'p' && !(p = digits(p + 1)))
    return false;
  return *p == '\0';
}

/* by-id names that belong to device-mapper, md or LVM carry their own UUIDs
 * and do not depend on the disk bus. */
static bool is_bus_by_id(const char *id) {
  return !starts_with(id, "dm-") && !starts_with(id, "md-") &&
         !starts_with(id, "lvm-pv-uuid-");
}

bool h2k_dev_is_unstable(const char *spec, enum h2k_fstab_mode mode) {
  if (!spec || mode == H2K_FSTAB_NOOP)
    return false;
  char buf[4096];
  size_t n = strlen(spec);
  if (n >= 2 && spec[0] == '"' && spec[n - 1] == '"' && n - 2 < sizeof buf) {
    memcpy(buf, spec + 1, n - 2);
    buf[n - 2] = '\0';
    spec = buf;
  }
  if (starts_with(spec, "/dev/disk/by-path/"))
    return spec[18] != '\0';
  if (starts_with(spec, "/dev/disk/by-id/"))
    return spec[16] != '\0' && is_bus_by_id(spec + 16);
  if (mode == H2K_FSTAB_BYPATH_ONLY || !starts_with(spec, "/dev/"))
    return false;
  const char *name = spec + 5;
  return is_scsi_style(name) || is_nvme(name) || is_cciss(name);
}

int h2k_fstab_mode_parse(const char *s, enum h2k_fstab_mode *out) {
  static const char *const names[] = {"stabilize-all", "bypath-only", "noop"};
  for (int i = 0; s && i < 3; i++)
    if (!strcmp(s, names[i])) {
      *out = (enum h2k_fstab_mode)i;
      return 0;
    }
  return -1;
}

const char *h2k_fstab_mode_name(enum h2k_fstab_mode mode) {
  switch (mode) {
  case H2K_FSTAB_STABILIZE_ALL:
    return "stabilize-all";
  case H2K_FSTAB_BYPATH_ONLY:
    return "bypath-only";
  case H2K_FSTAB_NOOP:
    return "noop";
  }
  return "?";
}

/* ---- fstab / crypttab ---- */

/* Kernel-provided filesystems: their spec is a dummy word, never a disk. */
bool h2k_fstype_is_pseudo(const char *type) {
  static const char *const pseudo[] = {
      "proc",       "sysfs",   "tmpfs",       "devtmpfs", "devpts",
      "cgroup",     "cgroup2", "securityfs",  "debugfs",  "tracefs",
      "hugetlbfs",  "mqueue",  "configfs",    "pstore",   "efivarfs",
      "bpf",        "fusectl", "binfmt_misc", "autofs",   "ramfs",
      "rpc_pipefs", "nfsd",    "usbfs",       "selinuxfs"};
  for (size_t i = 0; i < sizeof pseudo / sizeof *pseudo; i++)
    if (!strcmp(type, pseudo[i]))
      return true;
  return false;
}

/* fstab and crypttab fields cannot hold blanks: octal-escape them (a label
 * such as "My Data" becomes LABEL=My\040Data, which libmount decodes). */
static char *escape_field(const char *spec) {
  h2k_buf b = {0};
  bool ok = put(&b, "", 0);
  for (const char *p = spec; *p && ok; p++) {
    if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\') {
      char oct[8];
      snprintf(oct, sizeof oct, "\\%03o", (unsigned)(unsigned char)*p);
      ok = put(&b, oct, 4);
    } else {
      ok = put(&b, p, 1);
    }
  }
  if (!ok) {
    h2k_buf_free(&b);
    return NULL;
  }
  return h2k_buf_steal(&b);
}

static char *unquote(const char *s, size_t n) {
  if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
    return strndup(s + 1, n - 2);
  return strndup(s, n);
}

typedef struct tab_ctx {
  const h2k_devmap *map;
  enum h2k_fstab_mode mode;
  const char *file;
  int dev_field;  /* 0 in fstab, 1 in crypttab */
  int type_field; /* 2 in fstab, -1 in crypttab */
  h2k_changes *log;
} tab_ctx;

static bool is_comment_or_blank(const char *line) {
  while (*line == ' ' || *line == '\t')
    line++;
  return *line == '#' || *line == '\0';
}

static bool field_is_pseudo(const char *line, int idx) {
  size_t s, n;
  if (idx < 0 || !h2k_field_span(line, idx, &s, &n))
    return false;
  char *type = strndup(line + s, n);
  bool pseudo = type && h2k_fstype_is_pseudo(type);
  free(type);
  return pseudo;
}

static char *edit_tab_line(const char *line, int lineno, void *vctx,
                           bool *failed) {
  tab_ctx *c = vctx;
  size_t s, n;
  if (is_comment_or_blank(line) || !h2k_field_span(line, c->dev_field, &s, &n))
    return NULL;
  if (field_is_pseudo(line, c->type_field))
    return NULL;
  char *dev = unquote(line + s, n);
  if (!dev) {
    *failed = true;
    return NULL;
  }
  char *rep = NULL;
  if (h2k_dev_is_unstable(dev, c->mode)) {
    char *spec = h2k_stable_spec(c->map, dev);
    char *field = spec ? escape_field(spec) : NULL;
    if (!spec) {
      NOTE(c->log, c->file, lineno, line, line,
           "no stable ID for %s: left as is", dev);
    } else if (!field || !(rep = h2k_splice(line, s, n, field))) {
      *failed = true;
    } else {
      NOTE(c->log, c->file, lineno, line, rep,
           "stable ID for %s (its name changes on virtio-blk)", dev);
    }
    free(field);
    free(spec);
  }
  free(dev);
  return rep;
}

static char *fix_table(const char *text, tab_ctx *c, h2k_error *err) {
  if (!text) {
    h2k_err_set(err, H2K_E_FAIL, "%s: no text to fix", c->file);
    return NULL;
  }
  if (!c->map && c->mode != H2K_FSTAB_NOOP) {
    h2k_err_set(err, H2K_E_FAIL, "%s: no device map to fix it with", c->file);
    return NULL;
  }
  if (c->mode == H2K_FSTAB_NOOP) {
    char *copy = strdup(text);
    if (!copy)
      h2k_err_set(err, H2K_E_FAIL, "%s: out of memory", c->file);
    return copy;
  }
  return h2k_fix_edit_lines(text, edit_tab_line, c, err);
}

char *h2k_fix_fstab(const char *text, const h2k_devmap *map,
                    enum h2k_fstab_mode mode, h2k_changes *log,
                    h2k_error *err) {
  tab_ctx c = {map, mode, "/etc/fstab", 0, 2, log};
  return fix_table(text, &c, err);
}

char *h2k_fix_crypttab(const char *text, const h2k_devmap *map,
                       enum h2k_fstab_mode mode, h2k_changes *log,
                       h2k_error *err) {
  tab_ctx c = {map, mode, "/etc/crypttab", 1, -1, log};
  return fix_table(text, &c, err);
}
