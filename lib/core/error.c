#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void h2k_err_clear(h2k_error *err) {
  if (!err)
    return;
  err->code = H2K_OK;
  err->message[0] = '\0';
  err->cause[0] = '\0';
}

void h2k_err_set(h2k_error *err, int code, const char *fmt, ...) {
  if (!err)
    return;
  va_list ap;
  va_start(ap, fmt);
  err->code = code;
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  err->cause[0] = '\0';
  va_end(ap);
}

void h2k_err_errno(h2k_error *err, int code, int errnum, const char *fmt, ...) {
  if (!err)
    return;
  va_list ap;
  va_start(ap, fmt);
  err->code = code;
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  snprintf(err->cause, sizeof err->cause, "%s", strerror(errnum));
}

void h2k_err_wrap(h2k_error *err, const char *fmt, ...) {
  if (!err)
    return;
  char old[sizeof err->cause];
  if (err->cause[0])
    snprintf(old, sizeof old, "%s: %s", err->message, err->cause);
  else
    snprintf(old, sizeof old, "%s", err->message);
  memcpy(err->cause, old, sizeof err->cause);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  if (err->code == H2K_OK)
    err->code = H2K_E_FAIL;
}

void h2k_err_hint(h2k_error *err, const char *fmt, ...) {
  if (!err)
    return;
  size_t used = strlen(err->message);
  if (used + 3 >= sizeof err->message)
    return;
  snprintf(err->message + used, sizeof err->message - used, "; ");
  used += 2;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message + used, sizeof err->message - used, fmt, ap);
  va_end(ap);
}

const char *h2k_error_text(const h2k_error *err) {
  static _Thread_local char buf[sizeof err->message + sizeof err->cause + 4];
  if (!err)
    return "";
  if (err->cause[0])
    snprintf(buf, sizeof buf, "%s: %s", err->message, err->cause);
  else
    snprintf(buf, sizeof buf, "%s", err->message);
  return buf;
}

const char *h2k_version(void) {
  return H2K_VERSION_STRING;
}
