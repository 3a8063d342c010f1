/* Disk tarballs (vhd, raw and ami commands): a plain disk, or a disk inside
 * a tar, tar.gz or tar.xz, with one nested tar level. Uncompressed tars are
 * read in place; compressed ones are decompressed as a stream and only the
 * chosen member is written, into unpack_dir.
 *
 * Also the streaming helpers of tar.h used by the OVA reader: byte-range
 * readers, gzip / xz decompression, and safe creation of unpacked files. */
#include "vm/ova.h"
#include "vm/tar.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IO_BUF ((size_t)1 << 20)
/* xz -9 needs 65 MiB to decompress; anything far above that is hostile. */
#define XZ_MEMLIMIT ((uint64_t)256 << 20)

/* ---- byte ranges ---- */

long h2k_range_read(void *ctx, void *buf, size_t len, h2k_error *err) {
  h2k_range_reader *r = ctx;
  while (r->i < r->n && r->done == r->ranges[r->i].length) {
    r->i++;
    r->done = 0;
  }
  if (r->i == r->n || len == 0)
    return 0;
  const h2k_range *g = &r->ranges[r->i];
  size_t want = (size_t)h2k_min_u64(len, g->length - r->done);
  want = (size_t)h2k_min_u64(want, (uint64_t)1 << 30);
  ssize_t n;
  do
    n = pread(g->fd, buf, want, (off_t)(g->offset + r->done));
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "cannot read %s at offset %llu",
                  r->name, (unsigned long long)(g->offset + r->done));
    return -1;
  }
  if (n == 0) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s ends at offset %llu, before the %llu bytes expected",
                r->name, (unsigned long long)(g->offset + r->done),
                (unsigned long long)(g->offset + g->length));
    return -1;
  }
  r->done += (uint64_t)n;
  return (long)n;
}

/* ---- decompression ---- */

enum h2k_compression h2k_compression_probe(const void *head, size_t len) {
  const unsigned char *h = head;
  if (len >= 2 && h[0] == 0x1f && h[1] == 0x8b)
    return H2K_COMP_GZIP;
  if (len >= 6 && !memcmp(h,
                          "\xfd"
                          "7zXZ\0",
                          6))
    return H2K_COMP_XZ;
  return H2K_COMP_NONE;
}

struct h2k_unzip {
  enum h2k_compression kind;
  h2k_tar_read_fn src;
  void *src_ctx;
  char *name;
  unsigned char *in;
  z_stream z;
  lzma_stream x;
  bool src_eof;
  bool between; /* gzip: a member ended, another may follow */
  bool done;
};

h2k_unzip *h2k_unzip_new(enum h2k_compression kind, h2k_tar_read_fn src,
                         void *src_ctx, const char *name, h2k_error *err) {
  h2k_unzip *u = calloc(1, sizeof *u);
  if (!u || !(u->name = strdup(name)) || !(u->in = malloc(IO_BUF))) {
    h2k_unzip_free(u);
    h2k_err_set(err, H2K_E_FAIL, "out of memory decompressing %s", name);
    return NULL;
  }
  u->kind = kind;
  u->src = src;
  u->src_ctx = src_ctx;
  int ok;
  if (kind == H2K_COMP_GZIP) {
    ok = inflateInit2(&u->z, 16 + MAX_WBITS) == Z_OK;
  } else {
    u->x = (lzma_stream)LZMA_STREAM_INIT;
    ok = lzma_stream_decoder(&u->x, XZ_MEMLIMIT, LZMA_CONCATENATED) == LZMA_OK;
  }
  if (!ok) {
    u->kind = H2K_COMP_NONE; /* nothing to end */
    h2k_unzip_free(u);
    h2k_err_set(err, H2K_E_FAIL, "cannot start the decompressor for %s", name);
    return NULL;
  }
  return u;
}

void h2k_unzip_free(h2k_unzip *u) {
  if (!u)
    return;
  if (u->kind == H2K_COMP_GZIP)
    inflateEnd(&u->z);
  else if (u->kind == H2K_COMP_XZ)
    lzma_end(&u->x);
  free(u->in);
  free(u->name);
  free(u);
}

