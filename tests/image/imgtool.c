/* imgtool: a small front end over the image engine, for tests.
 *
 *   imgtool convert [-O qcow2|raw] [-c] [--compress-type zlib|zstd]
 *                   [--compress-level N] [-t THREADS] [-s CLUSTER_SIZE]
 *                   [-f FORMAT] [--sha256] [-p|--progress] [--cancel]
 *                   IN OUT
 *   imgtool info [--json] [-f FORMAT] IMG
 *   imgtool read [--hex] [-f FORMAT] IMG OFFSET LENGTH
 *   imgtool map [-f FORMAT] IMG
 *
 * Exits 0 on success; otherwise prints the error text on stderr and exits
 * with the error class. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/convert.h"
#include "image/imginfo.h"

enum {
  OPT_COMPRESS_TYPE = 256,
  OPT_COMPRESS_LEVEL,
  OPT_SHA256,
  OPT_JSON,
  OPT_HEX,
  OPT_CANCEL,
};

static const struct option long_opts[] = {
    {"compress-type", required_argument, NULL, OPT_COMPRESS_TYPE},
    {"compress-level", required_argument, NULL, OPT_COMPRESS_LEVEL},
    {"sha256", no_argument, NULL, OPT_SHA256},
    {"json", no_argument, NULL, OPT_JSON},
    {"hex", no_argument, NULL, OPT_HEX},
    {"cancel", no_argument, NULL, OPT_CANCEL},
    {"progress", no_argument, NULL, 'p'},
    {"threads", required_argument, NULL, 't'},
    {"cluster-size", required_argument, NULL, 's'},
    {"format", required_argument, NULL, 'f'},
    {NULL, 0, NULL, 0},
};

struct args {
  h2k_convert_opts conv;
  bool compress;
  enum h2k_compress compress_type;
  bool json, hex, cancel, progress;
  const char *format;
  char **pos;
  int npos;
};

static int usage(void) {
  fprintf(stderr,
          "usage: imgtool convert [-O qcow2|raw] [-c] [--compress-type "
          "zlib|zstd]\n"
          "                       [--compress-level N] [-t THREADS] [-s "
          "CLUSTER_SIZE]\n"
          "                       [-f FORMAT] [--sha256] [-p] IN OUT\n"
          "       imgtool info [--json] [-f FORMAT] IMG\n"
          "       imgtool read [--hex] [-f FORMAT] IMG OFFSET LENGTH\n"
          "       imgtool map [-f FORMAT] IMG\n");
  return 2;
}

static bool parse_u64(const char *s, uint64_t *v) {
  char *end;
  errno = 0;
  unsigned long long x = strtoull(s, &end, 0);
  if (errno || end == s || *end || s[0] == '-')
    return false;
  *v = x;
  return true;
}

static int parse_args(int argc, char **argv, struct args *a) {
  memset(a, 0, sizeof *a);
  a->compress_type = H2K_COMPRESS_ZLIB;
  int c;
  uint64_t v;
  while ((c = getopt_long(argc, argv, "O:ct:s:f:p", long_opts, NULL)) != -1) {
    switch (c) {
    case 'O':
      if (strcmp(optarg, "qcow2") == 0)
        a->conv.out_format = H2K_OUT_QCOW2;
      else if (strcmp(optarg, "raw") == 0)
        a->conv.out_format = H2K_OUT_RAW;
      else
        return -1;
      break;
    case 'c':
      a->compress = true;
      break;
    case OPT_COMPRESS_TYPE:
      if (strcmp(optarg, "zlib") == 0)
        a->compress_type = H2K_COMPRESS_ZLIB;
      else if (strcmp(optarg, "zstd") == 0)
        a->compress_type = H2K_COMPRESS_ZSTD;
      else
        return -1;
      break;
    case OPT_COMPRESS_LEVEL:
      if (!parse_u64(optarg, &v) || v > 22)
        return -1;
      a->conv.compress_level = (int)v;
      break;
    case 't':
      if (!parse_u64(optarg, &v) || v > 1024)
        return -1;
      a->conv.threads = (int)v;
      break;
    case 's':
      if (!parse_u64(optarg, &v) || v > UINT32_MAX)
        return -1;
      a->conv.cluster_size = (uint32_t)v;
      break;
    case 'f':
      a->format = optarg;
      break;
    case OPT_SHA256:
      a->conv.want_sha256 = true;
      break;
    case OPT_JSON:
      a->json = true;
      break;
    case OPT_HEX:
      a->hex = true;
      break;
    case OPT_CANCEL:
      a->cancel = true;
      break;
    case 'p':
      a->progress = true;
      break;
    default:
      return -1;
    }
  }
  if (a->compress)
    a->conv.compress = a->compress_type;
  a->pos = argv + optind;
  a->npos = argc - optind;
  return 0;
}

static int fail(const h2k_error *err) {
  fprintf(stderr, "imgtool: %s\n", h2k_error_text(err));
  return err->code ? err->code : 1;
}

static void print_progress(uint64_t done, uint64_t total, void *opaque) {
  (void)opaque;
  fprintf(stderr, "progress %" PRIu64 "/%" PRIu64 "\n", done, total);
}

static int cmd_convert(struct args *a) {
  if (a->npos != 2)
    return usage();
  h2k_error err = {0};
  h2k_image *img = h2k_image_open(a->pos[0], a->format, &err);
  if (!img)
    return fail(&err);
  atomic_bool cancel = a->cancel;
  a->conv.cancel = &cancel;
  if (a->progress)
    a->conv.progress = print_progress;
  h2k_convert_result res;
  int rc = h2k_convert(img, a->pos[1], &a->conv, &res, &err);
  h2k_image_close(img);
  if (rc != 0)
    return fail(&err);
  if (a->conv.want_sha256)
    printf("%s\n", res.sha256);
  fprintf(stderr,
          "virtual size %" PRIu64 ", read %" PRIu64 ", written %" PRIu64 "\n",
          res.virtual_size, res.bytes_read, res.bytes_written);
  return 0;
}

static int cmd_info(struct args *a) {
  if (a->npos != 1)
    return usage();
  h2k_error err = {0};
  h2k_image *img = h2k_image_open(a->pos[0], a->format, &err);
  if (!img)
    return fail(&err);
  int rc = h2k_image_info_print(img, stdout, a->json, &err);
  h2k_image_close(img);
  return rc ? fail(&err) : 0;
}

static void print_hex(const uint8_t *p, size_t n, uint64_t base) {
  for (size_t i = 0; i < n; i += 16) {
    printf("%08" PRIx64 ":", base + i);
    for (size_t j = i; j < i + 16 && j < n; j++)
      printf(" %02x", p[j]);
    putchar('\n');
  }
}

static int cmd_read(struct args *a) {
  uint64_t off, len;
  if (a->npos != 3 || !parse_u64(a->pos[1], &off) ||
      !parse_u64(a->pos[2], &len) || len > (UINT64_C(1) << 30))
    return usage();
  h2k_error err = {0};
  h2k_image *img = h2k_image_open(a->pos[0], a->format, &err);
  if (!img)
    return fail(&err);
  uint8_t *buf = malloc(len ? len : 1);
  int rc = buf ? h2k_image_read(img, off, buf, len, &err) : -1;
  if (!buf)
    h2k_err_set(&err, H2K_E_FAIL, "out of memory");
  if (rc == 0) {
    if (a->hex)
      print_hex(buf, len, off);
    else
      fwrite(buf, 1, len, stdout);
  }
  free(buf);
  h2k_image_close(img);
  return rc ? fail(&err) : 0;
}

static int cmd_map(struct args *a) {
  if (a->npos != 1)
    return usage();
  h2k_error err = {0};
  h2k_image *img = h2k_image_open(a->pos[0], a->format, &err);
  if (!img)
    return fail(&err);
  uint64_t size = h2k_image_virtual_size(img);
  int rc = 0;
  for (uint64_t off = 0; off < size && rc == 0;) {
    h2k_extent x;
    rc = h2k_image_block_status(img, off, size - off, &x, &err);
    if (rc == 0) {
      printf("%" PRIu64 " %" PRIu64 " %s\n", x.offset, x.length,
             x.kind == H2K_EXTENT_DATA ? "data" : "zero");
      off += x.length;
    }
  }
  h2k_image_close(img);
  return rc ? fail(&err) : 0;
}

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  const char *cmd = argv[1];
  struct args a;
  if (parse_args(argc - 1, argv + 1, &a) != 0)
    return usage();
  if (strcmp(cmd, "convert") == 0)
    return cmd_convert(&a);
  if (strcmp(cmd, "info") == 0)
    return cmd_info(&a);
  if (strcmp(cmd, "read") == 0)
    return cmd_read(&a);
  if (strcmp(cmd, "map") == 0)
    return cmd_map(&a);
  return usage();
}
