/* Tar reader: ustar, pax, GNU and v7 headers, from a file or a stream.
 * See tar.h for the formats and the safety rules. */
#include "vm/tar.h"

#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 512
/* Bounds on the data of metadata members, read into memory. */
#define PAX_MAX ((uint64_t)1 << 20)
#define SIZE_LIMIT ((uint64_t)INT64_MAX)

/* Header field offsets and lengths (POSIX ustar). */
enum {
  F_NAME = 0,
  L_NAME = 100,
  F_SIZE = 124,
  L_SIZE = 12,
  F_CHKSUM = 148,
  L_CHKSUM = 8,
  F_TYPE = 156,
  F_MAGIC = 257,
  F_PREFIX = 345,
  L_PREFIX = 155,
};

/* Names seen so far, for duplicate detection (open addressing). */
typedef struct seen_set {
  char **names;
  bool *dirs;
  size_t cap, n;
} seen_set;

struct h2k_tar {
  char *name; /* of the archive, for messages */
  /* file source (read_fn == NULL) */
  int fd;
  uint64_t base, size;
  /* stream source */
  h2k_tar_read_fn read_fn;
  void *ctx;

  uint64_t pos;       /* bytes consumed from the start of the archive */
  uint64_t remaining; /* unread data of the current member */
  uint64_t pad;       /* padding after the current member's data */
  bool ended;
  char *member;       /* current member's name (normalised) */
  char *long_name;    /* pending GNU 'L' or pax path */
  bool have_pax_size; /* pending pax size override */
  uint64_t pax_size;
  seen_set seen;
};

/* ---- source: exact reads and skips over the file or the stream ---- */

/* Read up to len bytes; *got < len only at the end of the archive. */
static int src_read(h2k_tar *t, void *buf, size_t len, size_t *got,
                    h2k_error *err) {
  *got = 0;
  while (*got < len) {
    char *dst = (char *)buf + *got;
    size_t want = len - *got;
    long r;
    if (!t->read_fn) {
      if (t->pos >= t->size)
        break;
      want = (size_t)h2k_min_u64(want, t->size - t->pos);
      r = pread(t->fd, dst, want, (off_t)(t->base + t->pos));
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0) {
        h2k_err_errno(err, H2K_E_INPUT, errno, "cannot read %s at offset %llu",
                      t->name, (unsigned long long)t->pos);
        return -1;
      }
    } else {
      r = t->read_fn(t->ctx, dst, want, err);
      if (r < 0) {
        h2k_err_wrap(err, "cannot read %s at offset %llu", t->name,
                     (unsigned long long)t->pos);
        return -1;
      }
    }
    if (r == 0)
      break;
    *got += (size_t)r;
    t->pos += (uint64_t)r;
  }
  return 0;
}

static int truncated(h2k_tar *t, const char *what, uint64_t need,
                     h2k_error *err) {
  h2k_err_set(err, H2K_E_INPUT,
              "%s is truncated: %s needs %llu more bytes after offset %llu",
              t->name, what, (unsigned long long)need,
              (unsigned long long)t->pos);
  return -1;
}

static int src_read_exact(h2k_tar *t, void *buf, size_t len, const char *what,
                          h2k_error *err) {
  size_t got;
  if (src_read(t, buf, len, &got, err) < 0)
    return -1;
  return got == len ? 0 : truncated(t, what, len - got, err);
}

static int src_skip(h2k_tar *t, uint64_t n, const char *what, h2k_error *err) {
  if (!t->read_fn) {
    if (n > t->size - t->pos)
      return truncated(t, what, n - (t->size - t->pos), err);
    t->pos += n;
    return 0;
  }
  char buf[16384];
  while (n > 0) {
    size_t want = (size_t)h2k_min_u64(n, sizeof buf);
    size_t got;
    if (src_read(t, buf, want, &got, err) < 0)
      return -1;
    if (got < want)
      return truncated(t, what, n - got, err);
    n -= got;
  }
  return 0;
}

/* ---- header fields ---- */

