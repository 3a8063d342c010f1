/* Command-line front end: commands, argv parsing driven by the option table,
 * and --help / man page generation from that same table. */
#ifndef H2K_SRC_CLI_H
#define H2K_SRC_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"

typedef struct h2k_command {
  const char *name;
  const char *args;    /* synopsis of positional arguments */
  const char *summary; /* one line */
  int min_pos, max_pos;
  int (*run)(h2k_config *cfg, const struct h2k_command *cmd);
  bool implemented;
} h2k_command;

extern const h2k_command h2k_commands[];
extern const size_t h2k_n_commands;
const h2k_command *h2k_command_find(const char *name);

/* Parse argv into cfg (CLI layer) and pick the command name (may stay NULL
 * when only YAML will name it). Sets *want_help. */
int h2k_cli_parse(h2k_config *cfg, int argc, char **argv, const char **command,
                  bool *want_help, h2k_error *err);

/* Load env and YAML layers, then validate the positional arguments of
 * `cmd` and map them onto options. */
int h2k_cli_finish(h2k_config *cfg, const h2k_command *cmd, h2k_error *err);

void h2k_help_print(FILE *out, const h2k_command *cmd);
void h2k_man_print(FILE *out);

/* Exit statuses, documented in --help and the man page. */
typedef struct h2k_exit_doc {
  int code;
  const char *meaning;
} h2k_exit_doc;
extern const h2k_exit_doc h2k_exit_docs[];
extern const size_t h2k_n_exit_docs;

/* Commands. */
int h2k_cmd_job(h2k_config *cfg, const h2k_command *cmd);
int h2k_cmd_inspect(h2k_config *cfg, const h2k_command *cmd);
int h2k_cmd_convert(h2k_config *cfg, const h2k_command *cmd);
int h2k_cmd_info(h2k_config *cfg, const h2k_command *cmd);
int h2k_cmd_cleanup(h2k_config *cfg, const h2k_command *cmd);
int h2k_cmd_version(h2k_config *cfg, const h2k_command *cmd);
int h2k_cmd_not_implemented(h2k_config *cfg, const h2k_command *cmd);

/* Print an error the same way everywhere and return its exit status. */
int h2k_cli_fail(const h2k_error *err);

/* Set by main: the cancel flag SIGINT/SIGTERM should raise, if any. */
#include <stdatomic.h>
void h2k_cli_set_cancel_target(atomic_bool *flag);

#endif
