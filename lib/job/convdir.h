/* The conversion directory (seed 000): where each job keeps its temporary
 * files, one subdirectory per job. */
#ifndef H2K_JOB_CONVDIR_H
#define H2K_JOB_CONVDIR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

/* Create `dir` (mode 0700, parents as needed) or check that an existing one
 * is safe: a directory, owned by us, not group- or world-writable. */
int h2k_convdir_prepare(const char *dir, h2k_error *err);

/* Check only (no creation): used by --dry-run. A missing directory is fine
 * when its nearest existing parent is writable. */
int h2k_convdir_check(const char *dir, h2k_error *err);

/* A job directory: <dir>/<vm-name>.<key12>, created 0700 and locked with
 * flock on <jobdir>/lock so cleanup and a second run leave it alone.
 * Returns the lock fd (>= 0). */
int h2k_jobdir_open(const char *jobdir, h2k_error *err);
void h2k_jobdir_close(int lock_fd);

/* Remove job directories under `dir` not modified for `older_than`
 * seconds and not locked by a running job. Only directories carrying the
 * job marker file are touched. Counts what was removed and kept. */
int h2k_convdir_cleanup(const char *dir, uint64_t older_than, bool dry_run,
                        int *removed, int *kept, h2k_error *err);

/* Marker file that identifies a job directory. */
#define H2K_JOB_MARKER ".hyper2kvm-job"

#endif
