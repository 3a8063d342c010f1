/* root= / resume= on kernel command lines, /etc/default/grub, grub.cfg, BLS
 * entries, extlinux.conf, grubenv and GRUB's device.map. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "fix/bootloader.h"
#include "fix/fstab.h"

#define NOTE(log, ...)                                                         \
  do {                                                                         \
    if (log)                                                                   \
      h2k_changes_add(log, __VA_ARGS__);                                       \
  } while (0)

static bool put(h2k_buf *b, const char *s, size_t n) {
  size_t before = b->len;
  h2k_buf_append(b, s, n);
  return b->data && b->len == before + n;
}

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* What one command-line edit needs, and what it found. */
typedef struct cmdline_ctx {
  const h2k_devmap *map;
  const char *root_dev;
  const char *file;
  h2k_changes *log;
  int lineno;
  const char *whole_line; /* for warnings: the line the arguments sit on */
  h2k_buf reasons;        /* "stable ID for /dev/sda1 (root=); ..." */
  bool failed;
} cmdline_ctx;

static void add_reason(cmdline_ctx *c, const char *fmt, const char *dev,
                       const char *key) {
  if (c->reasons.len && !put(&c->reasons, "; ", 2))
    c->failed = true;
  size_t before = c->reasons.len;
  h2k_buf_printf(&c->reasons, fmt, dev, key);
  if (c->reasons.len == before)
    c->failed = true;
}

/* A spec the kernel and the initramfs take as one unquoted argument. */
static bool cmdline_safe(const char *spec) {
  for (const char *p = spec; *p; p++)
    if (is_blank(*p) || *p == '"' || *p == '\'' || *p == '\\')
      return false;
  return true;
}

/* The stable spec for the device of a root=/resume= argument, or NULL. */
static char *spec_for(cmdline_ctx *c, const char *key, const char *dev) {
  char *spec = h2k_stable_spec(c->map, dev);
  if (!spec && !strcmp(key, "root") && c->root_dev)
    spec = h2k_stable_spec(c->map, c->root_dev);
  return spec;
}

/* Rewrite one argument if it is root=/resume= with an unstable device.
 * Returns the malloc'ed new argument or NULL to keep it. */
static char *fix_argument(cmdline_ctx *c, const char *arg, size_t n) {
  static const char *const keys[] = {"root", "resume"};
  size_t q = arg[0] == '"' ? 1 : 0; /* "root=/dev/sda1" */
  for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
    size_t kl = strlen(keys[k]);
    if (n < q + kl + 1 || strncmp(arg + q, keys[k], kl) || arg[q + kl] != '=')
      continue;
    const char *v = arg + q + kl + 1;
    size_t vl = n - (size_t)(v - arg);
    if (vl && v[vl - 1] == '"')
      vl--;
    if (vl && v[0] == '"') /* root="/dev/sda1" */
      v++, vl--;
    char *dev = strndup(v, vl);
    if (!dev) {
      c->failed = true;
      return NULL;
    }
    char *out = NULL;
    if (h2k_dev_is_unstable(dev, H2K_FSTAB_STABILIZE_ALL)) {
      char *spec = spec_for(c, keys[k], dev);
      if (!spec)
        NOTE(c->log, c->file, c->lineno, c->whole_line, c->whole_line,
             "no stable ID for %s (%s=): left as is", dev, keys[k]);
      else if (!cmdline_safe(spec))
        NOTE(c->log, c->file, c->lineno, c->whole_line, c->whole_line,
             "the stable ID of %s (%s=) cannot be written unquoted on a "
             "command line: left as is",
             dev, keys[k]);
      else if (!(out = h2k_strdup_printf("%s=%s", keys[k], spec)))
        c->failed = true;
      else
        add_reason(c, "stable ID for %s (%s=)", dev, keys[k]);
      free(spec);
    }
    free(dev);
    return out;
  }
  return NULL;
}

/* Rewrite the arguments of `args` (blank-separated, double quotes group).
 * Returns the new malloc'ed text, or NULL when nothing changed. */
