/* The pure initramfs lister against the real tools: archives are made at
 * test time with cpio, gzip, zstd, xz and bzip2 from a small tree, and
 * listings are compared with `cpio -t` and `lsinitramfs`, including on the
 * host's own /boot/initrd.img-*. */
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/util.h"
#include "inspect/initrd_list.h"

static char tmp[64]; /* mkdtemp'ed work directory, removed by teardown */

/* ---- helpers ---- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run a shell command in the work directory; fail the test if it fails. */
__attribute__((format(printf, 1, 2))) static void sh(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *cmd = NULL;
  assert_true(vasprintf(&cmd, fmt, ap) >= 0);
  va_end(ap);
  char *full = NULL;
  assert_true(asprintf(&full, "cd '%s' && { %s; }", tmp, cmd) >= 0);
  int st = system(full);
  if (st != 0)
    fail_msg("command failed (status %d): %s", st, cmd);
  free(full);
  free(cmd);
}

/* Standard output of a shell command run in the work directory. */
__attribute__((format(printf, 1, 2))) static char *capture(const char *fmt,
                                                           ...) {
  va_list ap;
  va_start(ap, fmt);
  char *cmd = NULL;
  assert_true(vasprintf(&cmd, fmt, ap) >= 0);
  va_end(ap);
  char *full = NULL;
  assert_true(asprintf(&full, "cd '%s' && { %s; }", tmp, cmd) >= 0);
  FILE *f = popen(full, "r");
  assert_non_null(f);
  h2k_buf b = {0};
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    h2k_buf_append(&b, chunk, n);
  int st = pclose(f);
  if (st != 0)
    fail_msg("command failed (status %d): %s", st, cmd);
  free(full);
  free(cmd);
  return h2k_buf_steal(&b);
}

static uint8_t *slurp(const char *path, size_t *len) {
  char *full = path[0] == '/' ? strdup(path) : h2k_path_join(tmp, path);
  FILE *f = fopen(full, "rb");
  if (!f)
    fail_msg("cannot open %s: %s", full, strerror(errno));
  h2k_buf b = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    h2k_buf_append(&b, chunk, n);
  fclose(f);
  free(full);
  *len = b.len;
  return (uint8_t *)h2k_buf_steal(&b);
}

/* Compare two listings line by line, naming the first difference. */
static void same_listing(const char *what, const char *got, const char *want) {
  if (strcmp(got, want) == 0)
    return;
  size_t line = 1;
  const char *g = got, *w = want;
  while (*g && *w) {
    const char *ge = strchr(g, '\n'), *we = strchr(w, '\n');
    size_t gl = ge ? (size_t)(ge - g) : strlen(g);
    size_t wl = we ? (size_t)(we - w) : strlen(w);
    if (gl != wl || memcmp(g, w, gl) != 0)
      fail_msg("%s: line %zu differs: ours \"%.*s\", expected \"%.*s\"", what,
               line, (int)gl, g, (int)wl, w);
    g += gl + (ge != NULL);
    w += wl + (we != NULL);
    line++;
  }
  fail_msg("%s: line %zu: ours %s, expected %s", what, line,
           *g ? "has more lines" : "ends", *w ? "more lines" : "the end");
}

static char *list_ok(const uint8_t *data, size_t len, const char *what) {
  char *out = NULL;
  h2k_error err = {0};
  if (h2k_initrd_list(data, len, &out, &err) != 0)
    fail_msg("%s: listing failed: %s", what, h2k_error_text(&err));
  assert_non_null(out);
  return out;
}

/* List file `name` (in the work directory) and compare with the output of
 * the shell command `want_cmd`. */
static void check_file(const char *name, const char *want_cmd) {
  size_t len;
  uint8_t *data = slurp(name, &len);
  char *got = list_ok(data, len, name);
  char *want = capture("%s", want_cmd);
  assert_true(strlen(want) > 0);
  same_listing(name, got, want);
  free(want);
  free(got);
  free(data);
}

/* The listing must fail with a message holding `needle`. */
static void expect_error(const uint8_t *data, size_t len, const char *needle,
                         const char *what) {
  char *out = (char *)"unset";
  h2k_error err = {0};
  int rc = h2k_initrd_list(data, len, &out, &err);
  if (rc != -1)
    fail_msg("%s: listing succeeded (rc %d), expected an error with \"%s\"",
             what, rc, needle);
  assert_null(out);
  assert_int_not_equal(err.code, 0);
  if (!strstr(h2k_error_text(&err), needle))
    fail_msg("%s: error \"%s\" does not mention \"%s\"", what,
             h2k_error_text(&err), needle);
}

