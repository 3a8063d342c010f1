/* The option table (options.def) as data. */
#ifndef H2K_CONFIG_OPTIONS_H
#define H2K_CONFIG_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

enum h2k_opt_type {
  T_BOOL,
  T_INT,
  T_STRING,
  T_PATH,
  T_ENUM,
  T_SIZE,
  T_DURATION,
  T_LIST, /* repeatable string */
  T_ANY,  /* reserved keys: any YAML node */
};

enum h2k_opt_group {
  G_GLOBAL,
  G_JOB,
  G_INPUT,
  G_CONVERT,
  G_FIX,
  G_OUTPUT,
  G_CLEANUP,
  G_RESERVED,
  G_COUNT_,
};

enum h2k_opt_flags {
  OPT_CLI_ONLY = 1 << 0,        /* not a YAML key */
  OPT_NOENV = 1 << 1,           /* no HYPER2KVM_* variable */
  OPT_SECRET = 1 << 2,          /* masked as *** everywhere */
  OPT_RESERVED = 1 << 3,        /* accepted, warned about, ignored */
  OPT_INPUT = 1 << 4,           /* an input path of a command */
  OPT_COUNT = 1 << 5,           /* -v -vv: each use adds one */
  OPT_ALIAS = 1 << 6,           /* an older name of another option */
  OPT_DYNAMIC_DEFAULT = 1 << 7, /* default computed at run time */
};

enum h2k_opt_id {
#define X(ID, key, cli, sh, type, group, def, flags, choices, metavar, help)   \
  H2K_OPT_##ID,
#include "config/options.def"
#undef X
  H2K_OPT_COUNT_
};

typedef struct h2k_option_def {
  enum h2k_opt_id id;
  const char *key; /* YAML key */
  const char *cli; /* long flag without "--", or NULL */
  char short_flag; /* or 0 */
  enum h2k_opt_type type;
  enum h2k_opt_group group;
  const char *def; /* default as text, or NULL */
  unsigned flags;
  const char *choices; /* "a|b" for enums, "lo..hi" for ints, or NULL */
  const char *metavar;
  const char *help;
} h2k_option_def;

extern const h2k_option_def h2k_options[H2K_OPT_COUNT_];

const h2k_option_def *h2k_option_by_key(const char *key);
const h2k_option_def *h2k_option_by_cli(const char *flag);
const h2k_option_def *h2k_option_by_short(char c);
/* "HYPER2KVM_OUTPUT_DIR" into buf; empty string for OPT_NOENV. */
const char *h2k_option_env_name(const h2k_option_def *o, char *buf, size_t cap);
const char *h2k_option_group_title(enum h2k_opt_group g);
const char *h2k_option_type_name(enum h2k_opt_type t);

/* Does the option change what a job produces? (inputs, conversion, fixes,
 * outputs, the VM name.) Checkpoints compare these on --resume. */
bool h2k_option_shapes_output(const h2k_option_def *o);

/* Key aliases accepted in YAML: "command" → "cmd". NULL if none. */
const char *h2k_option_key_alias(const char *key);

/* Closest candidate to `word` among `n` strings within a small edit
 * distance, or NULL. */
const char *h2k_suggest(const char *word, const char *const *cands, size_t n);
/* Closest YAML key / CLI flag of the table, or NULL. */
const char *h2k_suggest_key(const char *word);
const char *h2k_suggest_cli(const char *flag);
size_t h2k_edit_distance(const char *a, const char *b);

#endif
