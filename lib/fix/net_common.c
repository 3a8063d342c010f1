/* Helpers every network fixer shares: MAC and interface-name
 * classification, the rename map and the editable line model. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "fix/network.h"

/* ---- Classification ---------------------------------------------------- */

/* Parse "aa:bb:cc:dd:ee:ff" (':' or '-', any case) into 6 bytes. */
static bool parse_mac(const char *s, size_t len, unsigned char out[6]) {
  if (len != 17)
    return false;
  char sep = s[2];
  if (sep != ':' && sep != '-')
    return false;
  for (int i = 0; i < 6; i++) {
    const char *p = s + i * 3;
    if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]))
      return false;
    if (i < 5 && p[2] != sep)
      return false;
    char hex[3] = {p[0], p[1], 0};
    out[i] = (unsigned char)strtoul(hex, NULL, 16);
  }
  return true;
}

static bool vmware_oui(const unsigned char m[6]) {
  static const unsigned char ouis[][3] = {{0x00, 0x50, 0x56},
                                          {0x00, 0x0c, 0x29},
                                          {0x00, 0x05, 0x69},
                                          {0x00, 0x1c, 0x14}};
  for (size_t i = 0; i < sizeof ouis / sizeof ouis[0]; i++)
    if (!memcmp(m, ouis[i], 3))
      return true;
  return false;
}

bool h2k_is_vmware_mac(const char *mac) {
  unsigned char m[6];
  return mac && parse_mac(mac, strlen(mac), m) && vmware_oui(m);
}

/* `s` is "prefix" followed by only digits (at least `min_digits`); the
 * number goes to *num (saturated). */
static bool prefix_number(const char *s, const char *prefix, size_t min_digits,
                          unsigned long *num) {
  size_t pl = strlen(prefix);
  if (strncmp(s, prefix, pl) != 0)
    return false;
  const char *d = s + pl;
  size_t nd = strspn(d, "0123456789");
  if (nd < min_digits || d[nd] != '\0' || nd > 12)
    return false;
  *num = strtoul(d, NULL, 10);
  return true;
}

bool h2k_is_vmware_ifname(const char *name) {
  unsigned long n;
  if (!name)
    return false;
  if (prefix_number(name, "ens", 2, &n))
    /* VMware's PCI slot numbers: legacy slots 32-39, then one PCIe root
     * port per 32 slots (160, 192, 224, 256) with up to 8 functions. */
    return (n >= 32 && n <= 39) || (n >= 160 && n <= 167) ||
           (n >= 192 && n <= 199) || (n >= 224 && n <= 231) ||
           (n >= 256 && n <= 263);
  if (prefix_number(name, "eno", 8, &n))
    return true; /* eno16777736: ACPI index made up by VMware firmware */
  if (prefix_number(name, "eth", 1, &n))
    return strlen(name) == 4; /* eth0-eth9 */
  return false;
}

static bool eq_n(const char *z, const char *s, size_t len) {
  return z && strlen(z) == len && !memcmp(z, s, len);
}

/* Strip one pair of surrounding quotes. */
static void unquote(const char **s, size_t *len) {
  if (*len >= 2 && ((*s)[0] == '"' || (*s)[0] == '\'') &&
      (*s)[*len - 1] == (*s)[0]) {
    (*s)++;
    *len -= 2;
  }
}

bool h2k_net_is_source_mac(const h2k_net_ctx *ctx, const char *mac,
                           size_t len) {
  unquote(&mac, &len);
  unsigned char m[6], o[6];
  if (!parse_mac(mac, len, m))
    return false;
  if (vmware_oui(m))
    return true;
  for (size_t i = 0; i < ctx->n_source_macs; i++) {
    const char *s = ctx->source_macs[i];
    if (s && parse_mac(s, strlen(s), o) && !memcmp(m, o, 6))
      return true;
  }
  return false;
}

/* ---- Rename map --------------------------------------------------------- */

static bool ifname_char(char c) {
  return isalnum((unsigned char)c) || c == '_';
}

