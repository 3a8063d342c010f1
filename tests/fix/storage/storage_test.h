/* Shared checks for the storage/boot fixer tests: exact output text, exact
 * change log, and idempotence (a second run on the output changes nothing
 * and logs only the same "left as is" warnings). */
#ifndef H2K_TEST_STORAGE_TEST_H
#define H2K_TEST_STORAGE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fix/fix.h"

/* One expected log entry. `reason` must occur in the logged reason. */
typedef struct want_change {
  int line;
  const char *before; /* NULL: an addition */
  const char *after;
  const char *reason;
} want_change;

/* A transform bound to its facts and options. */
typedef char *(*fix_fn)(const char *text, const void *ctx, h2k_changes *log,
                        h2k_error *err);

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static inline void assert_text(const char *got, const char *want) {
  if (strcmp(got, want) != 0)
    fail_msg("text differs\n--- got ---\n%s\n--- want ---\n%s\n---", got, want);
}

static inline bool same_str(const char *a, const char *b) {
  return (!a && !b) || (a && b && !strcmp(a, b));
}

static inline void assert_changes(const h2k_changes *log, const char *file,
                                  const want_change *want, size_t n) {
  if (log->n != n) {
    for (size_t i = 0; i < log->n; i++)
      print_message("log[%zu] line %d: %s\n", i, log->items[i].line,
                    log->items[i].reason ? log->items[i].reason : "?");
    fail_msg("%zu log entries, want %zu", log->n, n);
  }
  for (size_t i = 0; i < n; i++) {
    const h2k_change *c = &log->items[i];
    assert_string_equal(c->file, file);
    assert_int_equal(c->line, want[i].line);
    if (!same_str(c->before, want[i].before))
      fail_msg("log[%zu].before = \"%s\", want \"%s\"", i,
               c->before ? c->before : "(null)",
               want[i].before ? want[i].before : "(null)");
    if (!same_str(c->after, want[i].after))
      fail_msg("log[%zu].after = \"%s\", want \"%s\"", i,
               c->after ? c->after : "(null)",
               want[i].after ? want[i].after : "(null)");
    if (!c->reason || !strstr(c->reason, want[i].reason))
      fail_msg("log[%zu].reason = \"%s\" lacks \"%s\"", i,
               c->reason ? c->reason : "(null)", want[i].reason);
  }
}

/* The number of entries that only warn (the line stays as it was). */
static inline size_t count_warnings(const h2k_changes *log) {
  size_t n = 0;
  for (size_t i = 0; i < log->n; i++)
    if (log->items[i].before && log->items[i].after &&
        !strcmp(log->items[i].before, log->items[i].after))
      n++;
  return n;
}

/* Run `fn` on `in`, compare with `want` and the log, then run it again on
 * its output: same text, no changes, only the same warnings. */
static inline void check_fix(fix_fn fn, const void *ctx, const char *file,
                             const char *in, const char *want,
                             const want_change *changes, size_t n_changes) {
  h2k_changes log = {0}, again_log = {0};
  h2k_error err = {0};
  char *out = fn(in, ctx, &log, &err);
  if (!out)
    fail_msg("transform failed: %s", h2k_error_text(&err));
  assert_true(out != in);
  assert_text(out, want);
  assert_changes(&log, file, changes, n_changes);
  char *again = fn(out, ctx, &again_log, &err);
  if (!again)
    fail_msg("second run failed: %s", h2k_error_text(&err));
  assert_text(again, out);
  if (count_warnings(&again_log) != again_log.n)
    fail_msg("second run changed something: %s",
             again_log.items[0].reason ? again_log.items[0].reason : "?");
  assert_int_equal(again_log.n, count_warnings(&log));
  free(again);
  free(out);
  h2k_changes_free(&log);
  h2k_changes_free(&again_log);
}

/* The guest used for every test: a Debian-like VMware layout. */
static const h2k_blkdev test_devs[] = {
    {"/dev/sda1", "5d9b7a8e-0f3c-4d2e-9a61-2f4c8e1b7a10", "a1b2c3d4-01", NULL,
     "ext4"},
    {"/dev/sda2", "c0ffee00-1234-4abc-8def-0123456789ab", "a1b2c3d4-02",
     "rootfs", "btrfs"},
    {"/dev/sda3", "9f1e2d3c-4b5a-4697-8877-665544332211", NULL, NULL,
     "crypto_LUKS"},
    {"/dev/sda5", "b1e0c7d2-3a4f-4e5b-8c6d-7e8f9a0b1c2d", "a1b2c3d4-05", NULL,
     "swap"},
    {"/dev/sdb1", NULL, "7e3f1a2b-9c8d-4e5f-a6b7-c8d9e0f1a2b3", NULL, "xfs"},
    {"/dev/sdc1", NULL, NULL, "BACKUP", "ext4"},
    {"/dev/sdd1", NULL, NULL, NULL, "ext2"},
    {"/dev/sde1", NULL, NULL, "My Data", "ext4"},
    {"/dev/mapper/vg0-root", "0a1b2c3d-4e5f-4061-8273-948596a7b8c9", NULL, NULL,
     "ext4"},
};

static const char *const test_alias[] = {
    "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part5",
    "/dev/disk/by-path/pci-0000:03:00.0-scsi-0:0:0:0-part1",
    "/dev/disk/by-id/scsi-36000c2924f1e8a6b8d4f3c2a1b0e9d8c-part2",
    "/dev/disk/by-id/wwn-0x6000c2924f1e8a6b-part1",
};
static const char *const test_target[] = {
    "/dev/sda5",
    "/dev/sda1",
    "/dev/sda2",
    "/dev/sdb1",
};

static const h2k_devmap test_map = {
    test_devs, N_ELEMS(test_devs), test_alias, test_target, N_ELEMS(test_alias),
};

#define UUID_SDA1 "5d9b7a8e-0f3c-4d2e-9a61-2f4c8e1b7a10"
#define UUID_SDA2 "c0ffee00-1234-4abc-8def-0123456789ab"
#define UUID_SDA3 "9f1e2d3c-4b5a-4697-8877-665544332211"
#define UUID_SDA5 "b1e0c7d2-3a4f-4e5b-8c6d-7e8f9a0b1c2d"
#define PARTUUID_SDB1 "7e3f1a2b-9c8d-4e5f-a6b7-c8d9e0f1a2b3"

#endif