/* Refill the input buffer when empty. Returns 0 or -1. */
static int unzip_refill(h2k_unzip *u, const unsigned char **next, size_t *avail,
                        h2k_error *err) {
  if (*avail > 0 || u->src_eof)
    return 0;
  long r = u->src(u->src_ctx, u->in, IO_BUF, err);
  if (r < 0)
    return -1;
  if (r == 0)
    u->src_eof = true;
  *next = u->in;
  *avail = (size_t)r;
  return 0;
}

static int unzip_fail(h2k_unzip *u, const char *what, h2k_error *err) {
  h2k_err_set(err, H2K_E_INPUT, "%s: %s data is %s", u->name,
              u->kind == H2K_COMP_GZIP ? "gzip" : "xz", what);
  return -1;
}

static long gunzip_read(h2k_unzip *u, void *buf, size_t len, h2k_error *err) {
  for (;;) {
    const unsigned char *next = u->z.next_in;
    size_t avail = u->z.avail_in;
    if (unzip_refill(u, &next, &avail, err) < 0)
      return -1;
    u->z.next_in = (unsigned char *)next;
    u->z.avail_in = (uInt)avail;
    if (u->between) {
      /* Another gzip member follows, or the end (trailing bytes that are
       * not a gzip header are ignored, as gzip(1) does). */
      if (!avail || next[0] != 0x1f) {
        u->done = true;
        return 0;
      }
      inflateReset(&u->z);
      u->between = false;
    }
    u->z.next_out = buf;
    u->z.avail_out = (uInt)len;
    int rc = inflate(&u->z, Z_NO_FLUSH);
    size_t produced = len - u->z.avail_out;
    if (rc == Z_STREAM_END)
      u->between = true;
    else if (rc != Z_OK && rc != Z_BUF_ERROR)
      return unzip_fail(u, "corrupt", err);
    else if (!produced && !u->z.avail_in && u->src_eof)
      return unzip_fail(u, "truncated", err);
    if (produced)
      return (long)produced;
  }
}

static long unxz_read(h2k_unzip *u, void *buf, size_t len, h2k_error *err) {
  for (;;) {
    const unsigned char *next = u->x.next_in;
    size_t avail = u->x.avail_in;
    if (unzip_refill(u, &next, &avail, err) < 0)
      return -1;
    u->x.next_in = next;
    u->x.avail_in = avail;
    u->x.next_out = buf;
    u->x.avail_out = len;
    lzma_ret rc = lzma_code(&u->x, u->src_eof ? LZMA_FINISH : LZMA_RUN);
    size_t produced = len - u->x.avail_out;
    if (rc == LZMA_STREAM_END)
      u->done = true;
    else if (rc == LZMA_MEMLIMIT_ERROR)
      return unzip_fail(u, "beyond the decoder memory limit", err);
    else if (rc == LZMA_BUF_ERROR)
      return unzip_fail(u, "truncated", err);
    else if (rc != LZMA_OK)
      return unzip_fail(u, "corrupt", err);
    if (produced || u->done)
      return (long)produced;
  }
}

long h2k_unzip_read(void *ctx, void *buf, size_t len, h2k_error *err) {
  h2k_unzip *u = ctx;
  if (u->done || len == 0)
    return 0;
  len = (size_t)h2k_min_u64(len, (uint64_t)1 << 30);
  return u->kind == H2K_COMP_GZIP ? gunzip_read(u, buf, len, err)
                                  : unxz_read(u, buf, len, err);
}

/* ---- unpacked files ---- */

/* The member's base name reduced to [A-Za-z0-9._+-], not starting with a
 * dot, at most cap-1 bytes. */
static void safe_base_name(const char *member, char *out, size_t cap) {
  const char *slash = strrchr(member, '/');
  const char *s = slash ? slash + 1 : member;
  size_t w = 0;
  for (; *s && w + 1 < cap; s++) {
    char c = *s;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
              c == '+';
    out[w] = ok && !(w == 0 && c == '.') ? c : '_';
    w++;
  }
  out[w] = '\0';
  if (!w)
    snprintf(out, cap, "disk");
}

