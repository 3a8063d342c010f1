/* Disk-image engine: the driver interface every format reader implements.
 *
 * One file per format (raw.c, qcow2.c, vmdk.c, vhd.c, vhdx.c), each exporting
 * a `const struct h2k_image_driver h2k_driver_<name>`. Drivers only ever read:
 * the engine never opens a source for writing.
 *
 * A driver describes ITS OWN layer: block_status() says, for a range, whether
 * this layer holds data, reads as zeros, or is unallocated (fall through to
 * the backing image, or zeros at the bottom of the chain). The generic layer
 * (image.c) resolves chains, so drivers never read their parent themselves.
 */
#ifndef H2K_IMAGE_IMAGE_H
#define H2K_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "image/file.h"

/* Hard limits applied to untrusted header fields (see docs/ARCHITECTURE.md). */
#define H2K_MAX_VIRTUAL_SIZE (UINT64_C(64) << 40) /* 64 TiB */
#define H2K_MAX_CHAIN_DEPTH 64
#define H2K_MAX_TABLE_BYTES (UINT64_C(512) << 20) /* one metadata table */
#define H2K_MAX_EXTENTS 4096                      /* VMDK extents */

enum h2k_extent_kind {
  H2K_EXTENT_DATA = 0,   /* this layer holds the bytes */
  H2K_EXTENT_ZERO = 1,   /* this layer says: reads as zeros */
  H2K_EXTENT_UNALLOC = 2 /* not in this layer: look at the backing image */
};

typedef struct h2k_extent {
  uint64_t offset; /* guest offset, == the queried offset */
  uint64_t length; /* > 0, <= the queried length */
  enum h2k_extent_kind kind;
} h2k_extent;

struct h2k_image {
  const struct h2k_image_driver *drv;
  h2k_file *file;        /* the main file (descriptor for split VMDKs) */
  uint64_t virtual_size; /* set by open() */
  void *priv;            /* driver state */

  /* Set by open() when the image has a parent: the name as stored in the
   * image (for messages) and the resolved path. The generic layer opens it,
   * then calls drv->check_parent if the driver has one. */
  char *backing_name;
  char *backing_path;
  char *backing_format; /* optional hint ("vmdk", "qcow2", ...), may be NULL */

  h2k_image *backing; /* opened by the generic layer */
  int depth;          /* 0 for the top image */
  char *subformat;    /* e.g. "monolithicSparse", "dynamic"; may be NULL */
};

struct h2k_image_driver {
  const char *name; /* "raw", "qcow2", "vmdk", "vpc" (VHD), "vhdx" */

  /* Score 0..100 for how surely `head` (the first `len` bytes, len may be
   * short for tiny files) is this format. raw returns 1. */
  int (*probe)(const uint8_t *head, size_t len, const char *path);

  /* Parse headers and tables of img->file; set img->virtual_size, priv,
   * subformat and backing_* fields. Validate every field against the file
   * size and the limits above before using it. Strings put in backing_*
   * and subformat must be malloc'ed: the generic layer frees them. If open()
   * fails, close() is still called when priv is non-NULL. */
  int (*open)(h2k_image *img, h2k_error *err);

  /* Describe this layer at `off` (< virtual_size): fill one extent starting
   * exactly at `off`, no longer than `len`. Extents should be as long as the
   * driver can cheaply tell (merge adjacent clusters of one kind). */
  int (*block_status)(h2k_image *img, uint64_t off, uint64_t len,
                      h2k_extent *ext, h2k_error *err);

  /* Read bytes that block_status reported as DATA in this layer.
   * [off, off+len) never crosses an extent boundary the driver reported.
   * Must be safe to call from several threads at once on one image (use
   * pread and per-call buffers; lock any shared cache). */
  int (*read)(h2k_image *img, uint64_t off, void *buf, size_t len,
              h2k_error *err);

  /* Optional: verify the freshly opened parent (e.g. VMDK parentCID == CID
   * of the parent). */
  int (*check_parent)(h2k_image *child, h2k_image *parent, h2k_error *err);

  void (*close)(h2k_image *img); /* free priv and anything open() made */

  /* Optional: bytes allocated in all files of this layer (drivers with
   * several files, e.g. split VMDKs). Default: st_blocks of img->file. */
  uint64_t (*allocated)(const h2k_image *img);
};

extern const struct h2k_image_driver h2k_driver_raw;
extern const struct h2k_image_driver h2k_driver_qcow2;
extern const struct h2k_image_driver h2k_driver_vmdk;
extern const struct h2k_image_driver h2k_driver_vpc;
extern const struct h2k_image_driver h2k_driver_vhdx;

/* Open an image over an already opened file view (takes a reference). */
h2k_image *h2k_image_open_file(h2k_file *f, const char *format, h2k_error *err);

/* Open the qcow2 overlay at `path` on top of the already open `base` chain,
 * whatever backing name the overlay stores (the FIX stage's overlay names
 * the NBD socket the appliance read the base through). On success the
 * overlay owns `base` (h2k_image_close closes both); on failure the caller
 * still owns it. The sizes must match. */
h2k_image *h2k_image_open_overlay(const char *path, h2k_image *base,
                                  h2k_error *err);

/* Resolved block status for the whole chain: DATA means some layer holds
 * bytes (read them with h2k_image_read), ZERO means the guest sees zeros
 * (explicit zero or unallocated at the bottom). */
int h2k_image_block_status(h2k_image *img, uint64_t off, uint64_t len,
                           h2k_extent *ext, h2k_error *err);

/* Bytes allocated in the files of this layer (for `info`). */
uint64_t h2k_image_allocated_bytes(const h2k_image *img);

#endif
