/* OVA packages: a tar (or an extracted directory) holding one .ovf, its
 * disks and maybe an .mf manifest. The manifest is checked by hashing each
 * listed file in place; uncompressed disks stay in the tar (byte ranges);
 * gzip-compressed and chunked disks are streamed into unpack_dir. */
#include "vm/ova.h"

#include "core/fsutil.h"
#include "core/util.h"
#include "vm/ovf.h"
#include "vm/tar.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_MAX ((uint64_t)1 << 20)
#define HASH_BUF ((size_t)1 << 20)

typedef struct ova_member {
  char *name; /* tar: normalised member name; directory: file name */
  uint64_t offset, size;
} ova_member;

typedef struct ova {
  const char *path; /* as given: the .ova, or the directory */
  const h2k_ova_opts *opts;
  int fd; /* the .ova, or -1 for a directory */
  ova_member *members;
  size_t n_members;
  char *ovf_dir; /* tar: the .ovf's directory in the tar (NULL: top);
                    directory: the directory itself */
  int *open_fds; /* directory mode: files opened by locate() */
  size_t n_fds;
  char **unpacked; /* files written to unpack_dir (removed on failure) */
  size_t n_unpacked;
  h2k_vm *vm;
} ova;

static int oom(const ova *o, h2k_error *err) {
  h2k_err_set(err, H2K_E_FAIL, "out of memory reading %s", o->path);
  return -1;
}

static void ova_free(ova *o, bool failed) {
  for (size_t i = 0; i < o->n_members; i++)
    free(o->members[i].name);
  free(o->members);
  for (size_t i = 0; i < o->n_fds; i++)
    close(o->open_fds[i]);
  free(o->open_fds);
  for (size_t i = 0; i < o->n_unpacked; i++) {
    if (failed)
      unlink(o->unpacked[i]);
    free(o->unpacked[i]);
  }
  free(o->unpacked);
  free(o->ovf_dir);
  if (o->fd >= 0)
    close(o->fd);
}

static int add_member(ova *o, const char *name, uint64_t off, uint64_t size) {
  if (o->n_members % 64 == 0) {
    ova_member *grown =
        realloc(o->members, (o->n_members + 64) * sizeof *o->members);
    if (!grown)
      return -1;
    o->members = grown;
  }
  ova_member *m = &o->members[o->n_members];
  if (!(m->name = strdup(name)))
    return -1;
  m->offset = off;
  m->size = size;
  o->n_members++;
  return 0;
}

/* ---- listing: the tar's members, or the directory's files ---- */

static int refuse_compressed(ova *o, h2k_error *err) {
  unsigned char head[8];
  ssize_t got = pread(o->fd, head, sizeof head, 0);
  enum h2k_compression k =
      got > 0 ? h2k_compression_probe(head, (size_t)got) : H2K_COMP_NONE;
  if (k == H2K_COMP_NONE)
    return 0;
  h2k_err_set(err, H2K_E_INPUT,
              "%s is a %s-compressed file, not an OVA tar; decompress it "
              "first (%s)",
              o->path, k == H2K_COMP_GZIP ? "gzip" : "xz",
              k == H2K_COMP_GZIP ? "gunzip" : "unxz");
  return -1;
}

static int list_tar(ova *o, h2k_error *err) {
  struct stat st;
  o->fd = open(o->path, O_RDONLY | O_CLOEXEC);
  if (o->fd < 0 || fstat(o->fd, &st) < 0) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "cannot open OVA %s", o->path);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    h2k_err_set(err, H2K_E_INPUT, "OVA %s is not a regular file", o->path);
    return -1;
  }
  if (refuse_compressed(o, err) < 0)
    return -1;
  h2k_tar *t = h2k_tar_open_fd(o->fd, 0, (uint64_t)st.st_size, o->path, err);
  if (!t)
    return -1;
  h2k_tar_member m;
  int rc;
  while ((rc = h2k_tar_next(t, &m, err)) > 0)
    if (!m.is_dir && add_member(o, m.name, m.offset, m.size) < 0) {
      rc = oom(o, err);
      break;
    }
  h2k_tar_close(t);
  return rc;
}