/* Octal (space/NUL padded) or GNU base-256 number. */
static int parse_number(const unsigned char *f, size_t n, uint64_t *out) {
  uint64_t v = 0;
  if (f[0] & 0x80) {
    if (f[0] != 0x80)
      return -1; /* negative or over 2^63: no valid size */
    for (size_t i = 1; i < n; i++) {
      if (v > (UINT64_MAX >> 8))
        return -1;
      v = (v << 8) | f[i];
    }
    *out = v;
    return 0;
  }
  size_t i = 0;
  while (i < n && f[i] == ' ')
    i++;
  for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
    if (v > (UINT64_MAX >> 3))
      return -1;
    v = (v << 3) | (uint64_t)(f[i] - '0');
  }
  if (i < n && f[i] != ' ' && f[i] != '\0')
    return -1;
  *out = v;
  return 0;
}

/* Checksum over the block with the checksum field read as spaces. Old tars
 * summed signed chars, so both sums are accepted. */
static bool checksum_ok(const unsigned char *h) {
  uint64_t want;
  if (parse_number(h + F_CHKSUM, L_CHKSUM, &want) < 0)
    return false;
  long long usum = 0, ssum = 0;
  for (int i = 0; i < BLOCK; i++) {
    bool in_field = i >= F_CHKSUM && i < F_CHKSUM + L_CHKSUM;
    unsigned char c = in_field ? ' ' : h[i];
    usum += c;
    ssum += (signed char)c;
  }
  return (long long)want == usum || (long long)want == ssum;
}

static bool all_zero(const unsigned char *h) {
  for (int i = 0; i < BLOCK; i++)
    if (h[i])
      return false;
  return true;
}

bool h2k_tar_probe(const void *block512) {
  const unsigned char *h = block512;
  return !all_zero(h) && checksum_ok(h);
}

int h2k_tar_normalise_name(char *name, const char **why) {
  if (name[0] == '/') {
    *why = "is an absolute path";
    return -1;
  }
  size_t w = 0;
  const char *p = name;
  while (*p) {
    const char *s = p;
    while (*p && *p != '/')
      p++;
    size_t n = (size_t)(p - s);
    if (*p)
      p++;
    if (n == 0 || (n == 1 && s[0] == '.'))
      continue;
    if (n == 2 && s[0] == '.' && s[1] == '.') {
      *why = "has a \"..\" component";
      return -1;
    }
    if (w)
      name[w++] = '/';
    memmove(name + w, s, n); /* w never passes s: safe in place */
    w += n;
  }
  name[w] = '\0';
  if (!w) {
    *why = "is empty";
    return -1;
  }
  return 0;
}

/* ---- duplicate detection ---- */

