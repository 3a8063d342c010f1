/* cleanup: remove stale job directories (what a systemd timer runs). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "core/log.h"
#include "job/convdir.h"

int h2k_cmd_cleanup(h2k_config *cfg, const h2k_command *cmd) {
  (void)cmd;
  h2k_error err = {0};
  char *dir = h2k_cfg_conversion_dir(cfg);
  if (h2k_convdir_check(dir, &err) < 0) {
    free(dir);
    return h2k_cli_fail(&err);
  }
  int removed = 0, kept = 0;
  bool dry = h2k_cfg_bool(cfg, H2K_OPT_DRY_RUN);
  int rc = h2k_convdir_cleanup(dir, h2k_cfg_u64(cfg, H2K_OPT_OLDER_THAN), dry,
                               &removed, &kept, &err);
  if (h2k_cfg_bool(cfg, H2K_OPT_JSON))
    printf("{\"event\":\"result\",\"status\":\"%s\",\"conversion_dir\":\"%s\","
           "\"removed\":%d,\"kept\":%d,\"dry_run\":%s}\n",
           rc < 0 ? "failed" : "ok", dir, removed, kept,
           dry ? "true" : "false");
  else
    h2k_info("%s: %s %d stale job director%s, kept %d", dir,
             dry ? "would remove" : "removed", removed,
             removed == 1 ? "y" : "ies", kept);
  free(dir);
  return rc < 0 ? h2k_cli_fail(&err) : 0;
}
