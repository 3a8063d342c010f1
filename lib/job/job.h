/* A conversion job: one VM through the seven-stage pipeline. */
#ifndef H2K_JOB_JOB_H
#define H2K_JOB_JOB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/error.h"
#include "core/hash.h"
#include "image/convert.h"
#include "image/image.h"
#include "validate/validate.h"
#include "vm/vm.h"

enum h2k_stage_id {
  H2K_STAGE_FETCH = 0,
  H2K_STAGE_FLATTEN,
  H2K_STAGE_INSPECT,
  H2K_STAGE_PLAN,
  H2K_STAGE_FIX,
  H2K_STAGE_CONVERT,
  H2K_STAGE_VALIDATE,
  H2K_STAGE_COUNT_
};

enum h2k_stage_status {
  H2K_ST_PENDING = 0,
  H2K_ST_OK,      /* ran and succeeded */
  H2K_ST_SKIPPED, /* not needed for this job (e.g. --dry-run) */
  H2K_ST_NOOP,    /* not implemented yet: nothing done, said so */
  H2K_ST_RESUMED, /* done in an earlier run (checkpoint) */
  H2K_ST_FAILED,
};

typedef struct h2k_stage_result {
  enum h2k_stage_status status;
  char started[32]; /* ISO 8601 */
  double duration_s;
  char message[512];
} h2k_stage_result;

/* One disk of the VM as it moves through the stages. */
typedef struct h2k_disk_job {
  size_t index;
  const h2k_vm_disk *src; /* from the VM model */
  h2k_image *image;       /* the source chain, opened read-only */
  char *format;           /* detected format of the top image */
  uint64_t virtual_size;
  uint64_t allocated; /* bytes allocated across the chain */
  size_t chain_depth;
  char *out_name;    /* "vm.qcow2" or "vm-disk1.qcow2" */
  char *out_partial; /* ".vm.qcow2.partial" path while incomplete */
  char *out_final;   /* final path */
  uint64_t out_bytes;
  char sha256[65];
  double convert_s;
  char *overlay; /* FIX's qcow2 overlay over `image`, or NULL */
} h2k_disk_job;

typedef struct h2k_artifact {
  char *stage;
  char *name;
  char *path;
  h2k_fingerprint fp;
  char sha256[65]; /* when computed */
} h2k_artifact;

typedef struct h2k_job {
  h2k_config *cfg;
  const char *command; /* "local", "ova", ... */
  char *input;         /* absolute path of the main input */
  char *vm_name;
  h2k_vm *vm;
  h2k_disk_job *disks;
  size_t n_disks;

  char *conv_root; /* the conversion directory */
  char *job_dir;   /* conv_root/<vm>.<key> */
  int lock_fd;
  char *out_dir; /* output_dir/<vm> */
  char job_key[65];
  char options_hash[65];

  bool dry_run, json, resume;
  bool inspect_only; /* the inspect command: no plan print, no outputs */
  h2k_stage_result stages[H2K_STAGE_COUNT_];
  bool stage_done_before[H2K_STAGE_COUNT_]; /* from the checkpoint */

  h2k_fingerprint *input_fps; /* fingerprints of every input file */
  char **input_files;
  size_t n_inputs;

  h2k_artifact *artifacts;
  size_t n_artifacts;

  char **warnings;
  size_t n_warnings;
  char created[32];
  double t_start;
  atomic_bool cancel;
  int workers;
  struct h2k_guest_work *guest; /* INSPECT/PLAN/FIX state (job/guest_work.h) */
  h2k_validate_result validation; /* VALIDATE verdict (lib/validate) */
} h2k_job;

const char *h2k_stage_name(enum h2k_stage_id id);
const char *h2k_stage_status_name(enum h2k_stage_status st);

/* The option that holds the input of a conversion command ("local" ->
 * vmdk, "ova" -> ova, ...), or H2K_OPT_COUNT_. */
enum h2k_opt_id h2k_input_option(const char *command);

/* Output format, compression, level and checksum from the configuration
 * (threads: 0 = one per CPU). Compression only applies to qcow2. */
void h2k_convert_opts_from_config(const h2k_config *cfg, int threads,
                                  h2k_convert_opts *o);

h2k_job *h2k_job_new(h2k_config *cfg, const char *command, h2k_error *err);
void h2k_job_free(h2k_job *job);

/* Run the pipeline. Returns 0 or -1 with err set (err->code is the exit
 * class). */
int h2k_job_run(h2k_job *job, h2k_error *err);

void h2k_job_warn(h2k_job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Record an artifact (fingerprinted now) for the checkpoint. */
int h2k_job_add_artifact(h2k_job *job, const char *stage, const char *name,
                         const char *path, h2k_error *err);
/* Append an artifact with a known fingerprint (thread-safe); NULL on OOM. */
h2k_artifact *h2k_job_push_artifact(h2k_job *job, const char *stage,
                                    const char *name, const char *path,
                                    const h2k_fingerprint *fp);
const h2k_artifact *h2k_job_find_artifact(const h2k_job *job, const char *stage,
                                          const char *name);
/* Is `path` inside the job's own directory (an unpacked temporary)? */
bool h2k_is_job_file(const h2k_job *job, const char *path);
/* Add a file to the job's input fingerprints (resume refuses if it changes). */
int h2k_job_add_input(h2k_job *job, const char *path, h2k_error *err);

/* Run fn(job, disk) for every disk, in parallel when allowed. */
int h2k_job_for_each_disk(h2k_job *job,
                          int (*fn)(h2k_job *, h2k_disk_job *, h2k_error *),
                          h2k_error *err);

/* Stages (one file each). */
int h2k_stage_fetch(h2k_job *job, h2k_error *err);
int h2k_stage_flatten(h2k_job *job, h2k_error *err);
int h2k_stage_inspect(h2k_job *job, h2k_error *err);
int h2k_stage_plan(h2k_job *job, h2k_error *err);
int h2k_stage_fix(h2k_job *job, h2k_error *err);
int h2k_stage_convert(h2k_job *job, h2k_error *err);
int h2k_stage_validate(h2k_job *job, h2k_error *err);

/* The command for an input file by its extension (seed 002's daemon
 * table: .vmdk local, .ova ova, .ovf ovf, .vhd/.vhdx vhd, .raw/.img raw,
 * .ami ami; also .vmx and .qcow2), or NULL. */
const char *h2k_command_for_file(const char *path);

/* A VM name made safe to use as a file name (malloc'ed). */
char *h2k_safe_name(const char *name);

/* Write domain.xml (emit_domain_xml) and define it (libvirt_import). */
int h2k_job_write_domain(h2k_job *job, h2k_error *err);

/* Free-space check run at the end of FETCH (before any heavy work). */
int h2k_job_check_space(h2k_job *job, h2k_error *err);

#endif