static int list_dir(ova *o, h2k_error *err) {
  DIR *d = opendir(o->path);
  if (!d) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "cannot read directory %s", o->path);
    return -1;
  }
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d))) {
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode) &&
        add_member(o, e->d_name, 0, (uint64_t)st.st_size) < 0)
      rc = oom(o, err);
  }
  closedir(d);
  if (rc == 0 && !(o->ovf_dir = strdup(o->path)))
    rc = oom(o, err);
  return rc;
}

/* ---- finding the .ovf and the .mf ---- */

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

/* The single member ending in ext; with several, the one named
 * <stem>.ext when stem is given. *found = NULL when there is none. */
static int pick_one(ova *o, const char *ext, const char *stem,
                    const ova_member **found, h2k_error *err) {
  size_t count = 0;
  const ova_member *last = NULL, *match = NULL;
  h2k_buf names = {0};
  for (size_t i = 0; i < o->n_members; i++) {
    const ova_member *m = &o->members[i];
    if (!h2k_str_ends_with_ci(m->name, ext))
      continue;
    count++;
    last = m;
    h2k_buf_printf(&names, "%s\"%s\"", names.len ? ", " : "", m->name);
    size_t sl = stem ? strlen(stem) : 0;
    if (stem && !strncmp(m->name, stem, sl) && !strcasecmp(m->name + sl, ext))
      match = m;
  }
  *found = count == 1 ? last : match;
  if (count > 1 && !match)
    h2k_err_set(err, H2K_E_INPUT, "%s holds %zu %s files (%s); expected one",
                o->path, count, ext, names.data);
  h2k_buf_free(&names);
  return count > 1 && !match ? -1 : 0;
}

static int read_member(ova *o, const ova_member *m, uint64_t max, char **text,
                       size_t *len, h2k_error *err) {
  if (o->fd < 0) {
    char *p = h2k_path_join(o->path, m->name);
    int rc = p ? h2k_vm_read_descriptor(p, (size_t)max, text, len, err)
               : oom(o, err);
    free(p);
    return rc;
  }
  if (m->size > max) {
    h2k_err_set(err, H2K_E_INPUT, "%s: \"%s\" is %llu bytes (limit %llu)",
                o->path, m->name, (unsigned long long)m->size,
                (unsigned long long)max);
    return -1;
  }
  char *buf = malloc((size_t)m->size + 1);
  if (!buf)
    return oom(o, err);
  h2k_range r = {.fd = o->fd, .offset = m->offset, .length = m->size};
  h2k_range_reader rr = {.ranges = &r, .n = 1, .name = o->path};
  size_t got = 0;
  long n;
  while ((n = h2k_range_read(&rr, buf + got, (size_t)m->size - got, err)) > 0)
    got += (size_t)n;
  if (n < 0) {
    free(buf);
    return -1;
  }
  buf[got] = '\0';
  *text = buf;
  *len = got;
  return 0;
}

static h2k_vm *parse_ovf(ova *o, const ova_member *m, h2k_error *err) {
  char *xml = NULL;
  size_t len = 0;
  if (read_member(o, m, H2K_VM_DESCRIPTOR_MAX, &xml, &len, err) < 0)
    return NULL;
  char *name =
      h2k_strdup_printf("%s%s%s", o->path, o->fd < 0 ? "/" : ":", m->name);
  if (o->fd >= 0 && strchr(m->name, '/')) {
    /* hrefs are relative to the .ovf: resolve them to member names */
    o->ovf_dir = strndup(m->name, (size_t)(base_name(m->name) - m->name - 1));
    if (!o->ovf_dir) {
      free(name);
      name = NULL;
    }
  }
  h2k_vm *vm = NULL;
  if (name)
    vm =
        h2k_ovf_parse_buffer(xml, len, o->ovf_dir, o->opts->vm_name, name, err);
  else
    oom(o, err);
  free(name);
  free(xml);
  return vm;
}

/* ---- locating files named by the OVF or the manifest ---- */

