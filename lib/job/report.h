/* report.json, report.md and metadata.json of a job. */
#ifndef H2K_JOB_REPORT_H
#define H2K_JOB_REPORT_H

#include "job/job.h"

/* Write report.json and report.md into job->out_dir (also for failures). */
int h2k_report_write(h2k_job *job, const h2k_error *failure, h2k_error *err);
/* Write metadata.json into job->out_dir (successful jobs). */
int h2k_metadata_write(h2k_job *job, h2k_error *err);
/* The plan printed by --dry-run. */
void h2k_report_print_plan(const h2k_job *job);

#endif
