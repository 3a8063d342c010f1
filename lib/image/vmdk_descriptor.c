/* VMDK text descriptor parser. See vmdk_descriptor.h. */
#include "image/vmdk_descriptor.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "image/image.h"

#define LINE_MAX_BYTES 4096

struct create_type {
  const char *name;
  const char *unsupported; /* why it cannot be read, or NULL */
};

static const struct create_type create_types[] = {
    {"monolithicSparse", NULL},
    {"monolithicFlat", NULL},
    {"twoGbMaxExtentSparse", NULL},
    {"twoGbMaxExtentFlat", NULL},
    {"streamOptimized", NULL},
    {"vmfs", NULL},
    {"vmfsThin", NULL},
    {"vmfsSparse", NULL},
    {"seSparse", NULL},
    {"vmfsPreallocated", NULL},
    {"vmfsEagerZeroedThick", NULL},
    {"custom", NULL},
    {"vmfsRaw", "raw device disk"},
    {"vmfsRawDeviceMap", "raw device mapping (RDM)"},
    {"vmfsPassthroughRawDeviceMap", "pass-through raw device mapping (RDM)"},
    {"fullDevice", "whole physical device"},
    {"partitionedDevice", "physical device partitions"},
};

struct ext_type_name {
  const char *name;
  int type; /* enum vmdk_ext_type, or -1 when unsupported */
};

static const struct ext_type_name ext_types[] = {
    {"FLAT", VMDK_EXT_FLAT},
    {"SPARSE", VMDK_EXT_SPARSE},
    {"ZERO", VMDK_EXT_ZERO},
    {"VMFS", VMDK_EXT_VMFS},
    {"VMFSSPARSE", VMDK_EXT_VMFSSPARSE},
    {"SESPARSE", VMDK_EXT_SESPARSE},
    {"VMFSRDM", -1},
    {"VMFSRAW", -1},
};

const char *vmdk_ext_type_name(enum vmdk_ext_type t) {
  for (size_t i = 0; i < sizeof ext_types / sizeof ext_types[0]; i++)
    if (ext_types[i].type == (int)t)
      return ext_types[i].name;
  return "?";
}

void vmdk_desc_free(struct vmdk_descriptor *d) {
  if (!d)
    return;
  for (size_t i = 0; i < d->n_extents; i++)
    free(d->extents[i].file);
  free(d->extents);
  free(d->parent_hint);
  free(d->adapter_type);
  memset(d, 0, sizeof *d);
  d->parent_cid = VMDK_CID_NONE;
}

/* ---- small lexing helpers ---- */

struct cursor {
  const char *p;
  const char *end;
};

static void skip_spaces(struct cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
    c->p++;
}

/* The next whitespace-delimited token, as [*tok, *tok + *n). */
static bool next_token(struct cursor *c, const char **tok, size_t *n) {
  skip_spaces(c);
  *tok = c->p;
  while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
    c->p++;
  *n = (size_t)(c->p - *tok);
  return *n > 0;
}

static bool token_is(const char *tok, size_t n, const char *word) {
  return strlen(word) == n && strncasecmp(tok, word, n) == 0;
}

static bool parse_u64_dec(const char *s, size_t n, uint64_t *out) {
  uint64_t v = 0;
  if (n == 0 || n > 20)
    return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    unsigned digit = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - digit) / 10)
      return false;
    v = v * 10 + digit;
  }
  *out = v;
  return true;
}

static bool parse_u32_hex(const char *s, size_t n, uint32_t *out) {
  uint32_t v = 0;
  if (n == 0 || n > 8)
    return false;
  for (size_t i = 0; i < n; i++) {
    int c = tolower((unsigned char)s[i]);
    unsigned digit;
    if (c >= '0' && c <= '9')
      digit = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      digit = (unsigned)(c - 'a' + 10);
    else
      return false;
    v = (v << 4) | digit;
  }
  *out = v;
  return true;
}

static char *dup_range(const char *s, size_t n) {
  char *r = malloc(n + 1);
  if (r) {
    memcpy(r, s, n);
    r[n] = '\0';
  }
  return r;
}