static void need_tool(const char *tool, const char *pkg) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
  if (system(cmd) != 0)
    fail_msg("the tool %s is missing: install the Debian package %s "
             "(scripts/install-deps.sh does)",
             tool, pkg);
}

/* A newc header + name (+ padding) for hand-made archives. */
static void newc_entry(h2k_buf *b, const char *name, uint32_t namesize,
                       uint32_t filesize, const char *data) {
  h2k_buf_printf(
      b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 1u,
      0100644u, 0u, 0u, 1u, 0u, filesize, 0u, 0u, 0u, 0u, namesize, 0u);
  h2k_buf_append(b, name, namesize);
  while (b->len % 4)
    h2k_buf_append(b, "", 1);
  if (data) {
    h2k_buf_append(b, data, filesize);
    while (b->len % 4)
      h2k_buf_append(b, "", 1);
  }
}

static void newc_name(h2k_buf *b, const char *name) {
  newc_entry(b, name, (uint32_t)strlen(name) + 1, 0, "");
}

/* ---- fixtures: built once for the whole group ---- */

#define CPIO_T "cpio -t --quiet --no-absolute-filenames"

static void cleanup(void);
static void on_signal(int sig);

static int setup(void **state) {
  (void)state;
  need_tool("cpio", "cpio");
  need_tool("gzip", "gzip");
  need_tool("zstd", "zstd");
  need_tool("xz", "xz-utils");
  need_tool("bzip2", "bzip2");
  need_tool("lsinitramfs", "initramfs-tools-core");
  snprintf(tmp, sizeof tmp, "/tmp/h2k-initrd-test.XXXXXX");
  if (!mkdtemp(tmp))
    fail_msg("mkdtemp: %s", strerror(errno));
  atexit(cleanup);            /* also when a fixture command fails */
  signal(SIGTERM, on_signal); /* meson's timeout */
  signal(SIGINT, on_signal);
  const char *mod = "main/usr/lib/modules/6.1.0-18-amd64/kernel/drivers/block";
  sh("mkdir -p main/bin main/etc/conf.d main/conf main/scripts/init-top %s "
     "early/kernel/x86/microcode",
     mod);
  /* 1001 bytes: not a multiple of 4. */
  sh("head -c 1001 /dev/urandom > %s/virtio_blk.ko", mod);
  sh("printf 'kernel/drivers/block/virtio_blk.ko:\\n' > "
     "main/usr/lib/modules/6.1.0-18-amd64/modules.dep");
  /* ~200 KB that spans several 64 KiB decompression chunks. */
  sh("seq 1 40000 > main/bin/busybox && head -c 7 /dev/urandom >> "
     "main/bin/busybox");
  sh("ln main/bin/busybox main/bin/ash && ln -s busybox main/bin/sh");
  sh(": > main/conf/empty && printf x > main/conf/one-byte");
  sh("printf 'MODULES=most\\n' > 'main/etc/conf.d/with space.conf'");
  sh("printf '#!/bin/sh\\nexit 0\\n' > main/scripts/init-top/udev && "
     "chmod +x main/scripts/init-top/udev");
  sh("head -c 4097 /dev/urandom > "
     "early/kernel/x86/microcode/GenuineIntel.bin");
  sh("(cd main && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) "
     "> main.cpio");
  sh("(cd early && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 "
     "--quiet) > early.cpio");
  sh("(cd early && find . | LC_ALL=C sort | cpio -o -H crc -R 0:0 --quiet) "
     "> early-crc.cpio");
  sh("gzip -n -c main.cpio > main.cpio.gz && gzip -n -c early.cpio > "
     "early.cpio.gz");
  sh("zstd -q -c main.cpio > main.cpio.zst");
  /* The kernel's and dracut's xz options. */
  sh("xz -q -c --check=crc32 --lzma2=dict=1MiB main.cpio > main.cpio.xz");
  sh("xz -q -c --format=lzma --lzma1=dict=1MiB main.cpio > main.cpio.lzma");
  sh("bzip2 -c main.cpio > main.cpio.bz2");
  sh("cat early.cpio main.cpio.zst > ez.img");
  sh("cat early.cpio.gz main.cpio.gz > gg.img");
  sh("head -c 100001 main.cpio > part1 && tail -c +100002 main.cpio > part2");
  sh("{ zstd -q -c part1; zstd -q -c part2; } > split.zst");
  return 0;
}

