/* Shared checks for the network fixer tests: run a transform, compare the
 * output text and change log exactly, then run it again on its own output
 * and require no further change (idempotence). */
#ifndef H2K_TEST_NET_CHECK_H
#define H2K_TEST_NET_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fix/network.h"

typedef char *(*net_fix_fn)(const char *text, const h2k_net_ctx *ctx,
                            const char *path, h2k_changes *log, h2k_error *err);

/* One expected change-log entry. `reason` is a substring of the reason. */
typedef struct want_change {
  int line;
  const char *before; /* NULL: addition */
  const char *after;  /* NULL: removal */
  const char *reason;
} want_change;

#define NO_CHANGES NULL, 0
#define CHANGES(arr) arr, sizeof arr / sizeof arr[0]

static void check_str_eq(const char *what, const char *got, const char *want) {
  int differ =
      (got == NULL || want == NULL) ? got != want : strcmp(got, want) != 0;
  if (differ)
    fail_msg("%s: got \"%s\", want \"%s\"", what, got ? got : "(null)",
             want ? want : "(null)");
}

static void check_log(const h2k_changes *log, const char *path,
                      const want_change *want, size_t n_want) {
  if (log->n != n_want) {
    for (size_t i = 0; i < log->n; i++)
      print_message("  change %zu: line %d [%s] -> [%s] (%s)\n", i,
                    log->items[i].line,
                    log->items[i].before ? log->items[i].before : "-",
                    log->items[i].after ? log->items[i].after : "-",
                    log->items[i].reason);
    fail_msg("%zu changes logged, want %zu", log->n, n_want);
  }
  for (size_t i = 0; i < n_want; i++) {
    const h2k_change *c = &log->items[i];
    check_str_eq("change file", c->file, path);
    if (c->line != want[i].line)
      fail_msg("change %zu: line %d, want %d", i, c->line, want[i].line);
    check_str_eq("change before", c->before, want[i].before);
    check_str_eq("change after", c->after, want[i].after);
    assert_non_null(c->reason);
    if (!strstr(c->reason, want[i].reason))
      fail_msg("change %zu: reason \"%s\" lacks \"%s\"", i, c->reason,
               want[i].reason);
  }
}

/* Run fn on `in`, expect `want` and the log; then check idempotence. */
static void check_fix(net_fix_fn fn, const char *path, const h2k_net_ctx *ctx,
                      const char *in, const char *want,
                      const want_change *changes, size_t n_changes) {
  h2k_changes log = {0};
  h2k_error err = {0};
  char *out = fn(in, ctx, path, &log, &err);
  if (!out)
    fail_msg("%s: %s", path, h2k_error_text(&err));
  assert_string_equal(out, want);
  if (!strcmp(in, want))
    assert_int_equal(memcmp(out, in, strlen(in) + 1), 0);
  check_log(&log, path, changes, n_changes);
  h2k_changes_free(&log);

  char *again = fn(out, ctx, path, &log, &err);
  assert_non_null(again);
  assert_string_equal(again, out);
  if (log.n)
    fail_msg("not idempotent: second run logged %zu changes, first: line %d "
             "(%s)",
             log.n, log.items[0].line, log.items[0].reason);
  h2k_changes_free(&log);
  free(again);
  free(out);
}

#endif
