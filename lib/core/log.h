/* Logging: levels, colour only on a TTY, per-stage prefixes, optional log
 * file. Messages go to stderr (stdout is reserved for results and --json). */
#ifndef H2K_CORE_LOG_H
#define H2K_CORE_LOG_H

#include <stdbool.h>

enum h2k_log_level {
  H2K_LOG_ERROR = 0,
  H2K_LOG_WARN = 1,
  H2K_LOG_INFO = 2,
  H2K_LOG_DEBUG = 3,
  H2K_LOG_TRACE = 4,
};

/* Configure the process-wide logger. `log_file` may be NULL. */
int h2k_log_setup(enum h2k_log_level level, const char *log_file,
                  bool force_color);
void h2k_log_shutdown(void);
enum h2k_log_level h2k_log_get_level(void);

/* Per-thread prefix, e.g. the stage name ("convert"). NULL clears it. */
void h2k_log_set_prefix(const char *prefix);

void h2k_log(enum h2k_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define h2k_error_log(...) h2k_log(H2K_LOG_ERROR, __VA_ARGS__)
#define h2k_warn(...) h2k_log(H2K_LOG_WARN, __VA_ARGS__)
#define h2k_info(...) h2k_log(H2K_LOG_INFO, __VA_ARGS__)
#define h2k_debug(...) h2k_log(H2K_LOG_DEBUG, __VA_ARGS__)
#define h2k_trace(...) h2k_log(H2K_LOG_TRACE, __VA_ARGS__)

/* Secrets registered here are replaced by "***" in every logged line. */
void h2k_log_add_secret(const char *secret);

#endif