static size_t hash_name(const char *s) {
  size_t h = 1469598103934665603ULL & SIZE_MAX;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static int seen_grow(seen_set *s) {
  size_t cap = s->cap ? s->cap * 2 : 64;
  char **names = calloc(cap, sizeof *names);
  bool *dirs = calloc(cap, sizeof *dirs);
  if (!names || !dirs) {
    free(names);
    free(dirs);
    return -1;
  }
  for (size_t i = 0; i < s->cap; i++) {
    if (!s->names[i])
      continue;
    size_t j = hash_name(s->names[i]) & (cap - 1);
    while (names[j])
      j = (j + 1) & (cap - 1);
    names[j] = s->names[i];
    dirs[j] = s->dirs[i];
  }
  free(s->names);
  free(s->dirs);
  s->names = names;
  s->dirs = dirs;
  s->cap = cap;
  return 0;
}

/* Returns 0 when added, 1 when a duplicate, -1 on OOM. A directory entry
 * repeating a directory is harmless and allowed. */
static int seen_add(seen_set *s, const char *name, bool is_dir) {
  if ((s->n + 1) * 2 > s->cap && seen_grow(s) < 0)
    return -1;
  size_t j = hash_name(name) & (s->cap - 1);
  for (; s->names[j]; j = (j + 1) & (s->cap - 1))
    if (!strcmp(s->names[j], name))
      return is_dir && s->dirs[j] ? 0 : 1;
  if (!(s->names[j] = strdup(name)))
    return -1;
  s->dirs[j] = is_dir;
  s->n++;
  return 0;
}

static void seen_free(seen_set *s) {
  for (size_t i = 0; i < s->cap; i++)
    free(s->names[i]);
  free(s->names);
  free(s->dirs);
}

/* ---- open / close ---- */

static h2k_tar *tar_new(const char *name, h2k_error *err) {
  h2k_tar *t = calloc(1, sizeof *t);
  if (t && !(t->name = strdup(name ? name : "tar archive"))) {
    free(t);
    t = NULL;
  }
  if (!t)
    h2k_err_set(err, H2K_E_FAIL, "out of memory opening %s",
                name ? name : "a tar archive");
  return t;
}

h2k_tar *h2k_tar_open_fd(int fd, uint64_t base, uint64_t size, const char *name,
                         h2k_error *err) {
  h2k_tar *t = tar_new(name, err);
  if (t) {
    t->fd = fd;
    t->base = base;
    t->size = size;
  }
  return t;
}

h2k_tar *h2k_tar_open_stream(h2k_tar_read_fn read_fn, void *ctx,
                             const char *name, h2k_error *err) {
  h2k_tar *t = tar_new(name, err);
  if (t) {
    t->fd = -1;
    t->read_fn = read_fn;
    t->ctx = ctx;
  }
  return t;
}

void h2k_tar_close(h2k_tar *t) {
  if (!t)
    return;
  seen_free(&t->seen);
  free(t->member);
  free(t->long_name);
  free(t->name);
  free(t);
}

/* ---- metadata members: pax extended headers and GNU long names ---- */

static int oom(h2k_tar *t, h2k_error *err) {
  h2k_err_set(err, H2K_E_FAIL, "out of memory reading %s", t->name);
  return -1;
}

/* Read a metadata member's data (plus padding) into a NUL-terminated
 * buffer. */
static char *read_meta(h2k_tar *t, uint64_t size, uint64_t max,
                       const char *what, h2k_error *err) {
  if (size > max) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: %s at offset %llu is %llu bytes (limit %llu)", t->name,
                what, (unsigned long long)t->pos, (unsigned long long)size,
                (unsigned long long)max);
    return NULL;
  }
  char *buf = malloc((size_t)size + 1);
  if (!buf) {
    oom(t, err);
    return NULL;
  }
  uint64_t pad = (BLOCK - size % BLOCK) % BLOCK;
  if (src_read_exact(t, buf, (size_t)size, what, err) < 0 ||
      src_skip(t, pad, what, err) < 0) {
    free(buf);
    return NULL;
  }
  buf[size] = '\0';
  return buf;
}

static int set_long_name(h2k_tar *t, const char *s, size_t n, h2k_error *err) {
  if (n > H2K_TAR_NAME_MAX) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: a member name near offset %llu is %zu bytes long "
                "(limit %d)",
                t->name, (unsigned long long)t->pos, n, H2K_TAR_NAME_MAX);
    return -1;
  }
  free(t->long_name);
  if (!(t->long_name = strndup(s, n)))
    return oom(t, err);
  return 0;
}

static int pax_record(h2k_tar *t, const char *key, size_t klen, const char *val,
                      size_t vlen, h2k_error *err) {
  if (klen == 4 && !memcmp(key, "path", 4))
    return set_long_name(t, val, vlen, err);
  if (klen == 4 && !memcmp(key, "size", 4)) {
    uint64_t v = 0;
    size_t i = 0;
    for (; i < vlen && val[i] >= '0' && val[i] <= '9'; i++) {
      if (v > SIZE_LIMIT / 10)
        break;
      v = v * 10 + (uint64_t)(val[i] - '0');
    }
    if (!vlen || i != vlen || v > SIZE_LIMIT) {
      h2k_err_set(err, H2K_E_INPUT,
                  "%s: pax header near offset %llu has "
                  "an invalid size \"%.*s\"",
                  t->name, (unsigned long long)t->pos,
                  (int)h2k_min_u64(vlen, 40), val);
      return -1;
    }
    t->have_pax_size = true;
    t->pax_size = v;
    return 0;
  }
  if (klen > 11 && !memcmp(key, "GNU.sparse.", 11)) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: member near offset %llu is a GNU sparse file "
                "(pax %.*s), which is not supported; recreate the archive "
                "without --sparse",
                t->name, (unsigned long long)t->pos, (int)klen, key);
    return -1;
  }
  return 0; /* mtime, uid, linkpath, ...: not needed */
}

