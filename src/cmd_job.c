/* The conversion commands (local, ova, ovf, vmx, vhd, raw, ami) and
 * inspect: run the pipeline on one VM. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/log.h"
#include "core/util.h"
#include "config/options.h"
#include "job/events.h"
#include "job/guest_work.h"
#include "job/job.h"

int h2k_cmd_job(h2k_config *cfg, const h2k_command *cmd) {
  h2k_error err = {0};
  h2k_job *job = h2k_job_new(cfg, cmd->name, &err);
  if (!job)
    return h2k_cli_fail(&err);
  h2k_cli_set_cancel_target(&job->cancel);
  int rc = h2k_job_run(job, &err);
  h2k_cli_set_cancel_target(NULL);
  if (rc < 0) {
    int code = h2k_cli_fail(&err);
    h2k_job_free(job);
    return code;
  }
  if (!job->json && !job->dry_run) {
    for (size_t i = 0; i < job->n_disks; i++)
      printf("%s\n", job->disks[i].out_final);
  }
  h2k_job_free(job);
  return 0;
}

/* Print what INSPECT found and what PLAN would do. */
static void print_inspection(const h2k_job *job, bool json) {
  json_object *g = h2k_guest_json(job);
  if (json) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "vm_name", json_object_new_string(job->vm_name));
    json_object_object_add(o, "input", json_object_new_string(job->input));
    json_object_object_add(o, "guest", g);
    printf("%s\n",
           json_object_to_json_string_ext(
               o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return;
  }
  h2k_buf md = {0};
  h2k_guest_markdown(job, &md);
  printf("%s: %s%s", job->vm_name, job->input, md.data ? md.data : "\n");
  h2k_buf_free(&md);
  json_object_put(g);
}

/* inspect SOURCE: FETCH, FLATTEN, INSPECT and PLAN on any input the
 * conversion commands take (chosen by its extension); nothing written. */
int h2k_cmd_inspect(h2k_config *cfg, const h2k_command *cmd) {
  (void)cmd;
  h2k_error err = {0};
  if (!h2k_cfg_str(cfg, H2K_OPT_VMDK)) {
    h2k_err_set(&err, H2K_E_USAGE,
                "'inspect' needs a source: hyper2kvm inspect "
                "DISK|VMX|OVA|OVF [--json]");
    return h2k_cli_fail(&err);
  }
  /* a copy: setting the input option below may free the original */
  char in[4096];
  snprintf(in, sizeof in, "%s", h2k_cfg_str(cfg, H2K_OPT_VMDK));
  const char *command = h2k_command_for_file(in);
  if (!command)
    command = "local";
  enum h2k_opt_id opt = h2k_input_option(command);
  bool json = h2k_cfg_bool(cfg, H2K_OPT_JSON);
  if (h2k_config_set(cfg, &h2k_options[opt], in, H2K_SRC_CLI, NULL, 0, "SOURCE",
                     &err) < 0 ||
      h2k_config_set(cfg, &h2k_options[H2K_OPT_DRY_RUN], "true", H2K_SRC_CLI,
                     NULL, 0, "inspect", &err) < 0 ||
      h2k_config_set(cfg, &h2k_options[H2K_OPT_INSPECT], "true", H2K_SRC_CLI,
                     NULL, 0, "inspect", &err) < 0)
    return h2k_cli_fail(&err);
  h2k_events_setup(false, h2k_cfg_bool(cfg, H2K_OPT_PROGRESS) && !json,
                   h2k_cfg_bool(cfg, H2K_OPT_QUIET) || json);
  h2k_job *job = h2k_job_new(cfg, command, &err);
  if (!job)
    return h2k_cli_fail(&err);
  job->inspect_only = true;
  h2k_cli_set_cancel_target(&job->cancel);
  int rc = h2k_job_run(job, &err);
  h2k_cli_set_cancel_target(NULL);
  if (rc == 0)
    print_inspection(job, json);
  h2k_job_free(job);
  return rc < 0 ? h2k_cli_fail(&err) : 0;
}

int h2k_cmd_not_implemented(h2k_config *cfg, const h2k_command *cmd) {
  (void)cfg;
  h2k_error err = {0};
  h2k_err_set(&err, H2K_E_NOTIMPL,
              "the '%s' command is not implemented yet in hyper2kvm %s",
              cmd->name, H2K_VERSION_STRING);
  h2k_err_hint(&err, "convert exported disks or OVAs with 'hyper2kvm local' "
                     "and the other conversion commands");
  return h2k_cli_fail(&err);
}

int h2k_cmd_version(h2k_config *cfg, const h2k_command *cmd) {
  (void)cmd;
  if (h2k_cfg_bool(cfg, H2K_OPT_JSON))
    printf("{\"name\":\"hyper2kvm\",\"version\":\"%s\"}\n", H2K_VERSION_STRING);
  else
    printf("hyper2kvm %s\n", H2K_VERSION_STRING);
  return 0;
}
