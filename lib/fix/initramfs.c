/* Initramfs generator configs (initramfs-tools, dracut, mkinitcpio, SUSE
 * sysconfig) and checks of the regenerated image. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "fix/initramfs.h"

#define NOTE(log, ...)                                                         \
  do {                                                                         \
    if (log)                                                                   \
      h2k_changes_add(log, __VA_ARGS__);                                       \
  } while (0)

const char *const h2k_virtio_modules[] = {"virtio_blk", "virtio_scsi",
                                          "virtio_pci", "virtio_net"};
const size_t h2k_n_virtio_modules =
    sizeof h2k_virtio_modules / sizeof *h2k_virtio_modules;

static const char ADDED_COMMENT[] =
    "# Added by hyper2kvm: virtio drivers for the disks and NIC on KVM";

static bool put(h2k_buf *b, const char *s, size_t n) {
  size_t before = b->len;
  h2k_buf_append(b, s, n);
  return b->data && b->len == before + n;
}

static bool puts0(h2k_buf *b, const char *s) {
  return put(b, s, strlen(s));
}

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Module names: '-' and '_' are the same to modprobe; mkinitcpio marks
 * optional entries with a trailing '?'. */
static bool same_module(const char *a, size_t an, const char *b) {
  if (an && a[an - 1] == '?')
    an--;
  size_t bn = strlen(b);
  if (an != bn)
    return false;
  for (size_t i = 0; i < an; i++) {
    char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
    if (x != y)
      return false;
  }
  return true;
}

/* A set of module names found in a file: pointers into its text. */
typedef struct name_list {
  const char **s;
  size_t *n;
  size_t count;
  bool failed;
} name_list;

static void names_add(name_list *l, const char *s, size_t n) {
  const char **s2 = realloc(l->s, (l->count + 1) * sizeof *s2);
  if (s2)
    l->s = s2;
  size_t *n2 = realloc(l->n, (l->count + 1) * sizeof *n2);
  if (n2)
    l->n = n2;
  if (!s2 || !n2) {
    l->failed = true;
    return;
  }
  l->s[l->count] = s;
  l->n[l->count++] = n;
}

static bool names_have(const name_list *l, const char *mod) {
  for (size_t i = 0; i < l->count; i++)
    if (same_module(l->s[i], l->n[i], mod))
      return true;
  return false;
}

static void names_free(name_list *l) {
  free(l->s);
  free(l->n);
}

/* Words of [p, end): blank-separated, '#' comments to the end of the line
 * skipped when `comments`, surrounding quotes dropped. */
static void names_scan(name_list *l, const char *p, const char *end,
                       bool comments) {
  while (p < end) {
    if (is_space(*p)) {
      p++;
      continue;
    }
    if (comments && *p == '#') {
      while (p < end && *p != '\n')
        p++;
      continue;
    }
    const char *w = p;
    while (p < end && !is_space(*p))
      p++;
    const char *we = p;
    if (we > w && (*w == '"' || *w == '\''))
      w++;
    if (we > w && (we[-1] == '"' || we[-1] == '\''))
      we--;
    if (we > w)
      names_add(l, w, (size_t)(we - w));
  }
}

/* The modules of `mods` not in `have`, without repeats, in `mods` order.
 * Returns how many; `missing` has room for n. */
static size_t find_missing(const name_list *have, const char *const *mods,
                           size_t n, const char **missing) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    bool seen = names_have(have, mods[i]);
    for (size_t j = 0; j < count && !seen; j++)
      seen = same_module(missing[j], strlen(missing[j]), mods[i]);
    if (!seen)
      missing[count++] = mods[i];
  }
  return count;
}

static int count_lines(const char *text) {
  int lines = 0;
  for (const char *p = text; *p; p++)
    lines += *p == '\n';
  if (*text && text[strlen(text) - 1] != '\n')
    lines++;
  return lines;
}