/* Records are "<len> <key>=<value>\n", len counting the whole record. */
static int parse_pax(h2k_tar *t, const char *p, size_t n, h2k_error *err) {
  size_t at = 0;
  while (at < n) {
    size_t len = 0, i = at;
    while (i < n && p[i] >= '0' && p[i] <= '9' && len < n)
      len = len * 10 + (size_t)(p[i++] - '0');
    if (i == at && p[at] == '\0')
      break; /* NUL padding after the last record */
    if (i == at || i >= n || p[i] != ' ' || len < 4 || len > n - at ||
        p[at + len - 1] != '\n') {
      h2k_err_set(err, H2K_E_INPUT,
                  "%s: malformed pax extended header record before offset "
                  "%llu",
                  t->name, (unsigned long long)t->pos);
      return -1;
    }
    const char *key = p + i + 1;
    const char *end = p + at + len - 1;
    const char *eq = memchr(key, '=', (size_t)(end - key));
    if (!eq) {
      h2k_err_set(err, H2K_E_INPUT,
                  "%s: pax record without \"=\" before offset %llu", t->name,
                  (unsigned long long)t->pos);
      return -1;
    }
    if (pax_record(t, key, (size_t)(eq - key), eq + 1, (size_t)(end - eq - 1),
                   err) < 0)
      return -1;
    at += len;
  }
  return 0;
}

static int read_pax(h2k_tar *t, uint64_t size, h2k_error *err) {
  char *buf = read_meta(t, size, PAX_MAX, "pax extended header", err);
  if (!buf)
    return -1;
  int rc = parse_pax(t, buf, (size_t)size, err);
  free(buf);
  return rc;
}

static int read_gnu_long_name(h2k_tar *t, uint64_t size, h2k_error *err) {
  char *buf = read_meta(t, size, H2K_TAR_NAME_MAX + 1, "GNU long name", err);
  if (!buf)
    return -1;
  int rc = set_long_name(t, buf, strlen(buf), err);
  free(buf);
  return rc;
}

/* ---- members ---- */

/* The name as stored: pending long name, else ustar prefix + name. */
static char *header_name(h2k_tar *t, const unsigned char *h) {
  if (t->long_name) {
    char *n = t->long_name;
    t->long_name = NULL;
    return n;
  }
  const char *name = (const char *)h + F_NAME;
  size_t nlen = strnlen(name, L_NAME);
  bool ustar = !memcmp(h + F_MAGIC, "ustar\0", 6); /* not GNU "ustar " */
  const char *prefix = (const char *)h + F_PREFIX;
  size_t plen = ustar ? strnlen(prefix, L_PREFIX) : 0;
  char *out = malloc(plen + 1 + nlen + 1);
  if (!out)
    return NULL;
  if (plen)
    sprintf(out, "%.*s/%.*s", (int)plen, prefix, (int)nlen, name);
  else
    sprintf(out, "%.*s", (int)nlen, name);
  return out;
}

/* Why a member type is refused, or NULL when it is a file or directory. */
static const char *refused_type(char type) {
  switch (type) {
  case '0':
  case '\0':
  case '7': /* contiguous file: a regular file */
  case '5':
  case 'D': /* GNU dump directory */
    return NULL;
  case '1':
    return "is a hard link (links are not allowed)";
  case '2':
    return "is a symbolic link (links are not allowed)";
  case '3':
    return "is a character device";
  case '4':
    return "is a block device";
  case '6':
    return "is a FIFO";
  case 'S':
    return "is a GNU sparse file, which is not supported (recreate the "
           "archive without --sparse)";
  case 'M':
    return "is a multi-volume continuation";
  default:
    return "has an unsupported tar type";
  }
}

static int refuse(h2k_tar *t, const char *name, uint64_t hdr, const char *why,
                  h2k_error *err) {
  h2k_err_set(err, H2K_E_INPUT, "%s: member \"%s\" (header at offset %llu) %s",
              t->name, name, (unsigned long long)hdr, why);
  return -1;
}