static char *fix_arguments(cmdline_ctx *c, const char *args) {
  h2k_buf out = {0};
  bool changed = false;
  const char *p = args;
  while (*p && !c->failed) {
    const char *start = p;
    while (*p && is_blank(*p))
      p++;
    if (!put(&out, start, (size_t)(p - start)))
      c->failed = true;
    start = p;
    bool quoted = false;
    while (*p && (quoted || !is_blank(*p)))
      quoted ^= *p++ == '"';
    size_t n = (size_t)(p - start);
    if (!n)
      continue;
    char *rep = fix_argument(c, start, n);
    changed |= rep != NULL;
    if (!(rep ? put(&out, rep, strlen(rep)) : put(&out, start, n)))
      c->failed = true;
    free(rep);
  }
  if (!changed || c->failed) {
    h2k_buf_free(&out);
    return NULL;
  }
  return h2k_buf_steal(&out);
}

/* Log one changed line with the reasons gathered for it. */
static void note_line(cmdline_ctx *c, const char *before, const char *after) {
  NOTE(c->log, c->file, c->lineno, before, after, "%s",
       c->reasons.data ? c->reasons.data : "");
  h2k_buf_free(&c->reasons);
}

/* Fix the arguments from offset `from` to the end of `line`. */
static char *fix_line_tail(cmdline_ctx *c, const char *line, size_t from,
                           int lineno) {
  c->lineno = lineno;
  c->whole_line = line;
  char *tail = fix_arguments(c, line + from);
  if (!tail)
    return NULL;
  char *rep = h2k_strdup_printf("%.*s%s", (int)from, line, tail);
  free(tail);
  if (!rep)
    c->failed = true;
  else
    note_line(c, line, rep);
  return rep;
}

static bool check_input(const char *text, const h2k_devmap *map,
                        const char *file, h2k_error *err) {
  if (!text || !map) {
    h2k_err_set(err, H2K_E_FAIL, "%s: %s", file ? file : "boot config",
                text ? "no device map to fix it with" : "no text to fix");
    return false;
  }
  return true;
}

typedef struct numbered_ctx {
  cmdline_ctx cmd;
  int first_line;
} numbered_ctx;

static char *edit_cmdline_line(const char *line, int lineno, void *vctx,
                               bool *failed) {
  numbered_ctx *n = vctx;
  char *rep = fix_line_tail(&n->cmd, line, 0, n->first_line + lineno - 1);
  *failed = n->cmd.failed;
  return rep;
}

char *h2k_fix_kernel_cmdline(const char *cmdline, const h2k_devmap *map,
                             const char *root_dev, const char *file, int line,
                             h2k_changes *log, h2k_error *err) {
  if (!check_input(cmdline, map, file, err))
    return NULL;
  numbered_ctx n = {
      {.map = map, .root_dev = root_dev, .file = file, .log = log}, line};
  char *out = h2k_fix_edit_lines(cmdline, edit_cmdline_line, &n, err);
  h2k_buf_free(&n.cmd.reasons);
  return out;
}

/* ---- line-oriented files: grub.cfg, BLS entries, extlinux.conf ---- */

typedef struct keyword_ctx {
  cmdline_ctx cmd;
  const char *const *keywords; /* first word of the lines to fix */
  int args_field;              /* arguments start after this field */
  bool any_case;
} keyword_ctx;

#define CMD_INIT                                                               \
  { .map = map, .root_dev = root_dev, .file = file, .log = log }

static bool keyword_matches(const keyword_ctx *k, const char *word, size_t n) {
  for (const char *const *kw = k->keywords; *kw; kw++)
    if (strlen(*kw) == n &&
        (k->any_case ? !strncasecmp(word, *kw, n) : !strncmp(word, *kw, n)))
      return true;
  return false;
}

static char *edit_keyword_line(const char *line, int lineno, void *vctx,
                               bool *failed) {
  keyword_ctx *k = vctx;
  size_t s, n;
  if (!h2k_field_span(line, 0, &s, &n) || !keyword_matches(k, line + s, n))
    return NULL;
  if (!h2k_field_span(line, k->args_field, &s, &n))
    return NULL;
  char *rep = fix_line_tail(&k->cmd, line, s + n, lineno);
  *failed = k->cmd.failed;
  return rep;
}

static char *fix_keyword_lines(const char *text, keyword_ctx *k,
                               h2k_error *err) {
  if (!check_input(text, k->cmd.map, k->cmd.file, err))
    return NULL;
  char *out = h2k_fix_edit_lines(text, edit_keyword_line, k, err);
  h2k_buf_free(&k->cmd.reasons);
  return out;
}