/* ---- line handlers ---- */

struct parse_ctx {
  const char *where;
  unsigned line;
  struct vmdk_descriptor *d;
  size_t cap;
  h2k_error *err;
};

static int line_error(struct parse_ctx *px, const char *what, const char *s,
                      size_t n) {
  h2k_err_set(px->err, H2K_E_INPUT, "VMDK descriptor %s, line %u: %s: '%.*s'",
              px->where, px->line, what, (int)(n > 80 ? 80 : n), s);
  return -1;
}

static int oom(struct parse_ctx *px) {
  h2k_err_set(px->err, H2K_E_FAIL, "VMDK descriptor %s: out of memory",
              px->where);
  return -1;
}

static int set_create_type(struct parse_ctx *px, const char *v, size_t n) {
  for (size_t i = 0; i < sizeof create_types / sizeof create_types[0]; i++) {
    const struct create_type *ct = &create_types[i];
    if (!token_is(v, n, ct->name))
      continue;
    if (ct->unsupported) {
      h2k_err_set(px->err, H2K_E_INPUT,
                  "VMDK descriptor %s, line %u: createType %s (%s) is not "
                  "supported: the data lives on a device, not in files; "
                  "copy the device contents to a flat file first",
                  px->where, px->line, ct->name, ct->unsupported);
      return -1;
    }
    px->d->create_type = ct->name;
    return 0;
  }
  return line_error(px,
                    "unknown createType (expected monolithicSparse, "
                    "monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat, "
                    "streamOptimized, vmfs, vmfsThin, vmfsSparse or seSparse)",
                    v, n);
}

static int replace_string(struct parse_ctx *px, char **slot, const char *v,
                          size_t n) {
  free(*slot);
  *slot = NULL;
  if (n == 0)
    return 0;
  *slot = dup_range(v, n);
  return *slot ? 0 : oom(px);
}

static int handle_key(struct parse_ctx *px, const char *k, size_t kn,
                      const char *v, size_t vn) {
  struct vmdk_descriptor *d = px->d;
  if (token_is(k, kn, "version")) {
    uint64_t ver;
    if (!parse_u64_dec(v, vn, &ver) || ver < 1 || ver > 3)
      return line_error(px, "unsupported descriptor version (1..3)", v, vn);
    d->version = (unsigned)ver;
  } else if (token_is(k, kn, "CID")) {
    if (!parse_u32_hex(v, vn, &d->cid))
      return line_error(px, "CID is not a 32-bit hex number", v, vn);
    d->has_cid = true;
  } else if (token_is(k, kn, "parentCID")) {
    if (!parse_u32_hex(v, vn, &d->parent_cid))
      return line_error(px, "parentCID is not a 32-bit hex number", v, vn);
  } else if (token_is(k, kn, "createType")) {
    return set_create_type(px, v, vn);
  } else if (token_is(k, kn, "parentFileNameHint")) {
    return replace_string(px, &d->parent_hint, v, vn);
  } else if (token_is(k, kn, "ddb.adapterType")) {
    return replace_string(px, &d->adapter_type, v, vn);
  }
  /* Everything else (encoding, isNativeSnapshot, ddb.*, ...) is ignored. */
  return 0;
}

static bool valid_key(const char *k, size_t n) {
  if (n == 0)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)k[i];
    if (!isalnum(c) && c != '.' && c != '_' && c != '-')
      return false;
  }
  return true;
}

static void trim(const char **s, size_t *n) {
  while (*n > 0 && (**s == ' ' || **s == '\t')) {
    (*s)++;
    (*n)--;
  }
  while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
    (*n)--;
}

static int parse_key_line(struct parse_ctx *px, const char *s, size_t n) {
  const char *eq = memchr(s, '=', n);
  const char *k = s, *v = eq + 1;
  size_t kn = (size_t)(eq - s), vn = n - kn - 1;
  trim(&k, &kn);
  trim(&v, &vn);
  if (!valid_key(k, kn))
    return line_error(px, "not a descriptor line (bad key)", s, n);
  if (vn > 0 && v[0] == '"') {
    if (vn < 2 || v[vn - 1] != '"')
      return line_error(px, "unterminated quoted value", s, n);
    v++;
    vn -= 2;
  }
  return handle_key(px, k, kn, v, vn);
}