static void cleanup(void) {
  if (tmp[0]) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", tmp);
    if (system(cmd) == 0)
      tmp[0] = '\0';
  }
}

/* Killed (e.g. by meson's timeout): remove the work directory with only
 * async-signal-safe calls, then die of the signal. */
static void on_signal(int sig) {
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/rm", "rm", "-rf", "--", tmp, (char *)NULL);
    _exit(127);
  }
  if (pid > 0)
    waitpid(pid, NULL, 0);
  signal(sig, SIG_DFL);
  raise(sig);
}

static int teardown(void **state) {
  (void)state;
  cleanup();
  return tmp[0] ? -1 : 0;
}

/* ---- 1-5: one archive, each compression ---- */

static void test_plain_cpio(void **state) {
  (void)state;
  check_file("main.cpio", CPIO_T " < main.cpio");
  /* Sanity: the interesting entries are there, in lsinitramfs' form. */
  size_t len;
  uint8_t *d = slurp("main.cpio", &len);
  char *got = list_ok(d, len, "main.cpio");
  assert_non_null(strstr(got, "\nusr/lib/modules/6.1.0-18-amd64/kernel/"
                              "drivers/block/virtio_blk.ko\n"));
  assert_non_null(strstr(got, "\nbin/sh\n"));
  assert_non_null(strstr(got, "\nconf/empty\n"));
  assert_non_null(strstr(got, "\netc/conf.d/with space.conf\n"));
  assert_true(strncmp(got, ".\n", 2) == 0);
  assert_null(strstr(got, "TRAILER"));
  free(got);
  free(d);
  /* The crc (070702) variant. */
  check_file("early-crc.cpio", CPIO_T " < early-crc.cpio");
}

static void test_gzip(void **state) {
  (void)state;
  check_file("main.cpio.gz", "gzip -dc main.cpio.gz | " CPIO_T);
}

static void test_zstd(void **state) {
  (void)state;
  check_file("main.cpio.zst", "zstd -q -dc main.cpio.zst | " CPIO_T);
}

static void test_xz(void **state) {
  (void)state;
  check_file("main.cpio.xz", "xz -dc main.cpio.xz | " CPIO_T);
}

static void test_lzma(void **state) {
  (void)state;
  check_file("main.cpio.lzma", "xz --format=lzma -dc main.cpio.lzma | " CPIO_T);
}

/* ---- 6-7: several segments ---- */

static void test_early_plus_zstd(void **state) {
  (void)state;
  const char *want = "{ " CPIO_T " < early.cpio; zstd -q -dc main.cpio.zst | "
                     "" CPIO_T "; }";
  check_file("ez.img", want);
  check_file("ez.img", "lsinitramfs ez.img");
  /* Zero padding between the segments (lsinitramfs reads it 4 bytes per
   * dd: keep it short) ... */
  sh("{ cat early.cpio; head -c 64 /dev/zero; cat main.cpio.zst; } > "
     "ezpad.img");
  check_file("ezpad.img", want);
  check_file("ezpad.img", "lsinitramfs ezpad.img");
  /* ... and after the last one, which the kernel accepts (lsinitramfs does
   * not: `zstd -t` fails on the zeros, and it lists nothing of main). */
  sh("{ cat early.cpio; head -c 4096 /dev/zero; cat main.cpio.zst; head -c "
     "509 /dev/zero; } > ezpad2.img");
  check_file("ezpad2.img", want);
  /* Two early archives (newc, crc), then the main one. */
  sh("cat early.cpio early-crc.cpio main.cpio.zst > eez.img");
  check_file("eez.img",
             "{ " CPIO_T " < early.cpio; " CPIO_T " < "
             "early-crc.cpio; zstd -q -dc main.cpio.zst | " CPIO_T "; }");
  /* A zstd skippable frame in front of the compressed segment. */
  sh("{ cat early.cpio; printf '\\120\\052\\115\\030\\010\\0\\0\\0skipped!'; "
     "cat main.cpio.zst; } > eskip.img");
  check_file("eskip.img", want);
}

static void test_two_gzip_members(void **state) {
  (void)state;
  const char *want = "{ " CPIO_T " < early.cpio; " CPIO_T " < main.cpio; }";
  check_file("gg.img", want);
  sh("{ cat early.cpio.gz; head -c 100 /dev/zero; cat main.cpio.gz; } > "
     "ggpad.img");
  check_file("ggpad.img", want);
}

