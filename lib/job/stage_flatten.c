/* FLATTEN: snapshot chains are collapsed while CONVERT copies them, in one
 * pass, so this stage only reports what will be flattened. */
#include <stdio.h>

#include "core/log.h"
#include "job/job.h"

int h2k_stage_flatten(h2k_job *job, h2k_error *err) {
  (void)err;
  size_t layered = 0;
  for (size_t i = 0; i < job->n_disks; i++)
    if (job->disks[i].chain_depth > 1) {
      layered++;
      h2k_info("disk %zu: %zu-layer chain, flattened while converting", i,
               job->disks[i].chain_depth);
    }
  h2k_stage_result *r = &job->stages[H2K_STAGE_FLATTEN];
  if (!layered) {
    r->status = H2K_ST_SKIPPED;
    snprintf(r->message, sizeof r->message,
             "no snapshot chains: nothing to flatten");
  } else {
    snprintf(r->message, sizeof r->message,
             "%zu chain(s) flattened in one pass during CONVERT (no "
             "intermediate file)",
             layered);
  }
  return 0;
}