static bool valid_args(const char *text, bool text_required,
                       const char *const *mods, size_t n, const char *file,
                       h2k_error *err) {
  if ((!text && text_required) || (!mods && n)) {
    h2k_err_set(err, H2K_E_FAIL, "%s: %s", file,
                mods || !n ? "no text to fix" : "no module list");
    return false;
  }
  for (size_t i = 0; i < n; i++)
    if (!mods[i] || !*mods[i] || strpbrk(mods[i], " \t\n\"'#()")) {
      h2k_err_set(err, H2K_E_FAIL, "%s: bad module name \"%s\"", file,
                  mods[i] ? mods[i] : "(null)");
      return false;
    }
  return true;
}

static char *oom(h2k_buf *b, const char *file, h2k_error *err) {
  if (b)
    h2k_buf_free(b);
  h2k_err_set(err, H2K_E_FAIL, "%s: out of memory", file);
  return NULL;
}

static char *copy_of(const char *text, const char *file, h2k_error *err) {
  char *copy = strdup(text);
  if (!copy)
    h2k_err_set(err, H2K_E_FAIL, "%s: out of memory", file);
  return copy;
}

/* ---- initramfs-tools ---- */

char *h2k_fix_initramfs_tools_modules(const char *text, const char *const *mods,
                                      size_t n, h2k_changes *log,
                                      h2k_error *err) {
  static const char file[] = "/etc/initramfs-tools/modules";
  if (!valid_args(text, true, mods, n, file, err))
    return NULL;
  /* "module [options]" lines: the first word is the module. */
  name_list have = {0};
  for (const char *p = text; *p;) {
    const char *nl = strchrnul(p, '\n');
    const char *w = p;
    while (w < nl && (*w == ' ' || *w == '\t'))
      w++;
    const char *we = w;
    while (we < nl && !is_space(*we))
      we++;
    if (we > w && *w != '#')
      names_add(&have, w, (size_t)(we - w));
    p = *nl ? nl + 1 : nl;
  }
  const char **missing = calloc(n ? n : 1, sizeof *missing);
  size_t n_missing = missing ? find_missing(&have, mods, n, missing) : 0;
  bool failed = have.failed || !missing;
  names_free(&have);
  if (failed || !n_missing) {
    free(missing);
    return failed ? oom(NULL, file, err) : copy_of(text, file, err);
  }
  h2k_buf out = {0};
  int line = count_lines(text);
  bool ok = puts0(&out, text);
  if (*text && text[strlen(text) - 1] != '\n')
    ok = ok && puts0(&out, "\n");
  ok = ok && puts0(&out, ADDED_COMMENT) && puts0(&out, "\n");
  line++;
  for (size_t i = 0; i < n_missing && ok; i++) {
    ok = puts0(&out, missing[i]) && puts0(&out, "\n");
    NOTE(log, file, ++line, NULL, missing[i],
         "%s is not listed: the initramfs would lack it on KVM", missing[i]);
  }
  free(missing);
  return ok ? h2k_buf_steal(&out) : oom(&out, file, err);
}

/* ---- shell-style list variables: NAME=(...), NAME="...", NAME='...' ---- */

typedef struct list_var {
  size_t line_start; /* offset of the line holding NAME= */
  size_t open;       /* first byte of the value */
  size_t close;      /* offset of the closing ')' or quote, or value end */
  size_t line_end;   /* end of the line holding the closer (before '\n') */
  char closer;       /* ')', '"', '\'' or 0 (bare word) */
  int lineno;        /* 1-based line of NAME= */
} list_var;

/* Parse a NAME= or NAME+= assignment starting at `line` (an offset).
 * Returns false for other lines and for a value that is never closed. */