static int push_extent(struct parse_ctx *px, struct vmdk_desc_extent *e) {
  struct vmdk_descriptor *d = px->d;
  if (d->n_extents >= H2K_MAX_EXTENTS) {
    h2k_err_set(px->err, H2K_E_INPUT,
                "VMDK descriptor %s, line %u: more than %d extents", px->where,
                px->line, H2K_MAX_EXTENTS);
    return -1;
  }
  if (d->n_extents == px->cap) {
    size_t cap = px->cap ? px->cap * 2 : 8;
    struct vmdk_desc_extent *n = realloc(d->extents, cap * sizeof *n);
    if (!n)
      return oom(px);
    d->extents = n;
    px->cap = cap;
  }
  d->extents[d->n_extents++] = *e;
  return 0;
}

/* The file name: "quoted, may hold spaces" or a bare token. */
static int parse_extent_file(struct parse_ctx *px, struct cursor *c,
                             const char *s, size_t n, char **file) {
  const char *f;
  size_t fn;
  skip_spaces(c);
  if (c->p < c->end && *c->p == '"') {
    f = ++c->p;
    const char *q = memchr(f, '"', (size_t)(c->end - f));
    if (!q)
      return line_error(px, "unterminated quoted extent file name", s, n);
    fn = (size_t)(q - f);
    c->p = q + 1;
    if (c->p < c->end && *c->p != ' ' && *c->p != '\t')
      return line_error(px, "text glued to the extent file name", s, n);
  } else if (!next_token(c, &f, &fn)) {
    return 0; /* no file */
  }
  if (fn == 0)
    return line_error(px, "empty extent file name", s, n);
  *file = dup_range(f, fn);
  return *file ? 0 : oom(px);
}

static int parse_extent_type(struct parse_ctx *px, const char *t, size_t tn,
                             enum vmdk_ext_type *type) {
  for (size_t i = 0; i < sizeof ext_types / sizeof ext_types[0]; i++) {
    if (!token_is(t, tn, ext_types[i].name))
      continue;
    if (ext_types[i].type < 0) {
      h2k_err_set(px->err, H2K_E_INPUT,
                  "VMDK descriptor %s, line %u: extent type %s (raw device "
                  "mapping) is not supported; copy the device contents to a "
                  "flat file first",
                  px->where, px->line, ext_types[i].name);
      return -1;
    }
    *type = (enum vmdk_ext_type)ext_types[i].type;
    return 0;
  }
  return line_error(px,
                    "unknown extent type (expected FLAT, SPARSE, ZERO, VMFS, "
                    "VMFSSPARSE or SESPARSE)",
                    t, tn);
}

static int parse_extent_fields(struct parse_ctx *px, struct cursor *c,
                               const char *s, size_t n,
                               struct vmdk_desc_extent *e) {
  const char *t;
  size_t tn;
  if (!next_token(c, &t, &tn) || !parse_u64_dec(t, tn, &e->sectors))
    return line_error(px, "extent size is not a number of sectors", s, n);
  if (e->sectors == 0)
    return line_error(px, "extent of 0 sectors", s, n);
  if (!next_token(c, &t, &tn))
    return line_error(px, "extent line without a type", s, n);
  if (parse_extent_type(px, t, tn, &e->type) < 0)
    return -1;
  if (parse_extent_file(px, c, s, n, &e->file) < 0)
    return -1;
  if (!e->file && e->type != VMDK_EXT_ZERO)
    return line_error(px, "extent line without a file name", s, n);
  if (next_token(c, &t, &tn)) {
    if (!parse_u64_dec(t, tn, &e->offset))
      return line_error(px, "extent offset is not a number of sectors", s, n);
    bool flat = e->type == VMDK_EXT_FLAT || e->type == VMDK_EXT_VMFS;
    if (!flat && e->offset != 0)
      return line_error(px, "only FLAT and VMFS extents take an offset", s, n);
  }
  if (next_token(c, &t, &tn))
    return line_error(px, "unexpected text after the extent", s, n);
  return 0;
}

