/* Pure, streaming initramfs lister: a cpio "newc" state machine fed with
 * chunks of the image (uncompressed segments) or of a decompressor's output
 * (gzip, zstd, xz, lzma segments). Only the current header and name are
 * kept; file data is skipped by counting. */
#include "inspect/initrd_list.h"

#include "core/util.h"

#include <lzma.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define CPIO_HDR_LEN 110
#define OUT_CHUNK ((size_t)64 << 10)
#define TRAILER "TRAILER!!!"

typedef struct lister {
  const uint8_t *data;
  size_t len;
  h2k_buf out;
  h2k_error *err;
  size_t archives;   /* complete archives seen (trailers) */
  uint64_t unpacked; /* bytes decompressed so far, all segments */
  uint8_t *chunk;    /* decompressor output, OUT_CHUNK bytes */
} lister;

enum pstate {
  P_IDLE, /* between archives: zero padding, or the next archive */
  P_HDR,  /* collecting the 110-byte header */
  P_NAME, /* collecting the name */
  P_SKIP, /* skipping name padding, file data and its padding */
};

typedef struct cpio_parser {
  lister *L;
  const char *comp; /* NULL: uncompressed segment; offsets are the image's */
  size_t comp_off;  /* where the compressed stream starts in the image */
  bool single;      /* uncompressed segment: stop after one archive */
  bool done;        /* single: the archive's trailer has been read */
  enum pstate st;
  uint64_t pos;   /* offset of the next byte in this stream */
  uint64_t entry; /* offset of the current entry's header */
  uint8_t hdr[CPIO_HDR_LEN];
  size_t hdr_got;
  char name[H2K_INITRD_NAME_MAX];
  size_t namesize, name_got;
  uint64_t skip;
  bool trailer; /* the current entry is TRAILER!!! */
} cpio_parser;

static int oom(lister *L) {
  h2k_err_set(L->err, H2K_E_FAIL, "out of memory listing the initramfs");
  return -1;
}

/* Set an H2K_E_INPUT error "<what> at offset N[: <tail>]", naming the
 * compressed stream when N is an offset in its decompressed data. */
static int perr_tail(const cpio_parser *p, uint64_t at, const char *what,
                     const char *tail) {
  const char *sep = tail ? ": " : "", *t = tail ? tail : "";
  if (p->comp)
    h2k_err_set(p->L->err, H2K_E_INPUT,
                "initramfs: %s at offset %llu of the data decompressed from "
                "the %s stream at offset %zu%s%s",
                what, (unsigned long long)at, p->comp, p->comp_off, sep, t);
  else
    h2k_err_set(p->L->err, H2K_E_INPUT, "initramfs: %s at offset %llu%s%s",
                what, (unsigned long long)at, sep, t);
  return -1;
}

__attribute__((format(printf, 3, 4))) static int
perr(const cpio_parser *p, uint64_t at, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return perr_tail(p, at, what, NULL);
}

static void parser_init(cpio_parser *p, lister *L, const char *comp,
                        size_t off) {
  memset(p, 0, sizeof *p);
  p->L = L;
  p->comp = comp;
  p->comp_off = off;
  p->single = comp == NULL;
  p->st = P_IDLE;
  p->pos = comp ? 0 : off;
}

/* s[0..n) (stopping at a NUL) for an error message, control bytes as '?'. */
static void printable(char *dst, size_t cap, const char *s, size_t n) {
  size_t i = 0;
  for (; i < n && i + 1 < cap && s[i]; i++) {
    unsigned char c = (unsigned char)s[i];
    dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
  }
  dst[i] = '\0';
}

static const char *const field_names[13] = {
    "ino",       "mode",     "uid",      "gid",      "nlink",
    "mtime",     "filesize", "devmajor", "devminor", "rdevmajor",
    "rdevminor", "namesize", "check"};