static bool parse_list_var(const char *text, size_t line, const char *name,
                           bool *append, list_var *v) {
  size_t i = line, nl = strlen(name);
  while (text[i] == ' ' || text[i] == '\t')
    i++;
  if (strncmp(text + i, name, nl))
    return false;
  i += nl;
  *append = text[i] == '+';
  if (*append)
    i++;
  if (text[i] != '=')
    return false;
  i++;
  char c = text[i];
  v->closer = c == '(' ? ')' : c == '"' || c == '\'' ? c : 0;
  if (v->closer)
    i++;
  v->open = i;
  if (v->closer) {
    while (text[i] && text[i] != v->closer)
      i++;
    if (!text[i])
      return false;
  } else {
    while (text[i] && !is_space(text[i]) && text[i] != ';' && text[i] != '#')
      i++;
  }
  v->close = i;
  v->line_end = (size_t)(strchrnul(text + i, '\n') - text);
  v->line_start = line;
  return true;
}

/* Find the assignments of `name` from offset `*from` on. Returns true and
 * moves `*from` past the one found. */
static bool next_list_var(const char *text, const char *name, size_t *from,
                          int *lineno, bool *append, list_var *v) {
  size_t p = *from;
  while (text[p]) {
    (*lineno)++;
    if (parse_list_var(text, p, name, append, v)) {
      v->lineno = *lineno;
      for (size_t i = p; i < v->line_end; i++)
        *lineno += text[i] == '\n';
      *from = text[v->line_end] ? v->line_end + 1 : v->line_end;
      return true;
    }
    const char *nl = strchrnul(text + p, '\n');
    p = (size_t)(nl - text) + (*nl ? 1 : 0);
  }
  *from = p;
  return false;
}

/* The last plain (not +=) assignment of `name`: the one the shell uses. */
static bool last_list_var(const char *text, const char *name, list_var *v) {
  size_t from = 0;
  int lineno = 0;
  bool found = false, append;
  list_var cur;
  while (next_list_var(text, name, &from, &lineno, &append, &cur))
    if (!append) {
      *v = cur;
      found = true;
    }
  return found;
}

/* Append `missing` to the value of `v`: before its closer, or as a new
 * assignment line `NAME=<open>mods<close>` when `v` is NULL. */
static char *merge_into_var(const char *text, const list_var *v,
                            const char *name, const char *open,
                            const char *close, const char **missing,
                            size_t n_missing, const char *file,
                            h2k_changes *log, h2k_error *err) {
  h2k_buf out = {0}, mods = {0};
  bool ok = puts0(&mods, "");
  for (size_t i = 0; i < n_missing && ok; i++)
    ok = (!i || puts0(&mods, " ")) && puts0(&mods, missing[i]);
  if (!ok)
    return oom(&mods, file, err);
  if (!v) {
    size_t len = strlen(text);
    ok = puts0(&out, text) &&
         (!len || text[len - 1] == '\n' || puts0(&out, "\n"));
    size_t at = out.len;
    ok = ok && puts0(&out, name) && puts0(&out, "=") && puts0(&out, open) &&
         puts0(&out, mods.data) && puts0(&out, close);
    if (ok)
      NOTE(log, file, count_lines(text) + 1, NULL, out.data + at,
           "no %s setting: added one with the virtio drivers", name);
    ok = ok && puts0(&out, "\n");
  } else {
    /* A separating blank unless the value is empty or ends in one. */
    bool sep = v->close > v->open && !is_space(text[v->close - 1]);
    if (v->closer) {
      ok = put(&out, text, v->close);
    } else { /* a bare word: quote the grown list */
      ok = put(&out, text, v->open) && puts0(&out, open) &&
           put(&out, text + v->open, v->close - v->open);
    }
    ok = ok && (!sep || puts0(&out, " ")) && puts0(&out, mods.data) &&
         (v->closer || puts0(&out, close)) && puts0(&out, text + v->close);
    if (ok) {
      size_t grown = out.len - strlen(text);
      char *before = strndup(text + v->line_start, v->line_end - v->line_start);
      char *after = strndup(out.data + v->line_start,
                            v->line_end + grown - v->line_start);
      if (!before || !after)
        ok = false;
      else
        NOTE(log, file, v->lineno, before, after,
             "added %s so the initramfs carries the virtio drivers", mods.data);
      free(before);
      free(after);
    }
  }
  h2k_buf_free(&mods);
  return ok ? h2k_buf_steal(&out) : oom(&out, file, err);
}

