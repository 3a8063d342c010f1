/* Error values that carry context: a class (mapped to an exit code), a
 * message saying what went wrong and where, and the underlying cause. */
#ifndef H2K_CORE_ERROR_H
#define H2K_CORE_ERROR_H

#include "hyper2kvm.h"

/* Set an error. `fmt` says what failed and where; callers add what to do. */
void h2k_err_set(h2k_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like h2k_err_set, with strerror(errnum) as the cause. */
void h2k_err_errno(h2k_error *err, int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Add context: the current message becomes the cause of a new message.
 * The error class is kept. Safe to call with err == NULL. */
void h2k_err_wrap(h2k_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append a hint ("what to do") to the message. */
void h2k_err_hint(h2k_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void h2k_err_clear(h2k_error *err);

#endif