/* Field i (0 = ino .. 12 = check) of the header. */
static int hdr_field(cpio_parser *p, int i, uint32_t *v) {
  const uint8_t *s = p->hdr + 6 + 8 * i;
  uint32_t x = 0;
  for (int k = 0; k < 8; k++) {
    int d = h2k_hexval(s[k]);
    if (d < 0) {
      char shown[9];
      printable(shown, sizeof shown, (const char *)s, 8);
      return perr(p, p->entry,
                  "bad cpio header: field %s is not hexadecimal (\"%s\")",
                  field_names[i], shown);
    }
    x = x << 4 | (uint32_t)d;
  }
  *v = x;
  return 0;
}

/* Check the magic as soon as enough of it is there, for a precise error. */
static int check_magic(cpio_parser *p) {
  const uint8_t *h = p->hdr;
  size_t n = p->hdr_got < 6 ? p->hdr_got : 6;
  if (n >= 2 &&
      ((h[0] == 0xc7 && h[1] == 0x71) || (h[0] == 0x71 && h[1] == 0xc7)))
    return perr(p, p->entry,
                "unsupported cpio format (old binary cpio); only newc "
                "(070701) and crc (070702) are supported");
  if (memcmp(h, "070701", n) == 0 || memcmp(h, "070702", n) == 0)
    return 0;
  if (memcmp(h, "070707", n) == 0) {
    if (n < 6)
      return 0;
    return perr(p, p->entry,
                "unsupported cpio format (odc, magic 070707); only newc "
                "(070701) and crc (070702) are supported");
  }
  char hex[6 * 3 + 1] = "";
  for (size_t i = 0; i < n; i++)
    snprintf(hex + 3 * i, sizeof hex - 3 * i, "%s%02x", i ? " " : "", h[i]);
  return perr(p, p->entry,
              "bad cpio magic (bytes %s): not a newc cpio header, nor zero "
              "padding",
              hex);
}

static int parse_header(cpio_parser *p) {
  uint32_t filesize, namesize;
  if (hdr_field(p, 6, &filesize) < 0 || hdr_field(p, 11, &namesize) < 0)
    return -1;
  /* Reject garbage in the other fields as cpio does, they are not used. */
  for (int i = 0; i < 13; i++) {
    uint32_t v;
    if (i != 6 && i != 11 && hdr_field(p, i, &v) < 0)
      return -1;
  }
  if (namesize == 0)
    return perr(p, p->entry, "bad cpio header: empty name (namesize 0)");
  if (namesize > H2K_INITRD_NAME_MAX)
    return perr(p, p->entry, "bad cpio header: name of %u bytes (more than %d)",
                (unsigned)namesize, H2K_INITRD_NAME_MAX);
  p->namesize = namesize;
  p->name_got = 0;
  p->skip = filesize; /* padding added once the name is read */
  return 0;
}

/* "/usr/x", "./usr/x" -> "usr/x"; "", "/", "./" -> "." (cpio -t prints the
 * root entry as "."). */
static const char *normalise(const char *s) {
  for (;;) {
    if (s[0] == '/')
      s++;
    else if (s[0] == '.' && s[1] == '/')
      s += 2;
    else
      break;
  }
  return *s ? s : ".";
}

static int name_done(cpio_parser *p) {
  if (p->name[p->namesize - 1] != '\0')
    return perr(p, p->entry, "cpio entry name is not NUL-terminated");
  /* A name is a C string: like the kernel and cpio, stop at its first NUL. */
  p->trailer = strcmp(p->name, TRAILER) == 0;
  if (!p->trailer) {
    const char *n = normalise(p->name);
    size_t nl = strlen(n);
    if (memchr(n, '\n', nl))
      return perr(p, p->entry,
                  "cpio entry name holds a newline; it cannot be listed one "
                  "per line");
    lister *L = p->L;
    if (nl + 1 > H2K_INITRD_LISTING_MAX - L->out.len)
      return perr(p, p->entry, "the listing grows beyond %zu MiB",
                  H2K_INITRD_LISTING_MAX >> 20);
    size_t before = L->out.len;
    h2k_buf_append(&L->out, n, nl);
    h2k_buf_append(&L->out, "\n", 1);
    if (L->out.len != before + nl + 1)
      return oom(L);
  }
  /* Header + name are padded to 4 bytes, then the data to 4 bytes. Headers
   * start 4-aligned, so both are relative to the stream's offset. */
  uint64_t data = p->skip;
  p->skip = ((4 - (p->pos & 3)) & 3) + data + ((4 - (data & 3)) & 3);
  p->st = P_SKIP;
  return 0;
}