/* The target for a bare interface name, or NULL. */
static const char *map_base(const h2k_net_map *m, const char *base,
                            size_t len) {
  const h2k_net_ctx *ctx = m->ctx;
  if (ctx->level < H2K_NET_MODERATE || !ctx->target_ifname)
    return NULL;
  const char *to = NULL;
  if (ctx->n_source_ifnames) {
    for (size_t i = 0; i < ctx->n_source_ifnames && !to; i++) {
      if (!eq_n(ctx->source_ifnames[i], base, len))
        continue;
      if (ctx->target_ifnames)
        to = ctx->target_ifnames[i];
      else if (i == 0)
        to = ctx->target_ifname;
      break;
    }
  } else if (eq_n(m->fallback, base, len)) {
    to = ctx->target_ifname;
  }
  return to && !eq_n(to, base, len) ? to : NULL;
}

/* Length of the base name: up to a VLAN '.' or alias ':' suffix. */
static size_t base_len(const char *name, size_t len) {
  size_t i = 0;
  while (i < len && ifname_char(name[i]))
    i++;
  return i;
}

char *h2k_net_rename(const h2k_net_map *m, const char *name, size_t len) {
  size_t bl = base_len(name, len);
  if (bl == 0)
    return NULL;
  const char *suffix = name + bl;
  size_t sl = len - bl;
  /* Only "name", "name.100" and "name:1"; globs and the like are kept. */
  if (sl && ((suffix[0] != '.' && suffix[0] != ':') ||
             strspn(suffix + 1, "0123456789") != sl - 1 || sl == 1))
    return NULL;
  const char *to = map_base(m, name, bl);
  if (!to)
    return NULL;
  return h2k_strdup_printf("%s%.*s", to, (int)sl, suffix);
}

static bool is_target_name(const h2k_net_ctx *ctx, const char *s, size_t len) {
  if (eq_n(ctx->target_ifname, s, len))
    return true;
  for (size_t i = 0; ctx->target_ifnames && i < ctx->n_source_ifnames; i++)
    if (eq_n(ctx->target_ifnames[i], s, len))
      return true;
  return false;
}

bool h2k_net_is_missing(const h2k_net_map *m, const char *name, size_t len) {
  const h2k_net_ctx *ctx = m->ctx;
  if (ctx->level < H2K_NET_AGGRESSIVE || ctx->target_configured ||
      !ctx->target_ifname || len == 0 || base_len(name, len) != len)
    return false;
  char buf[64];
  if (len >= sizeof buf)
    return false;
  memcpy(buf, name, len);
  buf[len] = '\0';
  bool ether = h2k_is_vmware_ifname(buf) || !strncmp(buf, "en", 2) ||
               !strncmp(buf, "eth", 3);
  return ether && !map_base(m, name, len) && !is_target_name(ctx, name, len);
}

char *h2k_net_rename_words(const h2k_net_map *m, const char *list) {
  char *cur = NULL;
  size_t pos = 0;
  for (;;) {
    const char *s = cur ? cur : list;
    while (s[pos] && (isspace((unsigned char)s[pos]) || s[pos] == ','))
      pos++;
    if (!s[pos])
      return cur;
    size_t end = pos;
    while (s[end] && !isspace((unsigned char)s[end]) && s[end] != ',')
      end++;
    char *to = h2k_net_rename(m, s + pos, end - pos);
    if (to) {
      char *next = h2k_net_splice(s, pos, end - pos, to);
      size_t tl = strlen(to);
      free(to);
      free(cur);
      if (!next)
        return NULL;
      cur = next;
      end = pos + tl;
    }
    pos = end;
  }
}

/* Fallback when ctx lists no names: the one VMware-style name used in the
 * text's active lines (or in the file name). Several, or the target name
 * already in use -> none. */
