/* The checkpoint file in a job directory: completed stages, artifacts with
 * fingerprints, input fingerprints, options hash, tool version, times.
 * Written atomically (temp + fsync + rename) after every stage. */
#ifndef H2K_JOB_CHECKPOINT_H
#define H2K_JOB_CHECKPOINT_H

#include "job/job.h"

#define H2K_CHECKPOINT_FILE "checkpoint.json"

int h2k_checkpoint_write(h2k_job *job, enum h2k_stage_id current,
                         h2k_error *err);

/* Load the checkpoint of job->job_dir into the job, if there is one.
 * Returns 1 when loaded and resumable, 0 when there is none, -1 on error
 * (H2K_E_RESUME with an explanation when inputs or options changed). */
int h2k_checkpoint_load(h2k_job *job, h2k_error *err);

#endif