/* `path` is what the OVF reader made of an href (joined to ovf_dir). */
static int locate(ova *o, const char *path, h2k_range *out, h2k_error *err) {
  if (o->fd >= 0) {
    char *name = strdup(path);
    const char *why = NULL;
    if (!name)
      return oom(o, err);
    const ova_member *m = NULL;
    if (h2k_tar_normalise_name(name, &why) == 0)
      for (size_t i = 0; i < o->n_members && !m; i++)
        if (!strcmp(o->members[i].name, name))
          m = &o->members[i];
    free(name);
    if (!m) {
      h2k_err_set(err, H2K_E_INPUT, "%s: \"%s\" is not in the archive", o->path,
                  path);
      return -1;
    }
    *out = (h2k_range){.fd = o->fd, .offset = m->offset, .length = m->size};
    return 0;
  }
  int *grown = realloc(o->open_fds, (o->n_fds + 1) * sizeof *o->open_fds);
  if (!grown)
    return oom(o, err);
  o->open_fds = grown;
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    int e = fd < 0 ? errno : EINVAL;
    if (fd >= 0)
      close(fd);
    h2k_err_errno(err, H2K_E_INPUT, e, "%s: cannot open \"%s\"", o->path, path);
    return -1;
  }
  o->open_fds[o->n_fds++] = fd;
  *out = (h2k_range){.fd = fd, .offset = 0, .length = (uint64_t)st.st_size};
  return 0;
}

/* ---- the manifest ---- */

typedef struct mf_entry {
  const char *algo; /* "SHA1", "SHA256", "SHA512" */
  char *file;
  char hex[129];
} mf_entry;

static const char *algo_for_hex_len(size_t n) {
  return n == 40 ? "SHA1" : n == 64 ? "SHA256" : n == 128 ? "SHA512" : NULL;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = '\0';
  return s;
}

static bool all_hex(const char *s) {
  for (; *s; s++)
    if (!isxdigit((unsigned char)*s))
      return false;
  return true;
}

/* "SHA256(name)= hex", "SHA256 (name) = hex" (ovftool, openssl dgst,
 * sha256sum --tag) or "hex  name" / "hex *name" (sha256sum). */
static int parse_mf_line(char *line, mf_entry *e) {
  char *eq = strrchr(line, '=');
  char *close = eq ? eq : NULL;
  while (close && close > line && isspace((unsigned char)close[-1]))
    close--;
  char *open_p = strchr(line, '(');
  const char *algo, *hex, *file;
  if (eq && close > line && close[-1] == ')' && open_p && open_p < close) {
    close[-1] = '\0';
    *open_p = '\0';
    algo = trim(line);
    file = open_p + 1;
    hex = trim(eq + 1);
  } else {
    char *sp = line + strcspn(line, " \t");
    if (!*sp)
      return -1;
    *sp = '\0';
    hex = line;
    file = trim(sp + 1);
    file += *file == '*';
    algo = algo_for_hex_len(strlen(hex));
  }
  const char *want = algo_for_hex_len(strlen(hex));
  if (!algo || !want || strcasecmp(algo, want) || !all_hex(hex) || !*file)
    return -1;
  e->algo = want;
  snprintf(e->hex, sizeof e->hex, "%s", hex);
  for (char *p = e->hex; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  return (e->file = strdup(file)) ? 0 : -2;
}

static void free_entries(mf_entry *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i].file);
  free(v);
}

static int parse_manifest(ova *o, const char *mf, char *text, mf_entry **out,
                          size_t *n_out, h2k_error *err) {
  mf_entry *v = NULL;
  size_t n = 0;
  int line_no = 0;
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    line_no++;
    char *l = trim(line);
    if (!*l)
      continue;
    mf_entry *grown = realloc(v, (n + 1) * sizeof *v);
    if (!grown) {
      free_entries(v, n);
      return oom(o, err);
    }
    v = grown;
    int rc = parse_mf_line(l, &v[n]);
    if (rc < 0) {
      free_entries(v, n);
      if (rc == -2)
        return oom(o, err);
      h2k_err_set(err, H2K_E_INPUT,
                  "manifest %s:%s line %d is not \"SHA256(file)= digest\", "
                  "\"SHA1(file)= digest\" or \"digest  file\"",
                  o->path, mf, line_no);
      return -1;
    }
    n++;
  }
  *out = v;
  *n_out = n;
  return 0;
}

