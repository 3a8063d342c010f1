/* libhyper2kvm — public interface.
 *
 * The library holds the conversion engine: configuration, the
 * FETCH → FLATTEN → INSPECT → PLAN → FIX → CONVERT → VALIDATE pipeline and the
 * disk-image engine. The `hyper2kvm` tool is a thin front end over it.
 * Library functions never exit the process; failures come back as h2k_error.
 */
#ifndef HYPER2KVM_H
#define HYPER2KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define H2K_VERSION_STRING "0.1.0"

/* Error classes. Each maps to a documented exit status of the tool. */
enum h2k_code {
  H2K_OK = 0,
  H2K_E_FAIL = 1,     /* internal or unclassified failure */
  H2K_E_USAGE = 2,    /* bad command line or configuration */
  H2K_E_INPUT = 3,    /* source missing, unreadable, corrupt or unsupported */
  H2K_E_SPACE = 4,    /* not enough free space */
  H2K_E_ENV = 5,      /* unsafe or unusable environment (directories, tools) */
  H2K_E_STAGE = 6,    /* a pipeline stage (inspect, fix) failed */
  H2K_E_VALIDATE = 7, /* the converted guest failed boot validation */
  H2K_E_RESUME = 8,   /* --resume refused: inputs or options changed */
  H2K_E_NOTIMPL = 9,  /* feature not implemented yet */
  H2K_E_IO = 10,      /* I/O error while writing outputs */
  H2K_E_CANCELLED = 130,
};

typedef struct h2k_error {
  int code;           /* enum h2k_code */
  char message[1024]; /* what failed, where, and what to do */
  char cause[2048];   /* the underlying reason, possibly a chain "a: b: c" */
} h2k_error;

/* "message: cause" (or just the message), into a static-per-thread buffer. */
const char *h2k_error_text(const h2k_error *err);

const char *h2k_version(void);

/* ---- Disk images (read-only sources, qcow2/raw outputs) ---- */

typedef struct h2k_image h2k_image;

/* Open an image read-only, probing its format (or forcing `format`, may be
 * NULL), and its whole backing chain. */
h2k_image *h2k_image_open(const char *path, const char *format, h2k_error *err);
void h2k_image_close(h2k_image *img);
const char *h2k_image_format(const h2k_image *img);
uint64_t h2k_image_virtual_size(const h2k_image *img);
/* The next image down the chain, or NULL. */
const h2k_image *h2k_image_backing(const h2k_image *img);
const char *h2k_image_path(const h2k_image *img);
/* Read guest-visible bytes (the chain resolved; holes read as zeros). */
int h2k_image_read(h2k_image *img, uint64_t off, void *buf, size_t len,
                   h2k_error *err);

#ifdef __cplusplus
}
#endif
#endif