/* Several archives in one decompressed stream: all are listed (the kernel
 * unpacks them all), and one archive split over several gzip members or
 * zstd frames reads as one stream. */
static void test_multi_archive_streams(void **state) {
  (void)state;
  sh("cat early.cpio main.cpio | zstd -q -c > em.zst");
  check_file("em.zst", "{ " CPIO_T " < early.cpio; " CPIO_T " < main.cpio; }");
  sh("{ gzip -n -c part1; gzip -n -c part2; } > split.gz");
  check_file("split.gz", CPIO_T " < main.cpio");
  check_file("split.zst", CPIO_T " < main.cpio");
  sh("{ xz -q -c part1; xz -q -c part2; } > split.xz");
  check_file("split.xz", CPIO_T " < main.cpio");
}

/* ---- 8: the host's own initramfs against lsinitramfs ---- */

static void test_host_initramfs(void **state) {
  (void)state;
  glob_t g;
  int gr = glob("/boot/initrd.img-*", 0, NULL, &g);
  if (gr != 0 || g.gl_pathc == 0)
    fail_msg("no /boot/initrd.img-* on this host: this test compares the "
             "lister with lsinitramfs on a real Debian initramfs; install "
             "linux-image-amd64 (scripts/install-deps.sh --guests does)");
  for (size_t i = 0; i < g.gl_pathc; i++) {
    const char *img = g.gl_pathv[i];
    double t0 = now();
    size_t len;
    uint8_t *d = slurp(img, &len);
    char *got = list_ok(d, len, img);
    double t1 = now();
    char *want = capture("lsinitramfs '%s'", img);
    double t2 = now();
    size_t lines = 0;
    for (const char *p = want; *p; p++)
      lines += *p == '\n';
    assert_true(lines > 100);
    same_listing(img, got, want);
    assert_non_null(strstr(got, "/virtio_blk.ko\n"));
    print_message("%s: %zu bytes, %zu paths; h2k_initrd_list %.3f s (read "
                  "included), lsinitramfs %.3f s\n",
                  img, len, lines, t1 - t0, t2 - t1);
    free(want);
    free(got);
    free(d);
  }
  globfree(&g);
}

/* ---- 9: errors ---- */

static void expect_truncated(const uint8_t *d, size_t cut, const char *name) {
  char what[96];
  snprintf(what, sizeof what, "%s cut at %zu", name, cut);
  expect_error(d, cut, "offset", what);
}

/* Where the TRAILER!!! entry of the archive in d ends. */
static size_t trailer_end(const uint8_t *d, size_t len) {
  const uint8_t *t = memmem(d, len, "TRAILER!!!", 11);
  assert_non_null(t);
  size_t end = (size_t)(t - d) + 11;
  return (end + 3) & ~(size_t)3;
}

static void test_truncated_plain(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = slurp("main.cpio", &len);
  char *full = list_ok(d, len, "main.cpio");
  size_t tend = trailer_end(d, len);
  assert_true(tend < len); /* cpio pads to 512 bytes */
  for (size_t cut = 1; cut < tend; cut++)
    expect_truncated(d, cut, "main.cpio");
  /* Cut in the zero padding after the trailer: complete, same listing. */
  for (size_t cut = tend; cut <= len; cut++) {
    char *got = list_ok(d, cut, "main.cpio cut in its padding");
    assert_string_equal(got, full);
    free(got);
  }
  free(full);
  free(d);
}

/* Cut points for a compressed image (every one would take too long under
 * ASan): all of the first 300 bytes after `from` (headers), the last 48
 * (trailers, checksums) and about 200 spread over the rest. */
static bool cut_wanted(size_t cut, size_t from, size_t len) {
  size_t stride = (len - from) / 200 | 1;
  return cut <= from + 300 || cut + 48 >= len || (cut - from) % stride == 0;
}

