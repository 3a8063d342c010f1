/* Small helpers shared by the whole library: strings, sizes, durations. */
#ifndef H2K_CORE_UTIL_H
#define H2K_CORE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Growable string buffer. */
typedef struct h2k_buf {
  char *data;
  size_t len, cap;
} h2k_buf;

void h2k_buf_printf(h2k_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void h2k_buf_append(h2k_buf *b, const char *s, size_t n);
void h2k_buf_free(h2k_buf *b);
/* Return the buffer's string and leave `b` empty. Never NULL. */
char *h2k_buf_steal(h2k_buf *b);

/* Append an owned string to a growable array of strings (takes `s`, frees
 * it on failure). Returns 0 or -1. */
int h2k_strv_push(char ***v, size_t *n, char *s);
/* Append a formatted string. Returns 0 or -1. */
int h2k_strv_vprintf(char ***v, size_t *n, const char *fmt, va_list ap);

char *h2k_strdup_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* strdup that aborts on OOM is not allowed in a library: returns NULL. */
char *h2k_strdup0(const char *s); /* NULL-safe */

bool h2k_str_ends_with(const char *s, const char *suffix);
/* The value of one hexadecimal digit, or -1. */
int h2k_hexval(int c);
bool h2k_str_ends_with_ci(const char *s, const char *suffix);

/* Parse "1048576", "512K", "4G", "1.5T" (binary units). */
int h2k_parse_size(const char *s, uint64_t *out);
/* Parse "90s", "30m", "24h", "7d", "2w", or a bare number of seconds. */
int h2k_parse_duration(const char *s, uint64_t *seconds);
/* Parse a strict decimal integer within [min, max]. */
int h2k_parse_int(const char *s, long long min, long long max, long long *out);
/* "true/false/yes/no/on/off/1/0" (case-insensitive). */
int h2k_parse_bool(const char *s, bool *out);

/* "1.5 GiB" into buf. */
const char *h2k_format_bytes(uint64_t n, char *buf, size_t cap);

/* Expand a leading "~" or "~/" using $HOME. Returns malloc'ed string. */
char *h2k_expand_home(const char *path);
char *h2k_path_join(const char *a, const char *b);
/* The directory part of `path` ("." when none, "/" for the root). */
char *h2k_path_dirname(const char *path);
/* malloc'ed absolute path of `path` (not resolving symlinks). */
char *h2k_path_absolute(const char *path);
/* The base name without directory and without the last extension. */
char *h2k_path_stem(const char *path);

double h2k_now_monotonic(void);
/* UTC "2026-01-29T10:30:00Z". */
void h2k_now_iso8601(char *buf, size_t cap);

/* Hard minimum of a and b. */
static inline uint64_t h2k_min_u64(uint64_t a, uint64_t b) {
  return a < b ? a : b;
}

#endif