static int scan_fallback(h2k_net_map *m, const h2k_nt *t, const char *path) {
  const char *base = path ? strrchr(path, '/') : NULL;
  base = base ? base + 1 : path;
  for (size_t i = 0; i <= t->n; i++) {
    const char *s = i < t->n ? t->line[i] : base;
    if (!s || (i < t->n && s[strspn(s, " \t")] == '#'))
      continue;
    for (size_t p = 0; s[p];) {
      size_t q = p;
      while (ifname_char(s[q]))
        q++;
      if (q > p && q - p < 32) {
        char tok[32];
        memcpy(tok, s + p, q - p);
        tok[q - p] = '\0';
        if (eq_n(m->ctx->target_ifname, tok, q - p)) {
          /* The text configures the target already: renaming another
           * interface to it would make a second config. */
          free(m->fallback);
          m->fallback = NULL;
          return -1;
        }
        if (h2k_is_vmware_ifname(tok)) {
          if (m->fallback && strcmp(m->fallback, tok) != 0) {
            free(m->fallback);
            m->fallback = NULL;
            return -1; /* ambiguous */
          }
          if (!m->fallback && !(m->fallback = strdup(tok)))
            return -2;
        }
      }
      p = q > p ? q : p + 1;
    }
  }
  return 0;
}

/* ---- Editable lines ----------------------------------------------------- */

static int nt_split(h2k_nt *t, const char *text) {
  size_t n = 0;
  for (const char *p = text; *p; p++)
    if (*p == '\n')
      n++;
  size_t len = strlen(text);
  t->final_nl = len > 0 && text[len - 1] == '\n';
  if (len > 0 && !t->final_nl)
    n++;
  t->line = calloc(n ? n : 1, sizeof *t->line);
  t->ins = calloc(n ? n : 1, sizeof *t->ins);
  t->n_ins = calloc(n ? n : 1, sizeof *t->n_ins);
  if (!t->line || !t->ins || !t->n_ins)
    return -1;
  t->n = n;
  const char *p = text;
  for (size_t i = 0; i < n; i++) {
    const char *nl = strchr(p, '\n');
    size_t l = nl ? (size_t)(nl - p) : strlen(p);
    if (!(t->line[i] = strndup(p, l)))
      return -1;
    p += l + (nl ? 1 : 0);
  }
  return 0;
}

static void nt_free(h2k_nt *t) {
  for (size_t i = 0; i < t->n; i++) {
    free(t->line ? t->line[i] : NULL);
    for (size_t j = 0; t->ins && j < t->n_ins[i]; j++)
      free(t->ins[i][j]);
    if (t->ins)
      free(t->ins[i]);
  }
  free(t->line);
  free(t->ins);
  free(t->n_ins);
  memset(t, 0, sizeof *t);
}

static bool valid_ifname(const char *s) {
  size_t l = s ? strlen(s) : 0;
  if (l == 0 || l > 15)
    return false;
  for (size_t i = 0; i < l; i++)
    if (isspace((unsigned char)s[i]) || s[i] == '/' || s[i] == '"' ||
        s[i] == '\'' || s[i] == ',' || s[i] == '#')
      return false;
  return true;
}

int h2k_nt_begin(h2k_nt *t, h2k_net_map *m, const char *text,
                 const h2k_net_ctx *ctx, const char *path, h2k_changes *log,
                 h2k_error *err) {
  memset(t, 0, sizeof *t);
  memset(m, 0, sizeof *m);
  if (!text || !ctx) {
    h2k_err_set(err, H2K_E_USAGE, "network fix: no text or context given");
    return -1;
  }
  if (ctx->level > H2K_NET_CONSERVATIVE && !valid_ifname(ctx->target_ifname)) {
    h2k_err_set(err, H2K_E_USAGE,
                "network fix of %s: invalid target interface name \"%s\"",
                path ? path : "(text)",
                ctx->target_ifname ? ctx->target_ifname : "");
    return -1;
  }
  t->path = path;
  t->log = log;
  m->ctx = ctx;
  if (nt_split(t, text) < 0 ||
      (ctx->n_source_ifnames == 0 && scan_fallback(m, t, path) == -2)) {
    nt_free(t);
    free(m->fallback);
    m->fallback = NULL;
    h2k_err_set(err, H2K_E_FAIL, "network fix of %s: out of memory",
                path ? path : "(text)");
    return -1;
  }
  return 0;
}

