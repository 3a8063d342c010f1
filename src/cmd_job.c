/* The conversion commands (local, ova, ovf, vmx, vhd, raw, ami) and
 * inspect: run the pipeline on one VM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/log.h"
#include "core/util.h"
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

int h2k_cmd_inspect(h2k_config *cfg, const h2k_command *cmd) {
  (void)cmd;
  h2k_error err = {0};
  const char *in = h2k_cfg_str(cfg, H2K_OPT_VMDK);
  if (!in) {
    h2k_err_set(&err, H2K_E_USAGE,
                "'inspect' needs a disk: hyper2kvm "
                "inspect DISK");
    return h2k_cli_fail(&err);
  }
  h2k_image *img = h2k_image_open(in, NULL, &err);
  if (!img)
    return h2k_cli_fail(&err);
  printf("disk: %s\nformat: %s\nvirtual size: %llu\n", in,
         h2k_image_format(img),
         (unsigned long long)h2k_image_virtual_size(img));
  h2k_image_close(img);
  h2k_err_set(&err, H2K_E_NOTIMPL,
              "guest inspection (OS, bootloader, network configuration) is "
              "not implemented yet; only the disk facts above are known");
  return h2k_cli_fail(&err);
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
