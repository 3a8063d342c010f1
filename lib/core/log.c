#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SECRETS 16

static struct {
  enum h2k_log_level level;
  bool color;
  FILE *file;
  pthread_mutex_t lock;
  char *secrets[MAX_SECRETS];
  int n_secrets;
} g_log = {.level = H2K_LOG_INFO, .lock = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local char t_prefix[32];

int h2k_log_setup(enum h2k_log_level level, const char *log_file,
                  bool force_color) {
  g_log.level = level;
  const char *no_color = getenv("NO_COLOR");
  g_log.color = force_color || (isatty(STDERR_FILENO) && !no_color);
  if (g_log.file) {
    fclose(g_log.file);
    g_log.file = NULL;
  }
  if (log_file && *log_file) {
    g_log.file = fopen(log_file, "ae");
    if (!g_log.file)
      return -1;
  }
  return 0;
}

void h2k_log_shutdown(void) {
  if (g_log.file)
    fclose(g_log.file);
  g_log.file = NULL;
  for (int i = 0; i < g_log.n_secrets; i++)
    free(g_log.secrets[i]);
  g_log.n_secrets = 0;
}

enum h2k_log_level h2k_log_get_level(void) {
  return g_log.level;
}

void h2k_log_set_prefix(const char *prefix) {
  snprintf(t_prefix, sizeof t_prefix, "%s", prefix ? prefix : "");
}

void h2k_log_add_secret(const char *secret) {
  if (!secret || strlen(secret) < 3 || g_log.n_secrets >= MAX_SECRETS)
    return;
  pthread_mutex_lock(&g_log.lock);
  g_log.secrets[g_log.n_secrets++] = strdup(secret);
  pthread_mutex_unlock(&g_log.lock);
}

/* Replace every registered secret in `line` by "***" (in place). */
static void mask_secrets(char *line, size_t cap) {
  for (int i = 0; i < g_log.n_secrets; i++) {
    const char *s = g_log.secrets[i];
    size_t sl = strlen(s);
    char *hit;
    while ((hit = strstr(line, s))) {
      size_t tail = strlen(hit + sl);
      if ((size_t)(hit - line) + 3 + tail + 1 > cap)
        break;
      memmove(hit + 3, hit + sl, tail + 1);
      memcpy(hit, "***", 3);
    }
  }
}

static const char *level_name[] = {"error", "warning", "info", "debug",
                                   "trace"};
static const char *level_color[] = {"\033[1;31m", "\033[1;33m", "\033[0;32m",
                                    "\033[0;36m", "\033[0;90m"};

void h2k_log(enum h2k_log_level level, const char *fmt, ...) {
  if (level > g_log.level && !(g_log.file && level <= H2K_LOG_DEBUG))
    return;
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&g_log.lock);
  mask_secrets(line, sizeof line);
  const char *pre = t_prefix[0] ? t_prefix : NULL;
  if (level <= g_log.level) {
    if (g_log.color)
      fprintf(stderr, "%s%s\033[0m: %s%s%s%s\n", level_color[level],
              level_name[level], pre ? "[" : "", pre ? pre : "",
              pre ? "] " : "", line);
    else
      fprintf(stderr, "%s: %s%s%s%s\n", level_name[level], pre ? "[" : "",
              pre ? pre : "", pre ? "] " : "", line);
  }
  if (g_log.file) {
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(g_log.file, "%s %s: %s%s%s%s\n", ts, level_name[level],
            pre ? "[" : "", pre ? pre : "", pre ? "] " : "", line);
    fflush(g_log.file);
  }
  pthread_mutex_unlock(&g_log.lock);
}