int h2k_unpack_create(const char *unpack_dir, const char *member,
                      char **path_out, h2k_error *err) {
  if (!unpack_dir) {
    h2k_err_set(err, H2K_E_USAGE,
                "\"%s\" is compressed and must be unpacked, but no unpack "
                "directory was given",
                member);
    return -1;
  }
  char safe[200];
  safe_base_name(member, safe, sizeof safe);
  for (int i = 0; i < 1000; i++) {
    char *path = i ? h2k_strdup_printf("%s/%d-%s", unpack_dir, i, safe)
                   : h2k_strdup_printf("%s/%s", unpack_dir, safe);
    if (!path) {
      h2k_err_set(err, H2K_E_FAIL, "out of memory unpacking %s", member);
      return -1;
    }
    int fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
      *path_out = path;
      return fd;
    }
    int e = errno;
    if (e != EEXIST) {
      h2k_err_errno(err, H2K_E_ENV, e, "cannot create %s to unpack \"%s\"",
                    path, member);
      free(path);
      return -1;
    }
    free(path);
  }
  h2k_err_set(err, H2K_E_ENV, "cannot find a free name in %s for \"%s\"",
              unpack_dir, member);
  return -1;
}

static int write_all(int fd, const char *buf, size_t len, const char *path,
                     h2k_error *err) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      int e = errno;
      h2k_err_errno(err, e == ENOSPC || e == EDQUOT ? H2K_E_SPACE : H2K_E_IO, e,
                    "cannot write %s", path);
      return -1;
    }
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

int h2k_unpack_copy(h2k_tar_read_fn src, void *ctx, int fd, const char *path,
                    uint64_t *written, h2k_error *err) {
  char *buf = malloc(IO_BUF);
  if (!buf) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory writing %s", path);
    return -1;
  }
  uint64_t total = 0;
  int rc = 0;
  for (;;) {
    long r = src(ctx, buf, IO_BUF, err);
    if (r < 0 || (r > 0 && write_all(fd, buf, (size_t)r, path, err) < 0)) {
      rc = -1;
      break;
    }
    if (r == 0)
      break;
    total += (uint64_t)r;
  }
  free(buf);
  if (written)
    *written = total;
  return rc;
}

/* ---- choosing the disk member ---- */

enum member_kind { M_OTHER = 0, M_DISK, M_TAR };

static const struct {
  const char *ext;
  const char *format; /* hint; NULL: probe (".img" is often qcow2) */
} disk_exts[] = {
    {".vhd", "vpc"},   {".vhdx", "vhdx"},   {".raw", "raw"}, {".img", NULL},
    {".vmdk", "vmdk"}, {".qcow2", "qcow2"}, {".ami", NULL},
};

static enum member_kind member_kind(const char *name, const char **format) {
  for (size_t i = 0; i < sizeof disk_exts / sizeof *disk_exts; i++)
    if (h2k_str_ends_with_ci(name, disk_exts[i].ext)) {
      *format = disk_exts[i].format;
      return M_DISK;
    }
  if (h2k_str_ends_with_ci(name, ".tar"))
    return M_TAR;
  return M_OTHER; /* .json .mf .ovf .xml .sha256 .txt ...: metadata */
}

/* The largest disk and the largest nested tar seen while walking. */
typedef struct choice {
  char *disk, *tar;             /* member names */
  const char *format;           /* of the disk */
  uint64_t disk_off, disk_size; /* in place: offset; always: size */
  uint64_t tar_off, tar_size;
  size_t n_disks, n_members;
  h2k_buf seen; /* some member names, for the "no disk" message */
} choice;

static void choice_free(choice *c) {
  free(c->disk);
  free(c->tar);
  h2k_buf_free(&c->seen);
}

/* Record m; returns which slot it took (M_DISK / M_TAR) or M_OTHER. */
static enum member_kind choice_offer(choice *c, const h2k_tar_member *m) {
  if (m->is_dir)
    return M_OTHER;
  if (c->n_members++ < 8)
    h2k_buf_printf(&c->seen, "%s\"%s\"", c->seen.len ? ", " : "", m->name);
  const char *format = NULL;
  enum member_kind k = member_kind(m->name, &format);
  char **slot = k == M_DISK ? &c->disk : &c->tar;
  uint64_t *size = k == M_DISK ? &c->disk_size : &c->tar_size;
  if (k == M_DISK)
    c->n_disks++;
  if (k == M_OTHER || (*slot && m->size <= *size))
    return M_OTHER;
  char *copy = strdup(m->name);
  if (!copy)
    return M_OTHER; /* out of memory: the member is passed over */
  free(*slot);
  *slot = copy;
  *size = m->size;
  if (k == M_DISK) {
    c->format = format;
    c->disk_off = m->offset;
  } else {
    c->tar_off = m->offset;
  }
  return k;
}

