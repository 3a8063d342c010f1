/* VALIDATE: not implemented yet. The stage exists in the pipeline and says so
 * in the report, so users see exactly what was and was not done. */
#include <stdio.h>

#include "core/log.h"
#include "job/job.h"

int h2k_stage_validate(h2k_job *job, h2k_error *err) {
  (void)err;
  h2k_stage_result *r = &job->stages[H2K_STAGE_VALIDATE];
  r->status = H2K_ST_NOOP;
  snprintf(r->message, sizeof r->message,
           "boot validation is not implemented yet: the converted guest was "
           "not booted");
  return 0;
}