static void test_truncated_compressed(void **state) {
  (void)state;
  const char *files[] = {"main.cpio.gz",   "main.cpio.zst", "main.cpio.xz",
                         "main.cpio.lzma", "gg.img",        "split.zst"};
  size_t egz_len;
  free(slurp("early.cpio.gz", &egz_len));
  for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
    size_t len;
    uint8_t *d = slurp(files[f], &len);
    for (size_t cut = 1; cut < len; cut++) {
      if (!cut_wanted(cut, 0, len))
        continue;
      if (strcmp(files[f], "gg.img") == 0 && cut == egz_len) {
        /* Exactly the first member: a complete image of its own. */
        free(list_ok(d, cut, "gg.img cut after its first member"));
        continue;
      }
      expect_truncated(d, cut, files[f]);
    }
    free(list_ok(d, len, files[f]));
    free(d);
  }
  /* early + zstd: cut anywhere in the zstd segment. */
  size_t len, elen;
  uint8_t *d = slurp("ez.img", &len);
  free(slurp("early.cpio", &elen));
  for (size_t cut = elen + 1; cut < len; cut++) {
    if (!cut_wanted(cut, elen, len))
      continue;
    expect_truncated(d, cut, "ez.img");
  }
  free(d);
}

static void test_unsupported(void **state) {
  (void)state;
  size_t len;
  uint8_t *d = slurp("main.cpio.bz2", &len);
  expect_error(d, len, "bzip2", "bzip2 image");
  free(d);
  /* bzip2 main after an early cpio. */
  sh("cat early.cpio main.cpio.bz2 > eb.img");
  d = slurp("eb.img", &len);
  expect_error(d, len, "bzip2", "early + bzip2 image");
  free(d);
  static const uint8_t lz4[] = {0x02, 0x21, 0x4c, 0x18, 0, 0, 0, 0};
  expect_error(lz4, sizeof lz4, "lz4", "lz4 legacy magic");
  static const uint8_t lzo[] = {0x89, 'L', 'Z', 'O', 0, 0x0d, 0x0a, 0x1a};
  expect_error(lzo, sizeof lzo, "lzo", "lzo magic");
  sh("(cd early && find . | cpio -o -H odc --quiet) > early-odc.cpio");
  d = slurp("early-odc.cpio", &len);
  expect_error(d, len, "unsupported cpio format", "odc cpio");
  free(d);
  sh("(cd early && find . | cpio -o -H bin --quiet) > early-bin.cpio");
  d = slurp("early-bin.cpio", &len);
  expect_error(d, len, "unsupported cpio format", "old binary cpio");
  free(d);
}

static void test_garbage_and_empty(void **state) {
  (void)state;
  char *out = (char *)"unset";
  h2k_error err = {0};
  assert_int_equal(h2k_initrd_list((const uint8_t *)"", 0, &out, &err), -1);
  assert_null(out);
  assert_non_null(strstr(h2k_error_text(&err), "empty"));
  const char *junk = "this is not an initramfs";
  expect_error((const uint8_t *)junk, strlen(junk), "offset 0", "text");
  uint8_t zeros[4096] = {0};
  expect_error(zeros, sizeof zeros, "no cpio archive", "all zeros");
  /* Trailing garbage after a valid image: an error at its offset. */
  size_t len;
  uint8_t *d = slurp("main.cpio.gz", &len);
  uint8_t *g = malloc(len + 16);
  assert_non_null(g);
  memcpy(g, d, len);
  memcpy(g + len, "\0\0\0\0garbage!", 12);
  char want[64];
  snprintf(want, sizeof want, "junk at offset %zu", len + 4);
  expect_error(g, len + 12, want, "gzip + trailing garbage");
  /* ... while trailing zeros are fine. */
  memset(g + len, 0, 16);
  free(list_ok(g, len + 16, "gzip + trailing zeros"));
  /* Junk within the decompressed stream, after the archive. */
  sh("{ cat main.cpio; printf 'junk'; } | gzip -n -c > junk-in.gz");
  free(d);
  d = slurp("junk-in.gz", &len);
  expect_error(d, len, "bad cpio magic", "junk inside the gzip stream");
  free(d);
  /* Corrupt compressed data. */
  d = slurp("main.cpio.zst", &len);
  memset(d + len / 2, 0x55, 64);
  expect_error(d, len, "zstd stream at offset 0", "corrupt zstd");
  free(d);
  free(g);
}