/* Merge `mods` into the last `name` assignment (or add one). */
static char *merge_list_var(const char *text, const char *name,
                            const char *open, const char *close, bool comments,
                            const char *const *mods, size_t n, const char *file,
                            h2k_changes *log, h2k_error *err) {
  if (!valid_args(text, true, mods, n, file, err))
    return NULL;
  list_var v;
  bool found = last_list_var(text, name, &v);
  name_list have = {0};
  if (found)
    names_scan(&have, text + v.open, text + v.close, comments);
  const char **missing = calloc(n ? n : 1, sizeof *missing);
  size_t n_missing = missing ? find_missing(&have, mods, n, missing) : 0;
  bool failed = have.failed || !missing;
  names_free(&have);
  char *out;
  if (failed)
    out = oom(NULL, file, err);
  else if (!n_missing)
    out = copy_of(text, file, err);
  else
    out = merge_into_var(text, found ? &v : NULL, name, open, close, missing,
                         n_missing, file, log, err);
  free(missing);
  return out;
}

/* ---- mkinitcpio, SUSE sysconfig ---- */

char *h2k_fix_mkinitcpio_conf(const char *text, const char *const *mods,
                              size_t n, h2k_changes *log, h2k_error *err) {
  return merge_list_var(text, "MODULES", "(", ")", true, mods, n,
                        "/etc/mkinitcpio.conf", log, err);
}

char *h2k_fix_suse_sysconfig_kernel(const char *text, const char *const *mods,
                                    size_t n, h2k_changes *log,
                                    h2k_error *err) {
  return merge_list_var(text, "INITRD_MODULES", "\"", "\"", false, mods, n,
                        "/etc/sysconfig/kernel", log, err);
}

/* ---- dracut drop-in ---- */

char *h2k_fix_dracut_conf(const char *existing, const char *const *mods,
                          size_t n, h2k_changes *log, h2k_error *err) {
  static const char file[] = H2K_DRACUT_CONF_PATH;
  static const char *const vars[] = {"add_drivers", "force_drivers"};
  if (!valid_args(existing, false, mods, n, file, err))
    return NULL;
  const char *text = existing ? existing : "";
  name_list have = {0};
  for (size_t k = 0; k < 2; k++) {
    size_t from = 0;
    int lineno = 0;
    bool append;
    list_var v;
    while (next_list_var(text, vars[k], &from, &lineno, &append, &v))
      names_scan(&have, text + v.open, text + v.close, false);
  }
  const char **missing = calloc(n ? n : 1, sizeof *missing);
  size_t n_missing = missing ? find_missing(&have, mods, n, missing) : 0;
  bool failed = have.failed || !missing;
  names_free(&have);
  if (failed || !n_missing) {
    free(missing);
    return failed ? oom(NULL, file, err) : copy_of(text, file, err);
  }
  /* dracut concatenates add_drivers+= values: keep blanks at both ends. */
  h2k_buf out = {0}, line = {0};
  bool ok = puts0(&line, "add_drivers+=\" ");
  for (size_t i = 0; i < n_missing && ok; i++)
    ok = puts0(&line, missing[i]) && puts0(&line, " ");
  ok = ok && puts0(&line, "\"");
  free(missing);
  size_t len = strlen(text);
  ok = ok && puts0(&out, text) &&
       (!len || text[len - 1] == '\n' || puts0(&out, "\n"));
  if (ok && !existing)
    ok = puts0(&out, ADDED_COMMENT) && puts0(&out, "\n");
  ok = ok && puts0(&out, line.data) && puts0(&out, "\n");
  if (ok)
    NOTE(log, file, count_lines(out.data), NULL, line.data,
         "dracut builds host-only images: name the virtio drivers so they "
         "are included");
  h2k_buf_free(&line);
  return ok ? h2k_buf_steal(&out) : oom(&out, file, err);
}

