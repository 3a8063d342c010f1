/* Effective configuration: one value per option of the table, each with the
 * source it came from. Precedence: CLI > YAML > env > default; among YAML
 * files, later files override earlier ones. */
#ifndef H2K_CONFIG_CONFIG_H
#define H2K_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config/options.h"
#include "core/error.h"

enum h2k_source {
  H2K_SRC_DEFAULT = 0,
  H2K_SRC_ENV = 1,
  H2K_SRC_FILE = 2,
  H2K_SRC_CLI = 3,
};

typedef struct h2k_value {
  enum h2k_source source;
  char *file; /* for H2K_SRC_FILE */
  int line;   /* 1-based, for H2K_SRC_FILE */
  char *text; /* the value as given (NULL if unset) */
  bool b;
  long long i;
  uint64_t u;  /* sizes and durations */
  char **list; /* T_LIST */
  size_t n_list;
  char *via_key; /* set when given under an alias key ("workdir") */
} h2k_value;

typedef struct h2k_config {
  h2k_value v[H2K_OPT_COUNT_];
  char **positional;
  size_t n_positional;
  char **warnings; /* collected while loading (reserved keys, aliases) */
  size_t n_warnings;
} h2k_config;

h2k_config *h2k_config_new(void);
void h2k_config_free(h2k_config *cfg);

/* Parse `text` for option `o` and store it with the given source, if the
 * source does not rank below what is already set. `where` names the place
 * for errors ("file.yaml:3:12", "HYPER2KVM_X", "--flag"). */
int h2k_config_set(h2k_config *cfg, const h2k_option_def *o, const char *text,
                   enum h2k_source src, const char *file, int line,
                   const char *where, h2k_error *err);
/* Append to a T_LIST option (replaces values from lower sources). */
int h2k_config_list_add(h2k_config *cfg, const h2k_option_def *o,
                        const char *text, enum h2k_source src, const char *file,
                        int line);

/* Read HYPER2KVM_* variables from the environment. */
int h2k_config_load_env(h2k_config *cfg, h2k_error *err);

/* Load one YAML file (yaml_load.c). Unknown keys, type errors and
 * duplicates are errors naming file:line(:column). */
int h2k_config_load_yaml(h2k_config *cfg, const char *path, h2k_error *err);
int h2k_config_load_yaml_string(h2k_config *cfg, const char *text,
                                const char *name, h2k_error *err);

void h2k_config_warn(h2k_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Accessors (the option must be of a matching type). */
bool h2k_cfg_bool(const h2k_config *cfg, enum h2k_opt_id id);
long long h2k_cfg_int(const h2k_config *cfg, enum h2k_opt_id id);
uint64_t h2k_cfg_u64(const h2k_config *cfg, enum h2k_opt_id id);
const char *h2k_cfg_str(const h2k_config *cfg, enum h2k_opt_id id);
bool h2k_cfg_is_set(const h2k_config *cfg, enum h2k_opt_id id);
enum h2k_source h2k_cfg_source(const h2k_config *cfg, enum h2k_opt_id id);

/* "default", "env:HYPER2KVM_X", "file:path:line", "cli". */
const char *h2k_cfg_source_text(const h2k_config *cfg, enum h2k_opt_id id,
                                char *buf, size_t cap);

/* The conversion directory after precedence, aliases and defaults
 * ($XDG_CACHE_HOME, ~/.cache): malloc'ed. */
char *h2k_cfg_conversion_dir(const h2k_config *cfg);

/* Print the merged configuration with sources; secrets as ***. */
void h2k_config_dump(const h2k_config *cfg, FILE *out, bool json);

#endif
