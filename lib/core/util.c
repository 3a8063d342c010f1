#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int buf_reserve(h2k_buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 128;
  while (cap < b->len + extra + 1)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p)
    return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

void h2k_buf_append(h2k_buf *b, const char *s, size_t n) {
  if (buf_reserve(b, n) < 0)
    return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void h2k_buf_printf(h2k_buf *b, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n > 0 && buf_reserve(b, (size_t)n) == 0) {
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    b->len += (size_t)n;
  }
  va_end(ap2);
}

void h2k_buf_free(h2k_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *h2k_buf_steal(h2k_buf *b) {
  char *s = b->data ? b->data : strdup("");
  b->data = NULL;
  b->len = b->cap = 0;
  return s;
}

int h2k_strv_push(char ***v, size_t *n, char *s) {
  if (!s)
    return -1;
  char **grown = realloc(*v, (*n + 1) * sizeof **v);
  if (!grown) {
    free(s);
    return -1;
  }
  *v = grown;
  grown[(*n)++] = s;
  return 0;
}

int h2k_strv_vprintf(char ***v, size_t *n, const char *fmt, va_list ap) {
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0)
    return -1;
  return h2k_strv_push(v, n, s);
}

char *h2k_strdup_printf(const char *fmt, ...) {
  va_list ap;
  char *s = NULL;
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0)
    s = NULL;
  va_end(ap);
  return s;
}

char *h2k_strdup0(const char *s) {
  return s ? strdup(s) : NULL;
}

bool h2k_str_ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool h2k_str_ends_with_ci(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

int h2k_parse_size(const char *s, uint64_t *out) {
  if (!s || !*s)
    return -1;
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (errno || end == s || v < 0 || !isfinite(v))
    return -1;
  while (*end == ' ')
    end++;
  double mult = 1;
  switch (toupper((unsigned char)*end)) {
  case '\0':
  case 'B':
    break;
  case 'K':
    mult = 1024.0;
    break;
  case 'M':
    mult = 1024.0 * 1024;
    break;
  case 'G':
    mult = 1024.0 * 1024 * 1024;
    break;
  case 'T':
    mult = 1024.0 * 1024 * 1024 * 1024;
    break;
  default:
    return -1;
  }
  if (*end) {
    end++;
    if (*end == 'i' || *end == 'I')
      end++;
    if (*end == 'B' || *end == 'b')
      end++;
    if (*end)
      return -1;
  }
  double r = v * mult;
  if (r >= 18446744073709551615.0)
    return -1;
  *out = (uint64_t)r;
  return 0;
}

int h2k_parse_duration(const char *s, uint64_t *seconds) {
  if (!s || !*s || !isdigit((unsigned char)*s))
    return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno)
    return -1;
  uint64_t mult = 1;
  if (*end) {
    switch (*end) {
    case 's':
      break;
    case 'm':
      mult = 60;
      break;
    case 'h':
      mult = 3600;
      break;
    case 'd':
      mult = 86400;
      break;
    case 'w':
      mult = 7 * 86400;
      break;
    default:
      return -1;
    }
    if (end[1])
      return -1;
  }
  if (v > UINT64_MAX / mult)
    return -1;
  *seconds = v * mult;
  return 0;
}

int h2k_parse_int(const char *s, long long min, long long max, long long *out) {
  if (!s || !*s)
    return -1;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || end == s || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

int h2k_parse_bool(const char *s, bool *out) {
  static const char *yes[] = {"true", "yes", "on", "1", "y"};
  static const char *no[] = {"false", "no", "off", "0", "n"};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
    if (strcasecmp(s, yes[i]) == 0) {
      *out = true;
      return 0;
    }
    if (strcasecmp(s, no[i]) == 0) {
      *out = false;
      return 0;
    }
  }
  return -1;
}

const char *h2k_format_bytes(uint64_t n, char *buf, size_t cap) {
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = (double)n;
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(buf, cap, "%llu B", (unsigned long long)n);
  else
    snprintf(buf, cap, "%.1f %s", v, units[u]);
  return buf;
}

char *h2k_expand_home(const char *path) {
  if (!path)
    return NULL;
  if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
    const char *home = getenv("HOME");
    if (!home || !*home)
      home = "/";
    return h2k_strdup_printf("%s%s", home, path + 1);
  }
  return strdup(path);
}

char *h2k_path_join(const char *a, const char *b) {
  if (!a || !*a || b[0] == '/')
    return strdup(b);
  size_t la = strlen(a);
  return h2k_strdup_printf("%s%s%s", a, a[la - 1] == '/' ? "" : "/", b);
}

char *h2k_path_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    return strdup(".");
  if (slash == path)
    return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

char *h2k_path_absolute(const char *path) {
  if (path[0] == '/')
    return strdup(path);
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd))
    return strdup(path);
  return h2k_path_join(cwd, path);
}

char *h2k_path_stem(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char *s = strdup(base);
  if (!s)
    return NULL;
  char *dot = strrchr(s, '.');
  if (dot && dot != s)
    *dot = '\0';
  return s;
}

double h2k_now_monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void h2k_now_iso8601(char *buf, size_t cap) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int h2k_hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}