static int no_disk(const char *name, const choice *c, h2k_error *err) {
  h2k_err_set(err, H2K_E_INPUT,
              "%s holds no disk image (.vhd .vhdx .raw .img .vmdk .qcow2 "
              ".ami); members: %s%s",
              name, c->seen.len ? c->seen.data : "none",
              c->n_members > 8 ? ", ..." : "");
  return -1;
}

/* ---- the model ---- */

static h2k_vm *one_disk_vm(const char *disk_path, uint64_t off, uint64_t len,
                           const char *format, const char *member,
                           const char *source, h2k_error *err) {
  h2k_vm *vm = h2k_vm_new();
  h2k_vm_disk *d = vm ? h2k_vm_add_disk(vm) : NULL;
  if (d) {
    const char *slash = strrchr(member, '/');
    vm->name = h2k_path_stem(slash ? slash + 1 : member);
    vm->source_path = strdup(source);
    d->path = strdup(disk_path);
    d->format = format ? strdup(format) : NULL;
    d->range_offset = off;
    d->range_length = len;
    d->boot_order = 1;
  }
  if (!d || !vm->name || !vm->source_path || !d->path ||
      (format && !d->format)) {
    h2k_vm_free(vm);
    h2k_err_set(err, H2K_E_FAIL, "out of memory reading %s", source);
    return NULL;
  }
  return vm;
}

static void warn_several(h2k_vm *vm, const char *name, const choice *c) {
  if (vm && c->n_disks > 1)
    h2k_vm_add_warning(vm,
                       "%s holds %zu disk images; using the largest, \"%s\" "
                       "(%llu bytes)",
                       name, c->n_disks, c->disk,
                       (unsigned long long)c->disk_size);
}

/* ---- uncompressed tar, read in place ---- */

static h2k_vm *tar_in_place(int fd, const char *path, uint64_t base,
                            uint64_t size, const char *name, int depth,
                            h2k_error *err) {
  h2k_tar *t = h2k_tar_open_fd(fd, base, size, name, err);
  if (!t)
    return NULL;
  choice c = {0};
  h2k_tar_member m;
  int rc;
  while ((rc = h2k_tar_next(t, &m, err)) > 0)
    choice_offer(&c, &m);
  h2k_tar_close(t);
  h2k_vm *vm = NULL;
  if (rc < 0) {
    /* err set */
  } else if (c.disk) {
    vm =
        one_disk_vm(path, c.disk_off, c.disk_size, c.format, c.disk, name, err);
    warn_several(vm, name, &c);
  } else if (c.tar && depth == 0) {
    char *inner = h2k_strdup_printf("%s:%s", name, c.tar);
    if (inner)
      vm = tar_in_place(fd, path, c.tar_off, c.tar_size, inner, 1, err);
    else
      h2k_err_set(err, H2K_E_FAIL, "out of memory reading %s", name);
    free(inner);
  } else {
    no_disk(name, &c, err);
    if (c.tar)
      h2k_err_hint(err, "only one level of nested tar is read");
  }
  choice_free(&c);
  return vm;
}

/* ---- compressed tar, streamed ---- */

typedef struct unpacked {
  char *disk, *tar; /* paths of the files written */
} unpacked;

static long tar_reader(void *t, void *buf, size_t len, h2k_error *err) {
  return h2k_tar_read(t, buf, len, err);
}

/* Write the current member to a new file in unpack_dir, replacing *slot. */
static int unpack_member(h2k_tar *t, const char *member, const char *dir,
                         char **slot, h2k_error *err) {
  char *path = NULL;
  int fd = h2k_unpack_create(dir, member, &path, err);
  if (fd < 0)
    return -1;
  int rc = h2k_unpack_copy(tar_reader, t, fd, path, NULL, err);
  if (close(fd) < 0 && rc == 0) {
    h2k_err_errno(err, H2K_E_IO, errno, "cannot write %s", path);
    rc = -1;
  }
  if (rc < 0) {
    unlink(path);
    free(path);
    return -1;
  }
  if (*slot) {
    unlink(*slot);
    free(*slot);
  }
  *slot = path;
  return 0;
}