static void test_crafted_headers(void **state) {
  (void)state;
  h2k_buf b = {0};
  /* Names the way cpio -t --no-absolute-filenames / lsinitramfs show them. */
  newc_name(&b, ".");
  newc_name(&b, "/abs/x");
  newc_name(&b, "./rel/y");
  newc_name(&b, "//twice");
  newc_name(&b, "/");
  newc_name(&b, "./");
  newc_entry(&b, "data", 5, 6, "12345");
  newc_name(&b, "TRAILER!!!");
  char *got = list_ok((const uint8_t *)b.data, b.len, "crafted names");
  assert_string_equal(got, ".\nabs/x\nrel/y\ntwice\n.\n.\ndata\n");
  free(got);
  h2k_buf_free(&b);

  char *longname = malloc(5001);
  assert_non_null(longname);
  memset(longname, 'a', 5000);
  longname[5000] = '\0';
  newc_name(&b, longname);
  newc_name(&b, "TRAILER!!!");
  expect_error((const uint8_t *)b.data, b.len, "name of 5001 bytes",
               "long name");
  h2k_buf_free(&b);
  free(longname);

  newc_name(&b, "evil\nusr/lib/virtio_blk.ko");
  newc_name(&b, "TRAILER!!!");
  expect_error((const uint8_t *)b.data, b.len, "newline", "newline in name");
  h2k_buf_free(&b);

  newc_entry(&b, "x", 0, 0, "");
  newc_name(&b, "TRAILER!!!");
  expect_error((const uint8_t *)b.data, b.len, "namesize 0", "namesize 0");
  h2k_buf_free(&b);

  newc_entry(&b, "abcd", 4, 0, ""); /* no NUL in the name */
  newc_name(&b, "TRAILER!!!");
  expect_error((const uint8_t *)b.data, b.len, "NUL", "unterminated name");
  h2k_buf_free(&b);

  newc_name(&b, "a");
  b.data[6 + 8 * 6 + 3] = 'g'; /* filesize */
  expect_error((const uint8_t *)b.data, b.len, "filesize is not hex",
               "bad hex");
  h2k_buf_free(&b);

  /* A file claiming 4 GiB - 1 of data, then the image ends. */
  newc_entry(&b, "big", 4, 0xffffffffu, NULL);
  expect_error((const uint8_t *)b.data, b.len,
               "\"big\" at offset 0: 4294967296 bytes missing",
               "huge filesize");
  h2k_buf_free(&b);

  /* No trailer. */
  newc_name(&b, "a");
  expect_error((const uint8_t *)b.data, b.len, "without its TRAILER",
               "no trailer");
  h2k_buf_free(&b);

  /* Junk between archives, unaligned. */
  newc_name(&b, "a");
  newc_name(&b, "TRAILER!!!");
  h2k_buf_append(&b, "\0\0\0\0\0\x01", 6);
  expect_error((const uint8_t *)b.data, b.len, "offset", "unaligned junk");
  h2k_buf_free(&b);

  /* An archive with only a trailer lists nothing, and is fine. */
  newc_name(&b, "TRAILER!!!");
  got = list_ok((const uint8_t *)b.data, b.len, "trailer only");
  assert_string_equal(got, "");
  free(got);
  h2k_buf_free(&b);
}

/* Random corruption of real images: any result, but no crash or hang (the
 * fuzzer does this at length; this keeps a cheap version in the unit run). */
static void test_mutations(void **state) {
  (void)state;
  const char *files[] = {"main.cpio", "main.cpio.gz", "ez.img", "main.cpio.xz"};
  uint32_t seed = 12345;
  for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
    size_t len;
    uint8_t *d = slurp(files[f], &len);
    uint8_t *m = malloc(len);
    assert_non_null(m);
    for (int round = 0; round < 150; round++) {
      memcpy(m, d, len);
      for (int k = 0; k < 1 + round % 4; k++) {
        seed = seed * 1103515245u + 12345u;
        size_t at = (seed >> 8) % len;
        seed = seed * 1103515245u + 12345u;
        m[at] = (uint8_t)(seed >> 16);
      }
      char *out = NULL;
      h2k_error err = {0};
      if (h2k_initrd_list(m, len, &out, &err) == 0)
        assert_non_null(out);
      else
        assert_true(strlen(h2k_error_text(&err)) > 0);
      free(out);
    }
    free(m);
    free(d);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_cpio),
      cmocka_unit_test(test_gzip),
      cmocka_unit_test(test_zstd),
      cmocka_unit_test(test_xz),
      cmocka_unit_test(test_lzma),
      cmocka_unit_test(test_early_plus_zstd),
      cmocka_unit_test(test_two_gzip_members),
      cmocka_unit_test(test_multi_archive_streams),
      cmocka_unit_test(test_host_initramfs),
      cmocka_unit_test(test_truncated_plain),
      cmocka_unit_test(test_truncated_compressed),
      cmocka_unit_test(test_unsupported),
      cmocka_unit_test(test_garbage_and_empty),
      cmocka_unit_test(test_crafted_headers),
      cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