static int hash_range(ova *o, const h2k_range *r, const char *algo,
                      char hex[129], h2k_error *err) {
  unsigned char *buf = malloc(HASH_BUF);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  const EVP_MD *md = !strcmp(algo, "SHA1")     ? EVP_sha1()
                     : !strcmp(algo, "SHA256") ? EVP_sha256()
                                               : EVP_sha512();
  int rc = -1;
  if (!buf || !ctx || !EVP_DigestInit_ex(ctx, md, NULL)) {
    oom(o, err);
    goto done;
  }
  h2k_range_reader rr = {.ranges = r, .n = 1, .name = o->path};
  long got;
  while ((got = h2k_range_read(&rr, buf, HASH_BUF, err)) > 0)
    EVP_DigestUpdate(ctx, buf, (size_t)got);
  if (got == 0) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx, digest, &len);
    for (unsigned i = 0; i < len; i++)
      sprintf(hex + 2 * i, "%02x", digest[i]);
    hex[2 * len] = '\0';
    rc = 0;
  }
done:
  EVP_MD_CTX_free(ctx);
  free(buf);
  return rc;
}

static int verify_entry(ova *o, const char *mf, const mf_entry *e,
                        h2k_error *err) {
  char *name = strdup(e->file);
  const char *why = NULL;
  if (!name)
    return oom(o, err);
  if (h2k_tar_normalise_name(name, &why) < 0) {
    h2k_err_set(err, H2K_E_INPUT, "manifest %s:%s names \"%s\", which %s",
                o->path, mf, e->file, why);
    free(name);
    return -1;
  }
  char *path = h2k_path_join(o->ovf_dir, name);
  free(name);
  h2k_range r;
  char actual[129];
  int rc = path ? locate(o, path, &r, err) : oom(o, err);
  free(path);
  if (rc < 0) {
    h2k_err_wrap(err, "manifest %s lists \"%s\", which is missing", mf,
                 e->file);
    return -1;
  }
  if (hash_range(o, &r, e->algo, actual, err) < 0)
    return -1;
  if (strcmp(actual, e->hex)) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: %s of \"%s\" does not match manifest %s: expected %s, "
                "actual %s",
                o->path, e->algo, e->file, mf, e->hex, actual);
    h2k_err_hint(err, "the package is corrupt or was altered; re-export "
                      "it, or skip the check with --no-verify-manifest");
    return -1;
  }
  return 0;
}

static int set_manifest(ova *o, const char *state, h2k_error *err) {
  free(o->vm->manifest);
  return (o->vm->manifest = strdup(state)) ? 0 : oom(o, err);
}

static int check_manifest(ova *o, const char *ovf_name, h2k_error *err) {
  char *stem = h2k_strdup_printf("%.*s", (int)(strlen(ovf_name) - 4), ovf_name);
  const ova_member *mf = NULL;
  int rc = stem ? pick_one(o, ".mf", stem, &mf, err) : oom(o, err);
  free(stem);
  if (rc < 0)
    return -1;
  if (!mf) {
    h2k_vm_add_warning(o->vm,
                       "%s has no manifest (.mf): file integrity "
                       "was not verified",
                       o->path);
    return set_manifest(o, "absent", err);
  }
  if (!o->opts->verify_manifest) {
    h2k_vm_add_warning(o->vm,
                       "manifest %s of %s was not verified "
                       "(verification disabled)",
                       mf->name, o->path);
    return set_manifest(o, "skipped", err);
  }
  char *text = NULL;
  size_t len;
  mf_entry *v = NULL;
  size_t n = 0;
  if (read_member(o, mf, MANIFEST_MAX, &text, &len, err) < 0 ||
      parse_manifest(o, mf->name, text, &v, &n, err) < 0) {
    free(text);
    return -1;
  }
  free(text);
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = verify_entry(o, mf->name, &v[i], err);
  free_entries(v, n);
  return rc < 0 ? -1 : set_manifest(o, "verified", err);
}

/* ---- disks ---- */

static int record_unpacked(ova *o, const char *path, h2k_error *err) {
  char **grown = realloc(o->unpacked, (o->n_unpacked + 1) * sizeof *grown);
  if (!grown)
    return oom(o, err);
  o->unpacked = grown;
  if (!(o->unpacked[o->n_unpacked] = strdup(path)))
    return oom(o, err);
  o->n_unpacked++;
  return 0;
}

/* Stream the disk's pieces (gunzipped when gzip) into unpack_dir; the
 * unpacked file becomes the disk. */
