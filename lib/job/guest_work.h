/* What INSPECT, PLAN and FIX share within one job: the guest session (NBD
 * exports, overlays, appliance), the identity, the plan and the changes. */
#ifndef H2K_JOB_GUEST_WORK_H
#define H2K_JOB_GUEST_WORK_H

#include <json-c/json.h>
#include <stdbool.h>

#include "core/util.h"
#include "fix/fix.h"
#include "guest/inspect.h"
#include "guest/session.h"
#include "inspect/identity.h"
#include "job/job.h"
#include "plan/plan.h"

/* identity + plan + changes, for resume */
#define H2K_GUEST_JSON "guest.json"

typedef struct h2k_guest_work {
  h2k_guest_session session;
  bool session_open;
  char *scratch_dir; /* dry run: overlays outside the job dir, removed */
  h2k_guest_identity id;
  h2k_guest_storage storage;
  bool inspected;
  double appliance_launch_s;
  h2k_plan plan;
  bool planned;
  h2k_changes changes;
  bool fixed;
  json_object *resumed; /* guest.json of the interrupted run */
} h2k_guest_work;

/* The job's guest work, created on first use (NULL on OOM). */
h2k_guest_work *h2k_guest_work_get(h2k_job *job);
/* Close the session (if open) and free everything. */
void h2k_guest_work_free(h2k_job *job);

/* JSON views for reports and metadata.json. */
json_object *h2k_identity_json(const h2k_guest_identity *id);
json_object *h2k_plan_json(const h2k_plan *plan);
json_object *h2k_changes_json(const h2k_changes *c);
/* { "identity", "plan", "changes" } of this run, or of the interrupted run
 * when resumed; NULL when the guest was not inspected. New reference. */
json_object *h2k_guest_json(const h2k_job *job);
/* Markdown sections for report.md. */
void h2k_guest_markdown(const h2k_job *job, h2k_buf *md);

#endif