char *h2k_nt_finish(h2k_nt *t, h2k_net_map *m, h2k_error *err) {
  free(m->fallback);
  m->fallback = NULL;
  size_t total = 1;
  for (size_t i = 0; i < t->n; i++) {
    total += t->line[i] ? strlen(t->line[i]) + 1 : 0;
    for (size_t j = 0; j < t->n_ins[i]; j++)
      total += strlen(t->ins[i][j]) + 1;
  }
  char *out = t->oom ? NULL : malloc(total);
  if (!out) {
    h2k_err_set(err, H2K_E_FAIL, "network fix of %s: out of memory",
                t->path ? t->path : "(text)");
    nt_free(t);
    return NULL;
  }
  size_t o = 0;
  bool first = true;
#define EMIT(str)                                                              \
  do {                                                                         \
    if (!first)                                                                \
      out[o++] = '\n';                                                         \
    size_t l_ = strlen(str);                                                   \
    memcpy(out + o, str, l_);                                                  \
    o += l_;                                                                   \
    first = false;                                                             \
  } while (0)
  for (size_t i = 0; i < t->n; i++) {
    if (t->line[i])
      EMIT(t->line[i]);
    for (size_t j = 0; j < t->n_ins[i]; j++)
      EMIT(t->ins[i][j]);
  }
#undef EMIT
  if (!first && t->final_nl)
    out[o++] = '\n';
  out[o] = '\0';
  nt_free(t);
  return out;
}

static void nt_log(h2k_nt *t, size_t i, const char *before, const char *after,
                   const char *fmt, va_list ap) {
  if (!t->log)
    return;
  char *reason = NULL;
  if (vasprintf(&reason, fmt, ap) < 0)
    reason = NULL;
  h2k_changes_add(t->log, t->path, (int)i + 1, before, after, "%s",
                  reason ? reason : "");
  free(reason);
}

void h2k_nt_set(h2k_nt *t, size_t i, char *repl, const char *reason_fmt, ...) {
  if (!repl) {
    t->oom = true;
    return;
  }
  va_list ap;
  va_start(ap, reason_fmt);
  nt_log(t, i, t->line[i], repl, reason_fmt, ap);
  va_end(ap);
  free(t->line[i]);
  t->line[i] = repl;
}

void h2k_nt_delete(h2k_nt *t, size_t i, const char *reason_fmt, ...) {
  if (!t->line[i])
    return;
  va_list ap;
  va_start(ap, reason_fmt);
  nt_log(t, i, t->line[i], NULL, reason_fmt, ap);
  va_end(ap);
  free(t->line[i]);
  t->line[i] = NULL;
}

void h2k_nt_comment(h2k_nt *t, size_t i, const char *reason_fmt, ...) {
  char *repl = h2k_strdup_printf("# %s", t->line[i]);
  if (!repl) {
    t->oom = true;
    return;
  }
  va_list ap;
  va_start(ap, reason_fmt);
  nt_log(t, i, t->line[i], repl, reason_fmt, ap);
  va_end(ap);
  free(t->line[i]);
  t->line[i] = repl;
}

void h2k_nt_insert(h2k_nt *t, size_t i, char *added, const char *reason_fmt,
                   ...) {
  char **grown =
      added ? realloc(t->ins[i], (t->n_ins[i] + 1) * sizeof *grown) : NULL;
  if (!grown) {
    free(added);
    t->oom = true;
    return;
  }
  t->ins[i] = grown;
  grown[t->n_ins[i]++] = added;
  va_list ap;
  va_start(ap, reason_fmt);
  nt_log(t, i + 1, NULL, added, reason_fmt, ap);
  va_end(ap);
}

char *h2k_net_splice(const char *s, size_t off, size_t len, const char *with) {
  return h2k_strdup_printf("%.*s%s%s", (int)off, s, with, s + off + len);
}