/* ---- checks ---- */

/* "virtio_blk.ko", "virtio_blk.ko.xz", ".ko.zst", ".ko.gz" */
static bool is_module_file(const char *base, size_t n, const char *mod) {
  static const char *const ext[] = {".ko", ".ko.xz", ".ko.zst", ".ko.gz"};
  size_t ml = strlen(mod);
  if (n <= ml || strncmp(base, mod, ml))
    return false;
  for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
    if (n - ml == strlen(ext[i]) && !strncmp(base + ml, ext[i], n - ml))
      return true;
  return false;
}

unsigned h2k_initramfs_virtio_modules(const char *listing) {
  static const struct {
    const char *mod;
    unsigned bit;
  } known[] = {{"virtio_blk", H2K_INITRD_VIRTIO_BLK},
               {"virtio_pci", H2K_INITRD_VIRTIO_PCI},
               {"virtio_scsi", H2K_INITRD_VIRTIO_SCSI},
               {"virtio_net", H2K_INITRD_VIRTIO_NET}};
  unsigned found = 0;
  for (const char *p = listing ? listing : ""; *p;) {
    const char *nl = strchrnul(p, '\n');
    const char *end = nl;
    while (end > p && is_space(end[-1]))
      end--;
    /* The path is the last word (lsinitrd prints ls -l columns first). */
    const char *word = end;
    while (word > p && !is_space(word[-1]))
      word--;
    const char *base = word;
    for (const char *q = word; q < end; q++)
      if (*q == '/')
        base = q + 1;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
      if (is_module_file(base, (size_t)(end - base), known[i].mod))
        found |= known[i].bit;
    p = *nl ? nl + 1 : nl;
  }
  return found;
}

bool h2k_initramfs_has_virtio(const char *listing) {
  return h2k_initramfs_virtio_modules(listing) & H2K_INITRD_VIRTIO_BLK;
}

int h2k_kernel_config_has(const char *config_text, const char *symbol) {
  if (!config_text || !symbol || !*symbol)
    return 0;
  if (!strncmp(symbol, "CONFIG_", 7))
    symbol += 7;
  size_t sl = strlen(symbol);
  for (const char *p = config_text; *p;) {
    const char *nl = strchrnul(p, '\n');
    if (!strncmp(p, "CONFIG_", 7) && !strncmp(p + 7, symbol, sl) &&
        p[7 + sl] == '=') {
      char v = p[8 + sl];
      if ((v == 'y' || v == 'm') && (p + 9 + sl == nl || is_space(p[9 + sl])))
        return v;
      return 0;
    }
    p = *nl ? nl + 1 : nl;
  }
  return 0;
}

int h2k_initramfs_check_virtio(const char *listing, const char *config_text,
                               const char *kver, h2k_error *err) {
  unsigned found = h2k_initramfs_virtio_modules(listing);
  bool blk = (found & H2K_INITRD_VIRTIO_BLK) ||
             h2k_kernel_config_has(config_text, "VIRTIO_BLK") == 'y';
  bool pci = !config_text || (found & H2K_INITRD_VIRTIO_PCI) ||
             h2k_kernel_config_has(config_text, "VIRTIO_PCI") == 'y';
  if (blk && pci)
    return 0;
  h2k_err_set(err, H2K_E_STAGE,
              "the initramfs of kernel %s has no %s%s%s and the kernel does "
              "not have it built in: the guest would not find its root disk "
              "on virtio-blk",
              kver ? kver : "?", blk ? "" : "virtio_blk",
              !blk && !pci ? " or " : "", pci ? "" : "virtio_pci");
  return -1;
}