static int parse_extent_line(struct parse_ctx *px, const char *s, size_t n,
                             enum vmdk_access access) {
  struct cursor c = {s, s + n};
  const char *t;
  size_t tn;
  struct vmdk_desc_extent e = {.access = access, .line = px->line};
  next_token(&c, &t, &tn); /* the access word, already checked */
  if (parse_extent_fields(px, &c, s, n, &e) < 0) {
    free(e.file);
    return -1;
  }
  uint64_t max_sectors = H2K_MAX_VIRTUAL_SIZE / 512;
  if (e.sectors > max_sectors - px->d->total_sectors) {
    free(e.file);
    return line_error(px, "extents add up to more than the 64 TiB limit", s, n);
  }
  px->d->total_sectors += e.sectors;
  if (push_extent(px, &e) < 0) {
    free(e.file);
    return -1;
  }
  return 0;
}

static bool extent_access(const char *s, size_t n, enum vmdk_access *a) {
  struct cursor c = {s, s + n};
  const char *t;
  size_t tn;
  next_token(&c, &t, &tn);
  if (c.p == c.end) /* a lone word is no extent line */
    return false;
  if (token_is(t, tn, "RW"))
    *a = VMDK_ACCESS_RW;
  else if (token_is(t, tn, "RDONLY"))
    *a = VMDK_ACCESS_RDONLY;
  else if (token_is(t, tn, "NOACCESS"))
    *a = VMDK_ACCESS_NOACCESS;
  else
    return false;
  return true;
}

static int parse_line(struct parse_ctx *px, const char *s, size_t n) {
  enum vmdk_access access;
  trim(&s, &n);
  while (n > 0 && s[n - 1] == '\r')
    n--;
  trim(&s, &n);
  if (n == 0 || s[0] == '#')
    return 0;
  if (extent_access(s, n, &access))
    return parse_extent_line(px, s, n, access);
  if (memchr(s, '=', n))
    return parse_key_line(px, s, n);
  return line_error(px, "not a descriptor line", s, n);
}

/* Text only: anything else means this is not a descriptor at all. */
static int check_text(const char *text, size_t len, const char *where,
                      h2k_error *err) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
      h2k_err_set(err, H2K_E_INPUT,
                  "%s is not a VMDK descriptor: binary byte 0x%02x at offset "
                  "%zu",
                  where, c, i);
      return -1;
    }
  }
  return 0;
}

static int check_complete(const struct vmdk_descriptor *d, const char *where,
                          bool embedded, h2k_error *err) {
  if (embedded)
    return 0;
  if (!d->create_type) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s is not a VMDK descriptor: no createType line", where);
    return -1;
  }
  if (d->n_extents == 0) {
    h2k_err_set(err, H2K_E_INPUT,
                "VMDK descriptor %s has no extent lines (RW <sectors> <type> "
                "\"<file>\")",
                where);
    return -1;
  }
  return 0;
}

int vmdk_desc_parse(const char *text, size_t len, const char *where,
                    bool embedded, struct vmdk_descriptor *d, h2k_error *err) {
  memset(d, 0, sizeof *d);
  d->parent_cid = VMDK_CID_NONE;
  const char *nul = memchr(text, '\0', len);
  if (nul)
    len = (size_t)(nul - text);
  if (len > VMDK_DESC_MAX_BYTES) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VMDK descriptor of %zu bytes is larger than the %u limit",
                where, len, VMDK_DESC_MAX_BYTES);
    return -1;
  }
  if (check_text(text, len, where, err) < 0)
    return -1;
  struct parse_ctx px = {.where = where, .d = d, .err = err};
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    px.line++;
    if (le - p > LINE_MAX_BYTES) {
      line_error(&px, "line too long", p, 40);
      goto fail;
    }
    if (parse_line(&px, p, (size_t)(le - p)) < 0)
      goto fail;
    p = nl ? nl + 1 : end;
  }
  if (check_complete(d, where, embedded, err) < 0)
    goto fail;
  return 0;
fail:
  vmdk_desc_free(d);
  return -1;
}
