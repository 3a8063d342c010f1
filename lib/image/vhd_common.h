/* Helpers shared by the VHD (vhd.c) and VHDX (vhdx.c, vhdx_log.c) readers,
 * and the parsers they expose to the unit tests (tests/image/vhd/). */
#ifndef H2K_IMAGE_VHD_COMMON_H
#define H2K_IMAGE_VHD_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "image/file.h"

/* ---- byte order ---- */

static inline uint16_t h2k_be16(const uint8_t *p) {
  return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t h2k_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}
static inline uint64_t h2k_be64(const uint8_t *p) {
  return (uint64_t)h2k_be32(p) << 32 | h2k_be32(p + 4);
}
static inline uint16_t h2k_le16(const uint8_t *p) {
  return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t h2k_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static inline uint64_t h2k_le64(const uint8_t *p) {
  return (uint64_t)h2k_le32(p) | (uint64_t)h2k_le32(p + 4) << 32;
}

static inline bool h2k_is_pow2(uint64_t v) {
  return v && !(v & (v - 1));
}

/* ---- checksums ---- */

/* CRC-32C (Castagnoli), as VHDX uses it: h2k_crc32c(0, buf, len). */
uint32_t h2k_crc32c(uint32_t crc, const void *buf, size_t len);

/* VHDX structure check: CRC-32C of `len` bytes with the 4-byte checksum
 * field at `csum_off` taken as zero, compared with the stored value. */
bool h2k_vhdx_crc_ok(const uint8_t *buf, size_t len, size_t csum_off);

/* VHD checksum: one's complement of the byte sum, skipping the 4-byte
 * checksum field at `csum_off`. */
uint32_t h2k_vhd_checksum(const uint8_t *buf, size_t len, size_t csum_off);

/* ---- text ---- */

/* UTF-16 (little or big endian) to a malloc'ed UTF-8 string; stops at the
 * first NUL. Returns NULL on invalid input (lone surrogates, odd length). */
char *h2k_utf16_to_utf8(const uint8_t *src, size_t bytes, bool big_endian);

/* Format a Microsoft GUID (mixed endian, as stored) as text. */
void h2k_guid_format(const uint8_t guid[16], char out[37]);

/* A Windows or URL parent path as written in an image, turned into a path
 * usable here: "file://" stripped and %xx decoded (url=true), backslashes
 * turned into slashes, a leading "./" dropped. Returns a malloc'ed string. */
char *h2k_vhd_native_path(const char *name, bool url);

/* Last component of a path, after '/' or '\\' (a pointer into `path`). */
const char *h2k_vhd_basename(const char *path);

/* Resolve a parent name against the directory of `f` and return the
 * malloc'ed path if it names a readable file, else NULL. Windows absolute
 * paths ("C:/...") are not tried as-is. */
char *h2k_vhd_try_parent(const h2k_file *f, const char *native);

/* ---- VHD (big endian) ---- */

#define H2K_VHD_FOOTER_SIZE 512
#define H2K_VHD_DYNHDR_SIZE 1024
#define H2K_VHD_TYPE_FIXED 2
#define H2K_VHD_TYPE_DYNAMIC 3
#define H2K_VHD_TYPE_DIFF 4

struct h2k_vhd_footer {
  uint64_t data_offset;
  uint64_t current_size;
  uint64_t chs_size; /* cylinders * heads * sectors * 512 */
  bool chs_is_max;   /* 65535/16/255: current_size is authoritative */
  uint32_t disk_type;
  char creator_app[5];
  uint8_t uuid[16];
};

/* Parse a footer (512 bytes, or 511 for old images). Checks the cookie and
 * checksum and the disk type. `where` names the location for messages. */
int h2k_vhd_parse_footer(const uint8_t *buf, size_t len,
                         struct h2k_vhd_footer *out, const char *where,
                         h2k_error *err);

/* The guest-visible size, chosen like qemu does: by CHS geometry for images
 * from Virtual PC and old qemu, by the size field for the others. */
uint64_t h2k_vhd_virtual_size(const struct h2k_vhd_footer *f);

struct h2k_vhd_locator {
  uint32_t code; /* 'W2ru', 'W2ku', 'MacX', ... */
  uint32_t length;
  uint64_t offset;
};

struct h2k_vhd_dynhdr {
  uint64_t table_offset;
  uint32_t max_table_entries;
  uint32_t block_size;
  uint8_t parent_uuid[16];
  uint8_t parent_name_raw[512]; /* UTF-16BE */
  struct h2k_vhd_locator loc[8];
};

/* Parse a 1024-byte dynamic disk header ("cxsparse"): cookie, checksum,
 * block size (power of two, 512 B .. 256 MiB), version. */
int h2k_vhd_parse_dynhdr(const uint8_t *buf, struct h2k_vhd_dynhdr *out,
                         const char *where, h2k_error *err);

/* ---- VHDX (little endian) ---- */

#define H2K_VHDX_HEADER_SIZE 4096
#define H2K_VHDX_REGION_SIZE 65536
#define H2K_VHDX_META_TABLE_SIZE 65536

struct h2k_vhdx_header {
  uint64_t seq;
  uint8_t file_write_guid[16];
  uint8_t data_write_guid[16];
  uint8_t log_guid[16];
  uint32_t log_length;
  uint64_t log_offset;
};

/* Parse and check one 4 KiB header ("head", CRC-32C, version 1). */
int h2k_vhdx_parse_header(const uint8_t *buf, struct h2k_vhdx_header *out,
                          const char *where, h2k_error *err);

/* Pick between the two headers: index (0/1) of the valid one with the
 * highest sequence number, or -1 if neither is valid. */
int h2k_vhdx_pick_header(const bool valid[2],
                         const struct h2k_vhdx_header hdr[2]);

struct h2k_vhdx_regions {
  uint64_t bat_offset;
  uint32_t bat_length;
  uint64_t meta_offset;
  uint32_t meta_length;
};

/* Parse a 64 KiB region table ("regi", CRC-32C); the BAT and metadata
 * regions must be present, inside `file_size`, 1 MiB aligned, not
 * overlapping; unknown required regions are refused. */
int h2k_vhdx_parse_regions(const uint8_t *buf, uint64_t file_size,
                           struct h2k_vhdx_regions *out, const char *where,
                           h2k_error *err);

struct h2k_vhdx_meta {
  uint32_t block_size;
  bool leave_allocated;
  bool has_parent;
  uint64_t disk_size;
  uint32_t logical_sector;
  uint32_t physical_sector;
  bool have_page83;
  uint8_t page83[16];
  /* parent locator item, relative to the metadata region (0 if absent) */
  uint32_t locator_offset;
  uint32_t locator_length;
};

/* Parse the metadata region (`region_len` bytes: the 64 KiB table, then
 * the items it points to). Checks required items and their values. */
int h2k_vhdx_parse_metadata(const uint8_t *region, uint32_t region_len,
                            struct h2k_vhdx_meta *out, const char *where,
                            h2k_error *err);

struct h2k_vhdx_parent {
  char *relative_path; /* as stored (UTF-8), each may be NULL */
  char *volume_path;
  char *absolute_path;
  char *parent_linkage;
  char *parent_linkage2;
};

/* Parse a parent locator item (VHDX parent locator type only). */
int h2k_vhdx_parse_locator(const uint8_t *item, uint32_t len,
                           struct h2k_vhdx_parent *out, const char *where,
                           h2k_error *err);
void h2k_vhdx_parent_free(struct h2k_vhdx_parent *p);

/* "{xxxxxxxx-...}" text to GUID bytes (as stored). */
int h2k_guid_parse(const char *text, uint8_t out[16]);

/* ---- VHDX log ---- */

/* An in-memory overlay of file ranges written by log replay; reads of
 * metadata, BAT and payload consult it after reading the file. */
struct h2k_vhdx_overlay;

/* Replay the active log sequence of a VHDX (header `hdr`) into a new
 * overlay. *out is left NULL when the log holds nothing to replay.
 * `file_size` may grow (*file_size) when the log extends the file. */
int h2k_vhdx_log_replay(h2k_file *f, const struct h2k_vhdx_header *hdr,
                        struct h2k_vhdx_overlay **out, uint64_t *file_size,
                        h2k_error *err);
/* Patch `buf` (file bytes [off, off+len)) with the overlay. */
void h2k_vhdx_overlay_apply(const struct h2k_vhdx_overlay *ov, void *buf,
                            size_t len, uint64_t off);
/* Whether any overlay range intersects [off, off+len). */
bool h2k_vhdx_overlay_touches(const struct h2k_vhdx_overlay *ov, uint64_t off,
                              uint64_t len);
void h2k_vhdx_overlay_free(struct h2k_vhdx_overlay *ov);

#endif
