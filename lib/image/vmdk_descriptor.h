/* VMDK text descriptor parser (pure: no I/O).
 *
 * A descriptor is a small text file (or a text block embedded in a
 * monolithicSparse file) made of comments, `key = value` lines and extent
 * lines `ACCESS SECTORS TYPE ["file" [offset]]`. The parser is strict: a
 * line that is none of these is an error that names the line. */
#ifndef H2K_IMAGE_VMDK_DESCRIPTOR_H
#define H2K_IMAGE_VMDK_DESCRIPTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hyper2kvm.h"

#define VMDK_DESC_MAX_BYTES (1u << 20) /* larger files are not descriptors */
#define VMDK_CID_NONE 0xffffffffu      /* parentCID of a base disk */

enum vmdk_access { VMDK_ACCESS_RW, VMDK_ACCESS_RDONLY, VMDK_ACCESS_NOACCESS };

enum vmdk_ext_type {
  VMDK_EXT_FLAT,
  VMDK_EXT_SPARSE,     /* hosted sparse ("KDMV") */
  VMDK_EXT_ZERO,       /* no file: reads as zeros */
  VMDK_EXT_VMFS,       /* ESXi flat */
  VMDK_EXT_VMFSSPARSE, /* ESXi "COWD" delta */
  VMDK_EXT_SESPARSE    /* ESXi 6.5+ space-efficient sparse */
};

struct vmdk_desc_extent {
  enum vmdk_access access;
  enum vmdk_ext_type type;
  uint64_t sectors; /* > 0 */
  uint64_t offset;  /* in sectors, into the file (FLAT/VMFS only) */
  char *file;       /* NULL for ZERO extents without a file name */
  unsigned line;    /* 1-based line number, for messages */
};

struct vmdk_descriptor {
  unsigned version;        /* 0 when absent */
  bool has_cid;            /* a CID line was present */
  uint32_t cid;            /* content id */
  uint32_t parent_cid;     /* VMDK_CID_NONE when absent */
  const char *create_type; /* canonical spelling (static), NULL if absent */
  char *parent_hint;       /* parentFileNameHint, NULL if absent/empty */
  char *adapter_type;      /* ddb.adapterType, NULL if absent */
  struct vmdk_desc_extent *extents;
  size_t n_extents;
  uint64_t total_sectors; /* sum of the extents */
};

/* Parse `len` bytes of `text` (need not be NUL-terminated; parsing stops at
 * the first NUL, as embedded descriptors are zero-padded). `where` names the
 * file for messages. A standalone descriptor (embedded == false) must have a
 * createType and at least one extent. On failure *d is left empty. */
int vmdk_desc_parse(const char *text, size_t len, const char *where,
                    bool embedded, struct vmdk_descriptor *d, h2k_error *err);
void vmdk_desc_free(struct vmdk_descriptor *d);

const char *vmdk_ext_type_name(enum vmdk_ext_type t);

#endif
