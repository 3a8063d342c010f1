/* Running helper programs (qemu-img, ...) without a shell. */
#ifndef H2K_CORE_PROC_H
#define H2K_CORE_PROC_H

#include "core/error.h"

/* Run argv[0] (looked up in PATH) with argv, stdin from /dev/null, stdout
 * and stderr captured together. Returns 0 when it exits with status 0;
 * else -1 with `err` naming the program, its status and the end of its
 * output. `output` (may be NULL) receives the malloc'ed output either way. */
int h2k_proc_run(const char *const *argv, char **output, h2k_error *err);

/* The full path of `prog` found in PATH (malloc'ed), or NULL. */
char *h2k_proc_which(const char *prog);

#endif