static void entry_done(cpio_parser *p) {
  if (p->trailer) {
    p->L->archives++;
    p->st = P_IDLE;
    if (p->single)
      p->done = true;
  } else {
    p->st = P_HDR;
    p->hdr_got = 0;
    p->entry = p->pos;
  }
}

/* How many zero bytes b[0..n) starts with (a word at a time: a stream of
 * zeros is the cheapest thing to decompress). */
static size_t skip_zeros(const uint8_t *b, size_t n) {
  size_t i = 0;
  for (; n - i >= 8; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, 8);
    if (w)
      break;
  }
  while (i < n && b[i] == 0)
    i++;
  return i;
}

/* Feed b[0..n). Sets *used to the bytes consumed: all of them, except in a
 * single-archive parser once its trailer is read. Returns 0 or -1. */
static int cpio_feed(cpio_parser *p, const uint8_t *b, size_t n, size_t *used) {
  size_t i = 0;
  while (i < n && !p->done) {
    size_t k;
    switch (p->st) {
    case P_IDLE:
      k = skip_zeros(b + i, n - i);
      i += k;
      p->pos += k;
      if (i == n)
        break;
      if (p->pos & 3)
        return perr(p, p->pos,
                    "junk (byte 0x%02x) between cpio archives (not 4-byte "
                    "aligned)",
                    b[i]);
      p->st = P_HDR;
      p->hdr_got = 0;
      p->entry = p->pos;
      break;
    case P_HDR:
      k = CPIO_HDR_LEN - p->hdr_got;
      if (k > n - i)
        k = n - i;
      memcpy(p->hdr + p->hdr_got, b + i, k);
      p->hdr_got += k;
      i += k;
      p->pos += k;
      if (check_magic(p) < 0)
        return -1;
      if (p->hdr_got == CPIO_HDR_LEN) {
        if (parse_header(p) < 0)
          return -1;
        p->st = P_NAME;
      }
      break;
    case P_NAME:
      k = p->namesize - p->name_got;
      if (k > n - i)
        k = n - i;
      memcpy(p->name + p->name_got, b + i, k);
      p->name_got += k;
      i += k;
      p->pos += k;
      if (p->name_got == p->namesize) {
        if (name_done(p) < 0)
          return -1;
        if (p->skip == 0)
          entry_done(p);
      }
      break;
    case P_SKIP:
      k = n - i;
      if (k > p->skip)
        k = (size_t)p->skip;
      i += k;
      p->pos += k;
      p->skip -= k;
      if (p->skip == 0)
        entry_done(p);
      break;
    }
  }
  *used = i;
  return 0;
}

/* The stream has ended: it must not end inside an archive. */
static int cpio_finish(cpio_parser *p) {
  char what[H2K_INITRD_NAME_MAX + 64], tail[128], name[H2K_INITRD_NAME_MAX];
  unsigned long long end = p->pos;
  switch (p->st) {
  case P_IDLE:
    return 0;
  case P_HDR:
    if (p->hdr_got == 0)
      return perr(p, p->pos,
                  "truncated cpio archive: it ends without its " TRAILER
                  " entry");
    snprintf(tail, sizeof tail, "%zu of %d bytes, the data ends at offset %llu",
             p->hdr_got, CPIO_HDR_LEN, end);
    return perr_tail(p, p->entry, "truncated cpio header", tail);
  case P_NAME:
    snprintf(tail, sizeof tail,
             "name has %zu of %zu bytes, the data ends at offset %llu",
             p->name_got, p->namesize, end);
    return perr_tail(p, p->entry, "truncated cpio entry", tail);
  case P_SKIP:
    printable(name, sizeof name, p->name, sizeof p->name);
    snprintf(what, sizeof what, "truncated cpio entry \"%s\"", name);
    snprintf(tail, sizeof tail,
             "%llu bytes missing, the data ends at offset %llu",
             (unsigned long long)p->skip, end);
    return perr_tail(p, p->entry, what, tail);
  }
  return 0;
}

