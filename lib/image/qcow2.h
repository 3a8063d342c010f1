/* qcow2 on-disk constants and helpers shared by the reader (qcow2.c) and
 * the writer (qcow2_writer.c). Layout per qemu's docs/interop/qcow2.txt. */
#ifndef H2K_IMAGE_QCOW2_H
#define H2K_IMAGE_QCOW2_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_MIN_HEADER_LEN 104
#define QCOW2_V3_HEADER_LEN 112 /* with compression_type and padding */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MAX_BACKING_NAME 1023
#define QCOW2_MAX_L1_BYTES (UINT64_C(32) << 20) /* as qemu */

#define QCOW2_INCOMPAT_DIRTY (UINT64_C(1) << 0)
#define QCOW2_INCOMPAT_CORRUPT (UINT64_C(1) << 1)
#define QCOW2_INCOMPAT_DATA_FILE (UINT64_C(1) << 2)
#define QCOW2_INCOMPAT_COMPRESSION (UINT64_C(1) << 3)
#define QCOW2_INCOMPAT_EXTL2 (UINT64_C(1) << 4)
#define QCOW2_INCOMPAT_KNOWN (UINT64_C(0x1f))

#define QCOW2_COMPRESSION_ZLIB 0
#define QCOW2_COMPRESSION_ZSTD 1

#define QCOW2_EXT_END 0x00000000u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE 0x6803f857u
#define QCOW2_EXT_DATA_FILE 0x44415441u

#define QCOW2_OFLAG_COPIED (UINT64_C(1) << 63)
#define QCOW2_OFLAG_COMPRESSED (UINT64_C(1) << 62)
#define QCOW2_OFLAG_ZERO UINT64_C(1)
#define QCOW2_OFFSET_MASK UINT64_C(0x00fffffffffffe00)

/* Parsed header fields (host byte order). */
struct h2k_qcow2_header {
  uint32_t version;
  uint64_t backing_file_offset;
  uint32_t backing_file_size;
  uint32_t cluster_bits;
  uint64_t size;
  uint32_t crypt_method;
  uint32_t l1_size;
  uint64_t l1_table_offset;
  uint64_t refcount_table_offset;
  uint32_t refcount_table_clusters;
  uint32_t nb_snapshots;
  uint64_t snapshots_offset;
  uint64_t incompatible_features;
  uint64_t compatible_features;
  uint64_t autoclear_features;
  uint32_t refcount_order;
  uint32_t header_length;
  uint8_t compression_type;
};

/* Parse and validate the fixed header in `buf` (`len` bytes from offset 0
 * of a file of `file_size` bytes). Every field is checked against the file
 * size and the engine's limits; unsupported features are refused with
 * H2K_E_INPUT or H2K_E_NOTIMPL. `path` is only used in messages. */
int h2k_qcow2_parse_header(const uint8_t *buf, size_t len, uint64_t file_size,
                           const char *path, struct h2k_qcow2_header *h,
                           h2k_error *err);

/* Number of L1 entries needed to map `size` bytes with 2^cluster_bits
 * clusters. */
uint64_t h2k_qcow2_l1_entries_for(uint64_t size, uint32_t cluster_bits);

/* Per-thread cluster compressor for the writer. */
typedef struct h2k_qcow2_compressor h2k_qcow2_compressor;
/* type: QCOW2_COMPRESSION_ZLIB or _ZSTD; level 0 = codec default. */
h2k_qcow2_compressor *h2k_qcow2_compressor_new(int type, int level,
                                               h2k_error *err);
void h2k_qcow2_compressor_free(h2k_qcow2_compressor *c);
/* Compress one cluster. Returns the compressed length (< cap), or 0 when
 * the result would not fit in `cap` bytes (store the cluster as is). */
size_t h2k_qcow2_compress(h2k_qcow2_compressor *c, const void *in,
                          size_t in_len, void *out, size_t cap);

#endif
