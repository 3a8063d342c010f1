/* What the user sees while a job runs: stage lines and progress on stderr,
 * or JSON events (one object per line) on stdout with --json. */
#ifndef H2K_JOB_EVENTS_H
#define H2K_JOB_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "job/job.h"

void h2k_events_setup(bool json, bool progress, bool quiet);
bool h2k_events_json(void);

void h2k_event_job_start(const h2k_job *job);
void h2k_event_stage_start(const h2k_job *job, enum h2k_stage_id st);
void h2k_event_stage_end(const h2k_job *job, enum h2k_stage_id st);
/* Progress of one disk in a stage; rate-limited, bar on a TTY. */
void h2k_event_progress(const char *stage, size_t disk, uint64_t done,
                        uint64_t total);
/* Final result object (always printed with --json). */
void h2k_event_result(const h2k_job *job, const h2k_error *err);
/* A free-form JSON event: {"event": name, ...fields_json}. */
void h2k_event_raw(const char *name, const char *fields_json);

#endif