/* Validate a regular file or directory header and make it current. */
static int accept_member(h2k_tar *t, const unsigned char *h, uint64_t hdr,
                         uint64_t size, h2k_tar_member *m, h2k_error *err) {
  char type = (char)h[F_TYPE];
  char *name = header_name(t, h);
  if (!name)
    return oom(t, err);
  bool is_dir =
      type == '5' || type == 'D' ||
      ((type == '0' || type == '\0') && *name && name[strlen(name) - 1] == '/');
  char shown[256];
  snprintf(shown, sizeof shown, "%s", name);
  const char *why = refused_type(type);
  if (why) {
    free(name);
    return refuse(t, shown, hdr, why, err);
  }
  if (h2k_tar_normalise_name(name, &why) < 0) {
    free(name);
    if (is_dir && !strcmp(why, "is empty")) /* the "./" entry */
      return src_skip(t, size + (BLOCK - size % BLOCK) % BLOCK, "\"./\"", err);
    return refuse(t, shown, hdr, why, err);
  }
  uint64_t data = t->pos;
  if (!t->read_fn && size > t->size - data) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "has %llu bytes of data at offset %llu but the archive ends at "
             "%llu: truncated archive",
             (unsigned long long)size, (unsigned long long)(t->base + data),
             (unsigned long long)(t->base + t->size));
    free(name);
    return refuse(t, shown, hdr, msg, err);
  }
  int dup = seen_add(&t->seen, name, is_dir);
  if (dup != 0 || t->seen.n > H2K_TAR_MEMBERS_MAX) {
    free(name);
    if (dup < 0)
      return oom(t, err);
    return refuse(
        t, shown, hdr,
        dup ? "appears twice in the archive" : "is past the member limit", err);
  }
  free(t->member);
  t->member = name;
  t->remaining = size;
  t->pad = (BLOCK - size % BLOCK) % BLOCK;
  *m = (h2k_tar_member){.name = name,
                        .is_dir = is_dir,
                        .size = is_dir ? 0 : size,
                        .offset = t->base + data};
  return 1;
}

/* Handle one header block. Returns 1 (member), 0 (metadata consumed, go
 * on), -1. */
static int handle_header(h2k_tar *t, const unsigned char *h, h2k_tar_member *m,
                         h2k_error *err) {
  uint64_t hdr = t->base + t->pos - BLOCK;
  if (!checksum_ok(h)) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: bad tar header checksum at offset %llu (not a tar "
                "archive, or corrupt)",
                t->name, (unsigned long long)hdr);
    return -1;
  }
  uint64_t size;
  if (parse_number(h + F_SIZE, L_SIZE, &size) < 0 || size > SIZE_LIMIT) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: invalid size field in the header at "
                "offset %llu",
                t->name, (unsigned long long)hdr);
    return -1;
  }
  char type = (char)h[F_TYPE];
  switch (type) {
  case 'x':
    return read_pax(t, size, err);
  case 'L':
    return read_gnu_long_name(t, size, err);
  case 'g': /* global pax header: nothing we use */
  case 'K': /* long link name: the link itself is refused next */
  case 'V': /* GNU volume label */
    return src_skip(t, size + (BLOCK - size % BLOCK) % BLOCK, "tar metadata",
                    err);
  }
  if (t->have_pax_size)
    size = t->pax_size;
  t->have_pax_size = false;
  return accept_member(t, h, hdr, size, m, err);
}

int h2k_tar_next(h2k_tar *t, h2k_tar_member *m, h2k_error *err) {
  if (t->ended)
    return 0;
  const char *what = t->member ? t->member : "member";
  if (src_skip(t, t->remaining + t->pad, what, err) < 0)
    return -1;
  t->remaining = t->pad = 0;
  for (;;) {
    unsigned char h[BLOCK];
    size_t got;
    if (src_read(t, h, BLOCK, &got, err) < 0)
      return -1;
    if (got > 0 && got < BLOCK)
      return truncated(t, "a tar header", BLOCK - got, err);
    if (got == 0 || all_zero(h)) {
      t->ended = true; /* end marker, or end of data without one */
      return 0;
    }
    int rc = handle_header(t, h, m, err);
    if (rc != 0)
      return rc;
  }
}

long h2k_tar_read(h2k_tar *t, void *buf, size_t len, h2k_error *err) {
  len = (size_t)h2k_min_u64(len, t->remaining);
  if (len > (size_t)1 << 30)
    len = (size_t)1 << 30;
  size_t got;
  if (len == 0)
    return 0;
  if (src_read(t, buf, len, &got, err) < 0)
    return -1;
  if (got < len) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: member \"%s\" is truncated: the archive ends %llu "
                "bytes before its end",
                t->name, t->member, (unsigned long long)(t->remaining - got));
    return -1;
  }
  t->remaining -= got;
  return (long)got;
}