/* Decompressed bytes L->chunk[0..n) for the parser. */
static int emit(cpio_parser *p, size_t n) {
  lister *L = p->L;
  if (n > H2K_INITRD_UNPACKED_MAX - L->unpacked) {
    h2k_err_set(L->err, H2K_E_INPUT,
                "initramfs: the %s stream at offset %zu decompresses beyond "
                "%llu MiB in total; refusing it",
                p->comp, p->comp_off,
                (unsigned long long)(H2K_INITRD_UNPACKED_MAX >> 20));
    return -1;
  }
  L->unpacked += n;
  size_t used;
  return cpio_feed(p, L->chunk, n, &used);
}

static int truncated(lister *L, const char *comp, size_t start) {
  h2k_err_set(L->err, H2K_E_INPUT,
              "initramfs: truncated %s stream at offset %zu: the image ends "
              "at offset %zu before the stream does",
              comp, start, L->len);
  return -1;
}

static int corrupt(lister *L, const char *comp, size_t start, size_t at,
                   const char *why) {
  h2k_err_set(L->err, H2K_E_INPUT,
              "initramfs: corrupt %s stream at offset %zu (decoding fails "
              "near offset %zu): %s",
              comp, start, at, why);
  return -1;
}

static bool has_magic(const lister *L, size_t off, const char *m, size_t n) {
  return off <= L->len && L->len - off >= n && memcmp(L->data + off, m, n) == 0;
}

static bool is_zstd(const lister *L, size_t off) {
  if (off > L->len || L->len - off < 4)
    return false;
  const uint8_t *d = L->data + off;
  return memcmp(d, "\x28\xb5\x2f\xfd", 4) == 0 ||
         ((d[0] & 0xf0) == 0x50 && d[1] == 0x2a && d[2] == 0x4d &&
          d[3] == 0x18); /* skippable frame */
}

/* Each runner decodes the stream at `start` (and the members of the same
 * compression right behind it) and sets *end to the first byte after it. */
static int run_gzip(lister *L, size_t start, size_t *end) {
  z_stream s;
  memset(&s, 0, sizeof s);
  if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK)
    return oom(L);
  cpio_parser p;
  parser_init(&p, L, "gzip", start);
  size_t off = start; /* first byte not yet handed to zlib */
  int rc = -1;
  for (;;) {
    if (s.avail_in == 0 && off < L->len) {
      size_t k = L->len - off;
      if (k > (size_t)1 << 30)
        k = (size_t)1 << 30;
      s.next_in = (Bytef *)(uintptr_t)(L->data + off);
      s.avail_in = (uInt)k;
      off += k;
    }
    uInt in_before = s.avail_in;
    s.next_out = L->chunk;
    s.avail_out = (uInt)OUT_CHUNK;
    int zr = inflate(&s, Z_NO_FLUSH);
    size_t got = OUT_CHUNK - s.avail_out;
    size_t here = off - s.avail_in;
    if (zr == Z_MEM_ERROR) {
      oom(L);
      goto out;
    }
    if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
      corrupt(L, "gzip", start, here, s.msg ? s.msg : "inflate failed");
      goto out;
    }
    if (got && emit(&p, got) < 0)
      goto out;
    if (zr == Z_STREAM_END) {
      if (has_magic(L, here, "\x1f\x8b", 2)) { /* another member */
        if (inflateReset(&s) != Z_OK) {
          oom(L);
          goto out;
        }
        continue;
      }
      *end = here;
      break;
    }
    bool in_done = s.avail_in == 0 && off >= L->len;
    if (s.avail_out != 0 && in_done) {
      truncated(L, "gzip", start);
      goto out;
    }
    if (got == 0 && s.avail_in == in_before && !in_done) {
      corrupt(L, "gzip", start, here, "the decoder makes no progress");
      goto out;
    }
  }
  rc = cpio_finish(&p);
out:
  inflateEnd(&s);
  return rc;
}