char *h2k_fix_grub_cfg(const char *text, const h2k_devmap *map,
                       const char *root_dev, const char *file, h2k_changes *log,
                       h2k_error *err) {
  /* "kernel" is GRUB legacy (menu.lst, grub.conf on RHEL 6). */
  static const char *const kw[] = {"linux", "linux16", "linuxefi", "kernel",
                                   NULL};
  keyword_ctx k = {.cmd = CMD_INIT, .keywords = kw, .args_field = 1};
  return fix_keyword_lines(text, &k, err);
}

char *h2k_fix_bls_entry(const char *text, const h2k_devmap *map,
                        const char *root_dev, const char *file,
                        h2k_changes *log, h2k_error *err) {
  static const char *const kw[] = {"options", NULL};
  keyword_ctx k = {.cmd = CMD_INIT, .keywords = kw, .args_field = 0};
  return fix_keyword_lines(text, &k, err);
}

char *h2k_fix_extlinux_conf(const char *text, const h2k_devmap *map,
                            const char *root_dev, const char *file,
                            h2k_changes *log, h2k_error *err) {
  static const char *const kw[] = {"append", NULL};
  keyword_ctx k = {.cmd = CMD_INIT, .keywords = kw, .any_case = true};
  return fix_keyword_lines(text, &k, err);
}

/* ---- /etc/default/grub (a shell fragment) ---- */

/* NAME=value with an optional "export ", value bare or in '' or "". */
typedef struct assignment {
  size_t name, name_len; /* offsets into the line */
  size_t value, value_len;
  char quote; /* 0, '\'' or '"' */
} assignment;

static bool parse_assignment(const char *line, assignment *a) {
  size_t i = 0;
  while (line[i] == ' ' || line[i] == '\t')
    i++;
  if (!strncmp(line + i, "export", 6) &&
      (line[i + 6] == ' ' || line[i + 6] == '\t')) {
    i += 6;
    while (line[i] == ' ' || line[i] == '\t')
      i++;
  }
  a->name = i;
  while (isalnum((unsigned char)line[i]) || line[i] == '_')
    i++;
  a->name_len = i - a->name;
  if (!a->name_len || line[i] != '=')
    return false;
  i++;
  a->quote = line[i] == '"' || line[i] == '\'' ? line[i] : 0;
  if (a->quote)
    i++;
  a->value = i;
  if (a->quote) {
    while (line[i] && line[i] != a->quote)
      i += line[i] == '\\' && a->quote == '"' && line[i + 1] ? 2 : 1;
    if (line[i] != a->quote)
      return false; /* continues on the next line: leave it alone */
  } else {
    while (line[i] && !is_blank(line[i]) && line[i] != ';')
      i++;
  }
  a->value_len = i - a->value;
  return true;
}

static bool name_is(const char *line, const assignment *a, const char *name) {
  return a->name_len == strlen(name) &&
         !strncmp(line + a->name, name, a->name_len);
}

static char *fix_grub_cmdline_var(cmdline_ctx *c, const char *line,
                                  const assignment *a, int lineno) {
  char *value = strndup(line + a->value, a->value_len);
  if (!value) {
    c->failed = true;
    return NULL;
  }
  c->lineno = lineno;
  c->whole_line = line;
  char *fixed = fix_arguments(c, value);
  free(value);
  if (!fixed)
    return NULL;
  char *rep = h2k_splice(line, a->value, a->value_len, fixed);
  free(fixed);
  if (!rep)
    c->failed = true;
  else
    note_line(c, line, rep);
  return rep;
}

