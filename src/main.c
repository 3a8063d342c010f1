/* hyper2kvm / h2kvmctl: command-line entry point. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/log.h"
#include "job/events.h"

static atomic_bool *volatile g_cancel_target;

void h2k_cli_set_cancel_target(atomic_bool *flag) {
  g_cancel_target = flag;
}

static void on_signal(int sig) {
  atomic_bool *t = g_cancel_target;
  if (t && !atomic_load(t)) {
    atomic_store(t, true); /* first signal: stop cleanly */
    return;
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

int h2k_cli_fail(const h2k_error *err) {
  h2k_log_set_prefix(NULL);
  h2k_error_log("%s", h2k_error_text(err));
  return err->code ? err->code : 1;
}

static int load_layers(h2k_config *cfg, h2k_error *err) {
  if (h2k_config_load_env(cfg, err) < 0)
    return -1;
  const h2k_value *files = &cfg->v[H2K_OPT_CONFIG];
  for (size_t i = 0; i < files->n_list; i++)
    if (h2k_config_load_yaml(cfg, files->list[i], err) < 0)
      return -1;
  return 0;
}

static void setup_logging(const h2k_config *cfg) {
  long long v = h2k_cfg_int(cfg, H2K_OPT_VERBOSE);
  enum h2k_log_level level = H2K_LOG_INFO + (int)(v > 2 ? 2 : v);
  if (h2k_cfg_bool(cfg, H2K_OPT_QUIET))
    level = H2K_LOG_ERROR;
  const char *lf = h2k_cfg_str(cfg, H2K_OPT_LOG_FILE);
  if (h2k_log_setup(level, lf, false) < 0)
    fprintf(stderr, "warning: cannot open log file '%s'\n", lf);
  h2k_log_add_secret(h2k_cfg_str(cfg, H2K_OPT_VC_PASSWORD));
}

int main(int argc, char **argv) {
  h2k_config *cfg = h2k_config_new();
  if (!cfg)
    return 1;
  h2k_error err = {0};
  const char *name = NULL;
  bool want_help = false;
  int rc = 0;
  if (h2k_cli_parse(cfg, argc, argv, &name, &want_help, &err) < 0) {
    rc = h2k_cli_fail(&err);
    goto out;
  }
  if (want_help) {
    h2k_help_print(stdout, name ? h2k_command_find(name) : NULL);
    goto out;
  }
  if (load_layers(cfg, &err) < 0) {
    rc = h2k_cli_fail(&err);
    goto out;
  }
  setup_logging(cfg);
  for (size_t i = 0; i < cfg->n_warnings; i++)
    h2k_warn("%s", cfg->warnings[i]);
  if (!name)
    name = h2k_cfg_str(cfg, H2K_OPT_CMD);
  const h2k_command *cmd = name ? h2k_command_find(name) : NULL;
  if (cmd && h2k_cli_finish(cfg, cmd, &err) < 0) {
    rc = h2k_cli_fail(&err);
    goto out;
  }
  if (h2k_cfg_bool(cfg, H2K_OPT_DUMP_CONFIG)) {
    h2k_config_dump(cfg, stdout, h2k_cfg_bool(cfg, H2K_OPT_JSON));
    goto out;
  }
  if (!cmd) {
    h2k_err_set(&err, H2K_E_USAGE, "no command given");
    h2k_err_hint(&err, "name one (hyper2kvm local DISK) or set 'cmd:' in a "
                       "YAML file; see 'hyper2kvm --help'");
    rc = h2k_cli_fail(&err);
    goto out;
  }
  h2k_events_setup(h2k_cfg_bool(cfg, H2K_OPT_JSON),
                   h2k_cfg_bool(cfg, H2K_OPT_PROGRESS),
                   h2k_cfg_bool(cfg, H2K_OPT_QUIET));
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  rc = cmd->run(cfg, cmd);
out:
  h2k_config_free(cfg);
  h2k_log_shutdown();
  return rc;
}