static int run_zstd(lister *L, size_t start, size_t *end) {
  ZSTD_DStream *d = ZSTD_createDStream();
  if (!d)
    return oom(L);
  int rc = -1;
  int wlog = 0;
  for (uint64_t m = H2K_INITRD_DECODER_MEM; m > 1; m >>= 1)
    wlog++;
  if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, wlog))) {
    oom(L);
    goto out;
  }
  cpio_parser p;
  parser_init(&p, L, "zstd", start);
  ZSTD_inBuffer in = {L->data + start, L->len - start, 0};
  for (;;) {
    ZSTD_outBuffer o = {L->chunk, OUT_CHUNK, 0};
    size_t in_before = in.pos;
    size_t r = ZSTD_decompressStream(d, &o, &in);
    if (ZSTD_isError(r)) {
      corrupt(L, "zstd", start, start + in.pos, ZSTD_getErrorName(r));
      goto out;
    }
    if (o.pos && emit(&p, o.pos) < 0)
      goto out;
    size_t here = start + in.pos;
    if (r == 0) { /* a frame ends, fully flushed */
      if (is_zstd(L, here))
        continue;
      *end = here;
      break;
    }
    if (o.pos < o.size && in.pos == in.size) {
      truncated(L, "zstd", start);
      goto out;
    }
    if (o.pos == 0 && in.pos == in_before) {
      corrupt(L, "zstd", start, here, "the decoder makes no progress");
      goto out;
    }
  }
  rc = cpio_finish(&p);
out:
  ZSTD_freeDStream(d);
  return rc;
}

static const char *lzma_why(lzma_ret r) {
  switch (r) {
  case LZMA_MEMLIMIT_ERROR:
    return "its dictionary is larger than 256 MiB";
  case LZMA_FORMAT_ERROR:
    return "bad header";
  case LZMA_OPTIONS_ERROR:
    return "unsupported options";
  case LZMA_DATA_ERROR:
    return "corrupt data";
  case LZMA_BUF_ERROR:
    return "unexpected end of data";
  case LZMA_UNSUPPORTED_CHECK:
    return "unsupported integrity check";
  default:
    return "decoder error";
  }
}

/* xz (alone == false) or legacy .lzma (alone == true). */
static int run_xz(lister *L, size_t start, size_t *end, bool alone) {
  const char *comp = alone ? "lzma" : "xz";
  const char *magic = alone ? "\x5d\0\0"
                            : "\xfd"
                              "7zXZ\0";
  size_t mlen = alone ? 3 : 6;
  lzma_stream s = LZMA_STREAM_INIT;
  cpio_parser p;
  parser_init(&p, L, comp, start);
  s.next_in = L->data + start;
  s.avail_in = L->len - start;
  int rc = -1;
  bool init = true;
  for (;;) {
    if (init) {
      lzma_ret ir = alone ? lzma_alone_decoder(&s, H2K_INITRD_DECODER_MEM)
                          : lzma_stream_decoder(&s, H2K_INITRD_DECODER_MEM, 0);
      if (ir != LZMA_OK) {
        oom(L);
        goto out;
      }
      init = false;
    }
    size_t in_before = s.avail_in;
    s.next_out = L->chunk;
    s.avail_out = OUT_CHUNK;
    lzma_ret r = lzma_code(&s, LZMA_RUN);
    size_t got = OUT_CHUNK - s.avail_out;
    size_t here = L->len - s.avail_in;
    if (r == LZMA_MEM_ERROR) {
      oom(L);
      goto out;
    }
    if (r != LZMA_OK && r != LZMA_STREAM_END) {
      corrupt(L, comp, start, here, lzma_why(r));
      goto out;
    }
    if (got && emit(&p, got) < 0)
      goto out;
    if (r == LZMA_STREAM_END) {
      if (has_magic(L, here, magic, mlen)) {
        init = true; /* another stream: the decoder reuses its memory */
        continue;
      }
      *end = here;
      break;
    }
    if (s.avail_out != 0 && s.avail_in == 0) {
      truncated(L, comp, start);
      goto out;
    }
    if (got == 0 && s.avail_in == in_before) {
      corrupt(L, comp, start, here, "the decoder makes no progress");
      goto out;
    }
  }
  rc = cpio_finish(&p);
out:
  lzma_end(&s);
  return rc;
}

