/* convert and info: the image engine on its own, in qemu-img's spirit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/util.h"
#include "image/convert.h"
#include "image/imginfo.h"
#include "job/events.h"
#include "job/job.h"

static atomic_bool g_cancel;

static void on_progress(uint64_t done, uint64_t total, void *opaque) {
  (void)opaque;
  h2k_event_progress("convert", 0, done, total);
}

static void convert_opts_from(const h2k_config *cfg, h2k_convert_opts *o) {
  h2k_convert_opts_from_config(cfg, (int)h2k_cfg_int(cfg, H2K_OPT_WORKERS), o);
  o->progress = on_progress;
  o->cancel = &g_cancel;
}

int h2k_cmd_convert(h2k_config *cfg, const h2k_command *cmd) {
  (void)cmd;
  h2k_error err = {0};
  const char *in = cfg->positional[0], *out = cfg->positional[1];
  h2k_convert_opts o;
  convert_opts_from(cfg, &o);
  if (o.compress && o.out_format == H2K_OUT_RAW) {
    h2k_err_set(&err, H2K_E_USAGE, "--compress needs qcow2 output, not raw");
    return h2k_cli_fail(&err);
  }
  h2k_image *img = h2k_image_open(in, NULL, &err);
  if (!img)
    return h2k_cli_fail(&err);
  char *abs_out = h2k_path_absolute(out);
  char *tmp = h2k_strdup_printf("%s.partial", abs_out);
  unlink(tmp);
  h2k_cli_set_cancel_target(&g_cancel);
  h2k_convert_result res;
  memset(&res, 0, sizeof res);
  int rc = h2k_convert(img, tmp, &o, &res, &err);
  h2k_cli_set_cancel_target(NULL);
  h2k_image_close(img);
  if (rc == 0 && rename(tmp, abs_out) < 0) {
    h2k_err_errno(&err, H2K_E_IO, errno, "cannot rename '%s' to '%s'", tmp,
                  abs_out);
    unlink(tmp);
    rc = -1;
  }
  free(tmp);
  if (rc < 0) {
    free(abs_out);
    return h2k_cli_fail(&err);
  }
  if (h2k_cfg_bool(cfg, H2K_OPT_JSON))
    printf("{\"event\":\"result\",\"status\":\"ok\",\"output\":\"%s\","
           "\"virtual_size\":%llu,\"bytes_written\":%llu%s%s%s}\n",
           abs_out, (unsigned long long)res.virtual_size,
           (unsigned long long)res.bytes_written,
           o.want_sha256 ? ",\"sha256\":\"" : "",
           o.want_sha256 ? res.sha256 : "", o.want_sha256 ? "\"" : "");
  else if (o.want_sha256)
    printf("%s  %s\n", res.sha256, out);
  free(abs_out);
  return 0;
}

int h2k_cmd_info(h2k_config *cfg, const h2k_command *cmd) {
  (void)cmd;
  h2k_error err = {0};
  h2k_image *img = h2k_image_open(cfg->positional[0], NULL, &err);
  if (!img)
    return h2k_cli_fail(&err);
  int rc =
      h2k_image_info_print(img, stdout, h2k_cfg_bool(cfg, H2K_OPT_JSON), &err);
  h2k_image_close(img);
  return rc < 0 ? h2k_cli_fail(&err) : 0;
}