static char *edit_grub_default_line(const char *line, int lineno, void *vctx,
                                    bool *failed) {
  cmdline_ctx *c = vctx;
  assignment a;
  char *rep = NULL;
  if (!parse_assignment(line, &a))
    return NULL;
  const char *v = line + a.value;
  if (name_is(line, &a, "GRUB_CMDLINE_LINUX") ||
      name_is(line, &a, "GRUB_CMDLINE_LINUX_DEFAULT")) {
    rep = fix_grub_cmdline_var(c, line, &a, lineno);
  } else if (name_is(line, &a, "GRUB_DISABLE_LINUX_UUID") && a.value_len == 4 &&
             !strncmp(v, "true", 4)) {
    if (!(rep = h2k_splice(line, a.value, a.value_len, "false")))
      c->failed = true;
    else
      NOTE(c->log, c->file, lineno, line, rep,
           "with UUIDs disabled grub-mkconfig writes root=/dev/sdXN, a name "
           "that changes on virtio-blk; let it write root=UUID=");
  } else if (name_is(line, &a, "GRUB_DEVICE") ||
             name_is(line, &a, "GRUB_DEVICE_BOOT")) {
    char *dev = strndup(v, a.value_len);
    if (!dev)
      c->failed = true;
    else if (h2k_dev_is_unstable(dev, H2K_FSTAB_STABILIZE_ALL)) {
      if (!(rep = h2k_strdup_printf("#%s", line)))
        c->failed = true;
      else
        NOTE(c->log, c->file, lineno, line, rep,
             "pins grub-mkconfig to %s, a name that changes on virtio-blk; "
             "grub-probe finds the device itself",
             dev);
    }
    free(dev);
  }
  *failed = c->failed;
  return rep;
}

char *h2k_fix_grub_default(const char *text, const h2k_devmap *map,
                           const char *root_dev, h2k_changes *log,
                           h2k_error *err) {
  cmdline_ctx c = {.map = map,
                   .root_dev = root_dev,
                   .file = "/etc/default/grub",
                   .log = log};
  if (!check_input(text, map, c.file, err))
    return NULL;
  char *out = h2k_fix_edit_lines(text, edit_grub_default_line, &c, err);
  h2k_buf_free(&c.reasons);
  return out;
}

/* ---- grubenv ---- */

static char *edit_grubenv_line(const char *line, int lineno, void *vctx,
                               bool *failed) {
  cmdline_ctx *c = vctx;
  char *rep = NULL;
  if (!strncmp(line, "kernelopts=", 11))
    rep = fix_line_tail(c, line, 11, lineno);
  *failed = c->failed;
  return rep;
}

char *h2k_fix_grubenv(const char *text, const h2k_devmap *map,
                      const char *root_dev, const char *file, h2k_changes *log,
                      h2k_error *err) {
  if (!check_input(text, map, file, err))
    return NULL;
  /* The variables end at the last line break; '#' padding follows. */
  size_t total = strlen(text);
  const char *last_nl = strrchr(text, '\n');
  size_t body = last_nl ? (size_t)(last_nl - text) + 1 : 0;
  if (strspn(text + body, "#") != total - body)
    body = total;
  char *head = strndup(text, body);
  cmdline_ctx c = {.map = map, .root_dev = root_dev, .file = file, .log = log};
  char *fixed =
      head ? h2k_fix_edit_lines(head, edit_grubenv_line, &c, err) : NULL;
  free(head);
  h2k_buf_free(&c.reasons);
  if (!fixed) {
    if (!head)
      h2k_err_set(err, H2K_E_FAIL, "%s: out of memory", file);
    return NULL;
  }
  size_t len = strlen(fixed);
  if (len > total) {
    free(fixed);
    h2k_err_set(err, H2K_E_STAGE,
                "%s: the stable root= does not fit in the %zu-byte GRUB "
                "environment block",
                file, total);
    return NULL;
  }
  char *out = realloc(fixed, total + 1);
  if (!out) {
    free(fixed);
    h2k_err_set(err, H2K_E_FAIL, "%s: out of memory", file);
    return NULL;
  }
  memset(out + len, '#', total - len);
  out[total] = '\0';
  return out;
}

/* ---- device.map ---- */

bool h2k_device_map_is_stale(const char *text) {
  for (const char *p = text ? text : ""; *p;) {
    const char *nl = strchrnul(p, '\n');
    char *line = strndup(p, (size_t)(nl - p));
    size_t s, n;
    bool stale = false;
    if (line && h2k_field_span(line, 0, &s, &n) && line[s] == '(' &&
        h2k_field_span(line, 1, &s, &n)) {
      line[s + n] = '\0';
      stale = h2k_dev_is_unstable(line + s, H2K_FSTAB_STABILIZE_ALL);
    }
    free(line);
    if (stale)
      return true;
    p = *nl ? nl + 1 : nl;
  }
  return false;
}