/* One segment at `off`, which is not a zero byte. */
static int segment(lister *L, size_t off, size_t *end) {
  const uint8_t *d = L->data + off;
  size_t rest = L->len - off;
  if (d[0] == '0') { /* uncompressed cpio, as the kernel decides */
    cpio_parser p;
    parser_init(&p, L, NULL, off);
    if (off & 3)
      return perr(&p, off, "cpio archive not 4-byte aligned");
    size_t used;
    if (cpio_feed(&p, d, rest, &used) < 0)
      return -1;
    if (!p.done)
      return cpio_finish(&p);
    *end = off + used;
    return 0;
  }
  if (has_magic(L, off, "\x1f\x8b", 2))
    return run_gzip(L, off, end);
  if (is_zstd(L, off))
    return run_zstd(L, off, end);
  if (has_magic(L, off,
                "\xfd"
                "7zXZ\0",
                6))
    return run_xz(L, off, end, false);
  if (has_magic(L, off, "\x5d\0\0", 3))
    return run_xz(L, off, end, true);
  static const struct {
    const char *magic;
    size_t n;
    const char *what;
  } unsupported[] = {
      {"BZh", 3, "compression bzip2"},
      {"\x02\x21\x4c\x18", 4, "compression lz4 (legacy format)"},
      {"\x04\x22\x4d\x18", 4, "compression lz4 (frame format)"},
      {"\x89LZO", 4, "compression lzo"},
      {"\x1f\x9e", 2, "compression gzip (old magic 1f 9e)"},
      {"\xc7\x71", 2, "cpio format (old binary cpio)"},
      {"\x71\xc7", 2, "cpio format (old binary cpio)"},
  };
  for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
    if (has_magic(L, off, unsupported[i].magic, unsupported[i].n)) {
      h2k_err_set(L->err, H2K_E_INPUT,
                  "initramfs: unsupported %s at offset %zu; supported: "
                  "uncompressed newc cpio, gzip, zstd, xz, lzma",
                  unsupported[i].what, off);
      return -1;
    }
  h2k_err_set(L->err, H2K_E_INPUT,
              "initramfs: junk at offset %zu (bytes %02x %02x ...): neither a "
              "cpio archive nor a known compressed stream",
              off, d[0], rest > 1 ? d[1] : 0);
  return -1;
}

int h2k_initrd_list(const uint8_t *data, size_t len, char **listing,
                    h2k_error *err) {
  if (listing)
    *listing = NULL;
  if (!listing || (!data && len)) {
    h2k_err_set(err, H2K_E_FAIL, "h2k_initrd_list: invalid arguments");
    return -1;
  }
  if (len == 0) {
    h2k_err_set(err, H2K_E_INPUT,
                "initramfs: the image is empty (no data at offset 0)");
    return -1;
  }
  lister L = {.data = data, .len = len, .err = err};
  if (!(L.chunk = malloc(OUT_CHUNK)))
    return oom(&L);
  int rc = -1;
  size_t off = 0;
  while (off < len) {
    off += skip_zeros(data + off, len - off); /* padding between segments */
    if (off == len)
      break;
    size_t end = off;
    if (segment(&L, off, &end) < 0)
      goto out;
    if (end <= off) { /* cannot happen: every segment has a magic */
      h2k_err_set(err, H2K_E_FAIL, "initramfs: no progress at offset %zu", off);
      goto out;
    }
    off = end;
  }
  if (L.archives == 0) {
    h2k_err_set(err, H2K_E_INPUT,
                "initramfs: no cpio archive in the image (%zu bytes, all zero "
                "or empty streams; the data ends at offset %zu)",
                len, len);
    goto out;
  }
  if (!(*listing = h2k_buf_steal(&L.out))) {
    oom(&L);
    goto out;
  }
  rc = 0;
out:
  h2k_buf_free(&L.out);
  free(L.chunk);
  return rc;
}