static int unpack_disk(ova *o, h2k_vm_disk *d, const h2k_range *r, size_t n,
                       h2k_error *err) {
  char *path = NULL;
  int fd = h2k_unpack_create(o->opts->unpack_dir, d->ovf_href, &path, err);
  if (fd < 0)
    return -1;
  int rc = record_unpacked(o, path, err);
  h2k_range_reader rr = {.ranges = r, .n = n, .name = o->path};
  h2k_unzip *z = NULL;
  if (rc == 0 && d->gzip)
    z = h2k_unzip_new(H2K_COMP_GZIP, h2k_range_read, &rr, d->ovf_href, err);
  if (rc == 0 && (!d->gzip || z))
    rc = h2k_unpack_copy(z ? h2k_unzip_read : h2k_range_read,
                         z ? (void *)z : (void *)&rr, fd, path, NULL, err);
  else
    rc = -1;
  h2k_unzip_free(z);
  if (close(fd) < 0 && rc == 0) {
    h2k_err_errno(err, H2K_E_IO, errno, "cannot write %s", path);
    rc = -1;
  }
  if (rc < 0) {
    h2k_err_wrap(err, "cannot unpack \"%s\" of %s", d->ovf_href, o->path);
    free(path);
    return -1;
  }
  free(d->path);
  d->path = path;
  for (size_t i = 0; i < d->n_chunks; i++)
    free(d->chunks[i]);
  free(d->chunks);
  d->chunks = NULL;
  d->n_chunks = 0;
  d->chunk_size = 0;
  d->gzip = false; /* path now holds the plain image */
  return 0;
}

static int map_disk(ova *o, h2k_vm_disk *d, h2k_error *err) {
  if (!d->path)
    return 0; /* a blank disk: the OVF reader warned */
  size_t n = d->n_chunks ? d->n_chunks : 1;
  h2k_range *r = calloc(n, sizeof *r);
  if (!r)
    return oom(o, err);
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = locate(o, d->n_chunks ? d->chunks[i] : d->path, &r[i], err);
  if (rc < 0) {
    h2k_err_wrap(err, "disk \"%s\" of %s", d->ovf_href, o->path);
  } else if (d->gzip || (d->n_chunks && o->fd >= 0)) {
    rc = unpack_disk(o, d, r, n, err);
  } else if (o->fd >= 0) {
    char *ova_path = strdup(o->path);
    if (!ova_path) {
      rc = oom(o, err);
    } else {
      free(d->path);
      d->path = ova_path;
      d->range_offset = r[0].offset;
      d->range_length = r[0].length;
    }
  } /* else: plain files of a directory, already right */
  free(r);
  return rc;
}

/* An ISO inside the tar has no path of its own: drop it with a warning. */
static void drop_member_cdroms(ova *o) {
  for (size_t i = 0; o->fd >= 0 && i < o->vm->n_cdroms; i++) {
    h2k_vm_cdrom *c = &o->vm->cdroms[i];
    if (!c->path)
      continue;
    h2k_vm_add_warning(o->vm, "CD-ROM image \"%s\" inside %s is not attached",
                       c->path, o->path);
    free(c->path);
    c->path = NULL;
  }
}

/* ---- entry point ---- */

static int open_ova(ova *o, h2k_error *err) {
  if ((h2k_is_dir(o->path) ? list_dir(o, err) : list_tar(o, err)) < 0)
    return -1;
  const ova_member *ovf = NULL;
  if (pick_one(o, ".ovf", NULL, &ovf, err) < 0)
    return -1;
  if (!ovf) {
    h2k_err_set(err, H2K_E_INPUT, "%s holds no .ovf descriptor", o->path);
    return -1;
  }
  if (!(o->vm = parse_ovf(o, ovf, err)))
    return -1;
  if (check_manifest(o, ovf->name, err) < 0)
    return -1;
  for (size_t i = 0; i < o->vm->n_disks; i++)
    if (map_disk(o, &o->vm->disks[i], err) < 0)
      return -1;
  drop_member_cdroms(o);
  return 0;
}

h2k_vm *h2k_ova_open(const char *path, const h2k_ova_opts *opts,
                     h2k_error *err) {
  h2k_ova_opts defaults = {.verify_manifest = true};
  ova o = {.path = path, .opts = opts ? opts : &defaults, .fd = -1};
  int rc = open_ova(&o, err);
  ova_free(&o, rc < 0);
  if (rc < 0) {
    h2k_vm_free(o.vm);
    return NULL;
  }
  return o.vm;
}