static int walk_stream(h2k_tar *t, const char *dir, choice *c, unpacked *u,
                       h2k_error *err) {
  h2k_tar_member m;
  int rc;
  while ((rc = h2k_tar_next(t, &m, err)) > 0) {
    bool had_disk = c->disk != NULL;
    enum member_kind k = choice_offer(c, &m);
    /* A nested tar only matters while no disk has been seen. */
    if (k == M_DISK || (k == M_TAR && !had_disk)) {
      char **slot = k == M_DISK ? &u->disk : &u->tar;
      if (unpack_member(t, m.name, dir, slot, err) < 0)
        return -1;
    }
  }
  return rc;
}

static void unpacked_drop(char **path) {
  if (*path) {
    unlink(*path);
    free(*path);
    *path = NULL;
  }
}

/* The nested tar, unpacked: read it in place. */
static h2k_vm *open_unpacked_tar(const char *tar_path, const char *name,
                                 h2k_error *err) {
  int fd = open(tar_path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    h2k_err_errno(err, H2K_E_IO, errno, "cannot open %s", tar_path);
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  h2k_vm *vm =
      tar_in_place(fd, tar_path, 0, (uint64_t)st.st_size, name, 1, err);
  close(fd);
  return vm;
}

static h2k_vm *compressed_tar(int fd, uint64_t size, const char *path,
                              enum h2k_compression kind, const char *unpack_dir,
                              h2k_error *err) {
  h2k_range whole = {.fd = fd, .offset = 0, .length = size};
  h2k_range_reader rr = {.ranges = &whole, .n = 1, .name = path};
  h2k_unzip *z = h2k_unzip_new(kind, h2k_range_read, &rr, path, err);
  h2k_tar *t = z ? h2k_tar_open_stream(h2k_unzip_read, z, path, err) : NULL;
  choice c = {0};
  unpacked u = {0};
  h2k_vm *vm = NULL;
  int rc = t ? walk_stream(t, unpack_dir, &c, &u, err) : -1;
  h2k_tar_close(t);
  h2k_unzip_free(z);
  if (rc < 0) {
    /* err set */
  } else if (u.disk) {
    unpacked_drop(&u.tar);
    vm = one_disk_vm(u.disk, 0, 0, c.format, c.disk, path, err);
    warn_several(vm, path, &c);
  } else if (u.tar) {
    char *inner = h2k_strdup_printf("%s:%s", path, c.tar);
    vm = inner ? open_unpacked_tar(u.tar, inner, err) : NULL;
    if (!inner)
      h2k_err_set(err, H2K_E_FAIL, "out of memory reading %s", path);
    free(inner);
    if (!vm)
      unpacked_drop(&u.tar);
  } else {
    no_disk(path, &c, err);
  }
  if (!vm) {
    unpacked_drop(&u.disk);
    unpacked_drop(&u.tar);
  }
  free(u.disk);
  free(u.tar);
  choice_free(&c);
  return vm;
}

/* ---- entry point ---- */

h2k_vm *h2k_tarball_open(const char *path, const char *unpack_dir,
                         h2k_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "cannot open %s", path);
    return NULL;
  }
  struct stat st;
  unsigned char head[512];
  ssize_t got = -1;
  if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
    got = pread(fd, head, sizeof head, 0);
  if (got < 0) {
    h2k_err_errno(err, H2K_E_INPUT, S_ISDIR(st.st_mode) ? EISDIR : errno,
                  "cannot read %s", path);
    close(fd);
    return NULL;
  }
  enum h2k_compression kind = h2k_compression_probe(head, (size_t)got);
  h2k_vm *vm;
  if (kind != H2K_COMP_NONE) {
    vm = compressed_tar(fd, (uint64_t)st.st_size, path, kind, unpack_dir, err);
  } else if (got == (ssize_t)sizeof head && h2k_tar_probe(head)) {
    vm = tar_in_place(fd, path, 0, (uint64_t)st.st_size, path, 0, err);
  } else {
    const char *format = NULL;
    member_kind(path, &format);
    vm = one_disk_vm(path, 0, 0, format, path, path, err);
  }
  close(fd);
  return vm;
}
