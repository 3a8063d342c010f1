/* The seven stages as explicit objects, run in a fixed order. */
#ifndef H2K_JOB_PIPELINE_H
#define H2K_JOB_PIPELINE_H

#include "job/job.h"

typedef struct h2k_stage {
  enum h2k_stage_id id;
  const char *inputs;  /* what the stage consumes */
  const char *outputs; /* what it produces */
  int (*run)(h2k_job *job, h2k_error *err);
  bool in_dry_run; /* FETCH..PLAN run in --dry-run */
} h2k_stage;

/* The pipeline, in its only order. */
extern const h2k_stage h2k_pipeline[H2K_STAGE_COUNT_];

#endif
