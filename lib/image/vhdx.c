/* VHDX reader (MS-VHDX): fixed, dynamic and differencing disks, with replay
 * of a dirty log into an in-memory overlay. All fields are little endian.
 *
 *   0      file identifier "vhdxfile"
 *   64K    header 1, 128K header 2 (the valid one with the highest sequence)
 *   192K   region table 1, 256K region table 2 -> BAT and metadata regions
 *   BAT:   per chunk, chunk_ratio payload entries then one sector-bitmap
 *          entry; chunk_ratio = 2^23 * logical_sector_size / block_size
 */
#include "image/image.h"
#include "image/vhd_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB (UINT64_C(1) << 20)
#define VHDX_MIN_BLOCK (1u << 20)
#define VHDX_MAX_BLOCK (256u << 20)
#define VHDX_MAX_DISK_SIZE (UINT64_C(64) << 40)
#define VHDX_MAX_ENTRIES 2047
#define VHDX_SECTOR_BITMAP_SIZE MiB

#define GUID_BAT "2DC27766-F623-4200-9D64-115E9BFD4A08"
#define GUID_METADATA "8B7CA206-4790-4B9A-B8FE-575F050F886E"
#define GUID_FILE_PARAMS "CAA16737-FA36-4D43-B3B6-33F0AA44E76B"
#define GUID_DISK_SIZE "2FA54224-CD1B-4876-B211-5DBED83BF4B8"
#define GUID_PAGE83 "BECA12AB-B2E6-4523-93EF-C309E000C746"
#define GUID_LOGICAL_SECTOR "8141BF1D-A96F-4709-BA47-F233A8FAAB5F"
#define GUID_PHYSICAL_SECTOR "CDA348C7-445D-4471-9CC9-E9885251C556"
#define GUID_PARENT_LOCATOR "A8D35F2D-B30B-454D-ABF7-D3D84834AB0C"
#define GUID_VHDX_LOCATOR_TYPE "B04AEFB7-D19E-4A81-B789-25B8E9445913"

enum {
  PAYLOAD_NOT_PRESENT = 0,
  PAYLOAD_UNDEFINED = 1,
  PAYLOAD_ZERO = 2,
  PAYLOAD_UNMAPPED = 3,
  PAYLOAD_FULLY_PRESENT = 6,
  PAYLOAD_PARTIALLY_PRESENT = 7,
  SB_NOT_PRESENT = 0,
  SB_PRESENT = 6,
};

struct vhdx_state {
  struct h2k_vhdx_header hdr;
  struct h2k_vhdx_regions reg;
  struct h2k_vhdx_meta meta;
  uint64_t file_size; /* the file's size, grown by log replay if needed */
  struct h2k_vhdx_overlay *ov;
  bool differencing;
  uint64_t chunk_ratio;
  uint64_t payload_blocks;
  uint64_t bat_entries;
  uint64_t *bat;
  uint8_t linkage[16], linkage2[16];
  bool have_linkage2;
};

static bool guid_is(const uint8_t *g, const char *text) {
  uint8_t want[16];
  return h2k_guid_parse(text, want) == 0 && memcmp(g, want, 16) == 0;
}

static bool guid_is_zero(const uint8_t *g) {
  static const uint8_t zero[16];
  return memcmp(g, zero, 16) == 0;
}

/* ---- parsers (exported for the unit tests) ---- */

int h2k_vhdx_parse_header(const uint8_t *b, struct h2k_vhdx_header *out,
                          const char *where, h2k_error *err) {
  if (memcmp(b, "head", 4) != 0) {
    h2k_err_set(err, H2K_E_INPUT, "%s: bad VHDX header signature", where);
    return -1;
  }
  if (!h2k_vhdx_crc_ok(b, H2K_VHDX_HEADER_SIZE, 4)) {
    h2k_err_set(err, H2K_E_INPUT, "%s: VHDX header CRC-32C mismatch", where);
    return -1;
  }
  uint16_t log_version = h2k_le16(b + 64), version = h2k_le16(b + 66);
  if (version != 1 || log_version != 0) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: unsupported VHDX version %u (log version %u)", where,
                version, log_version);
    return -1;
  }
  memset(out, 0, sizeof *out);
  out->seq = h2k_le64(b + 8);
  memcpy(out->file_write_guid, b + 16, 16);
  memcpy(out->data_write_guid, b + 32, 16);
  memcpy(out->log_guid, b + 48, 16);
  out->log_length = h2k_le32(b + 68);
  out->log_offset = h2k_le64(b + 72);
  return 0;
}

int h2k_vhdx_pick_header(const bool valid[2],
                         const struct h2k_vhdx_header hdr[2]) {
  if (valid[0] && valid[1])
    return hdr[1].seq > hdr[0].seq ? 1 : 0;
  if (valid[0])
    return 0;
  return valid[1] ? 1 : -1;
}

static int check_region(const char *name, uint64_t off, uint32_t len,
                        uint64_t file_size, const char *where, h2k_error *err) {
  if (off < MiB || off % MiB || len == 0 || len % MiB || off > file_size ||
      len > file_size - off) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX %s region at offset %" PRIu64 " length %" PRIu32
                " is misaligned or outside the file (%" PRIu64 " bytes)",
                where, name, off, len, file_size);
    return -1;
  }
  return 0;
}

int h2k_vhdx_parse_regions(const uint8_t *b, uint64_t file_size,
                           struct h2k_vhdx_regions *out, const char *where,
                           h2k_error *err) {
  if (memcmp(b, "regi", 4) != 0) {
    h2k_err_set(err, H2K_E_INPUT, "%s: bad VHDX region table signature", where);
    return -1;
  }
  if (!h2k_vhdx_crc_ok(b, H2K_VHDX_REGION_SIZE, 4)) {
    h2k_err_set(err, H2K_E_INPUT, "%s: VHDX region table CRC-32C mismatch",
                where);
    return -1;
  }
  uint32_t count = h2k_le32(b + 8);
  if (count > VHDX_MAX_ENTRIES) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX region table has %" PRIu32 " entries (max %d)", where,
                count, VHDX_MAX_ENTRIES);
    return -1;
  }
  memset(out, 0, sizeof *out);
  bool have_bat = false, have_meta = false;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *e = b + 16 + 32 * i;
    uint64_t off = h2k_le64(e + 16);
    uint32_t len = h2k_le32(e + 24);
    bool required = h2k_le32(e + 28) & 1;
    if (guid_is(e, GUID_BAT) || guid_is(e, GUID_METADATA)) {
      bool is_bat = guid_is(e, GUID_BAT);
      if (is_bat ? have_bat : have_meta) {
        h2k_err_set(err, H2K_E_INPUT, "%s: duplicate VHDX %s region", where,
                    is_bat ? "BAT" : "metadata");
        return -1;
      }
      if (check_region(is_bat ? "BAT" : "metadata", off, len, file_size, where,
                       err) < 0)
        return -1;
      if (is_bat) {
        out->bat_offset = off, out->bat_length = len, have_bat = true;
      } else {
        out->meta_offset = off, out->meta_length = len, have_meta = true;
      }
    } else if (required) {
      char g[37];
      h2k_guid_format(e, g);
      h2k_err_set(err, H2K_E_INPUT,
                  "%s: unsupported required VHDX region {%s} (entry %" PRIu32
                  ")",
                  where, g, i);
      return -1;
    }
  }
  if (!have_bat || !have_meta) {
    h2k_err_set(err, H2K_E_INPUT, "%s: VHDX region table lacks the %s region",
                where, have_bat ? "metadata" : "BAT");
    return -1;
  }
  if (out->bat_offset < out->meta_offset + out->meta_length &&
      out->meta_offset < out->bat_offset + out->bat_length) {
    h2k_err_set(err, H2K_E_INPUT, "%s: VHDX BAT and metadata regions overlap",
                where);
    return -1;
  }
  return 0;
}

/* Copy a fixed-size metadata item, checking its length. */
static int meta_item(const uint8_t *region, uint32_t off, uint32_t len,
                     uint32_t want, void *dst, const char *name,
                     const char *where, h2k_error *err) {
  if (len != want) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX metadata item '%s' has length %" PRIu32
                " (expected %" PRIu32 ")",
                where, name, len, want);
    return -1;
  }
  memcpy(dst, region + off, want);
  return 0;
}

static int parse_meta_entry(const uint8_t *region, const uint8_t *e,
                            uint32_t off, uint32_t len, struct h2k_vhdx_meta *m,
                            unsigned *seen, const char *where, h2k_error *err) {
  uint8_t b[16];
  if (guid_is(e, GUID_FILE_PARAMS)) {
    if (meta_item(region, off, len, 8, b, "file parameters", where, err) < 0)
      return -1;
    m->block_size = h2k_le32(b);
    m->leave_allocated = h2k_le32(b + 4) & 1;
    m->has_parent = h2k_le32(b + 4) & 2;
    *seen |= 1;
  } else if (guid_is(e, GUID_DISK_SIZE)) {
    if (meta_item(region, off, len, 8, b, "virtual disk size", where, err) < 0)
      return -1;
    m->disk_size = h2k_le64(b);
    *seen |= 2;
  } else if (guid_is(e, GUID_LOGICAL_SECTOR)) {
    if (meta_item(region, off, len, 4, b, "logical sector size", where, err) <
        0)
      return -1;
    m->logical_sector = h2k_le32(b);
    *seen |= 4;
  } else if (guid_is(e, GUID_PHYSICAL_SECTOR)) {
    if (meta_item(region, off, len, 4, b, "physical sector size", where, err) <
        0)
      return -1;
    m->physical_sector = h2k_le32(b);
    *seen |= 8;
  } else if (guid_is(e, GUID_PAGE83)) {
    if (meta_item(region, off, len, 16, m->page83, "page 83 data", where, err) <
        0)
      return -1;
    m->have_page83 = true;
  } else if (guid_is(e, GUID_PARENT_LOCATOR)) {
    m->locator_offset = off;
    m->locator_length = len;
  } else if (h2k_le32(e + 24) & 4) {
    char g[37];
    h2k_guid_format(e, g);
    h2k_err_set(err, H2K_E_INPUT,
                "%s: unsupported required VHDX metadata item {%s}", where, g);
    return -1;
  }
  return 0;
}

static int check_meta_values(const struct h2k_vhdx_meta *m, const char *where,
                             h2k_error *err) {
  if (!h2k_is_pow2(m->block_size) || m->block_size < VHDX_MIN_BLOCK ||
      m->block_size > VHDX_MAX_BLOCK) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: invalid VHDX block size %" PRIu32
                " (must be a power of two, 1 MiB to 256 MiB)",
                where, m->block_size);
    return -1;
  }
  if (m->logical_sector != 512 && m->logical_sector != 4096) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: invalid VHDX logical sector size %" PRIu32, where,
                m->logical_sector);
    return -1;
  }
  if (m->physical_sector != 512 && m->physical_sector != 4096) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: invalid VHDX physical sector size %" PRIu32, where,
                m->physical_sector);
    return -1;
  }
  if (m->disk_size == 0 || m->disk_size > VHDX_MAX_DISK_SIZE ||
      m->disk_size > H2K_MAX_VIRTUAL_SIZE || m->disk_size % m->logical_sector) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: invalid VHDX virtual disk size %" PRIu64
                " (zero, over 64 TiB, or not a multiple of the sector size)",
                where, m->disk_size);
    return -1;
  }
  if (m->has_parent && m->locator_length == 0) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: differencing VHDX without a parent locator", where);
    return -1;
  }
  return 0;
}

int h2k_vhdx_parse_metadata(const uint8_t *region, uint32_t region_len,
                            struct h2k_vhdx_meta *out, const char *where,
                            h2k_error *err) {
  memset(out, 0, sizeof *out);
  if (region_len < H2K_VHDX_META_TABLE_SIZE ||
      memcmp(region, "metadata", 8) != 0) {
    h2k_err_set(err, H2K_E_INPUT, "%s: bad VHDX metadata table signature",
                where);
    return -1;
  }
  uint16_t count = h2k_le16(region + 10);
  if (count > VHDX_MAX_ENTRIES) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX metadata table has %u entries (max %d)", where, count,
                VHDX_MAX_ENTRIES);
    return -1;
  }
  unsigned seen = 0;
  for (unsigned i = 0; i < count; i++) {
    const uint8_t *e = region + 32 + 32 * i;
    uint32_t off = h2k_le32(e + 16), len = h2k_le32(e + 20);
    if (len && (off < H2K_VHDX_META_TABLE_SIZE || off > region_len ||
                len > region_len - off)) {
      h2k_err_set(err, H2K_E_INPUT,
                  "%s: VHDX metadata entry %u (offset %" PRIu32
                  ", length %" PRIu32
                  ") is outside the metadata region (%" PRIu32 " bytes)",
                  where, i, off, len, region_len);
      return -1;
    }
    if (parse_meta_entry(region, e, off, len, out, &seen, where, err) < 0)
      return -1;
  }
  if (seen != 15) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX metadata lacks a required item (%s)", where,
                !(seen & 1)   ? "file parameters"
                : !(seen & 2) ? "virtual disk size"
                : !(seen & 4) ? "logical sector size"
                              : "physical sector size");
    return -1;
  }
  return check_meta_values(out, where, err);
}

static char **locator_slot(struct h2k_vhdx_parent *p, const char *key) {
  if (strcmp(key, "relative_path") == 0)
    return &p->relative_path;
  if (strcmp(key, "volume_path") == 0)
    return &p->volume_path;
  if (strcmp(key, "absolute_win32_path") == 0)
    return &p->absolute_path;
  if (strcmp(key, "parent_linkage") == 0)
    return &p->parent_linkage;
  if (strcmp(key, "parent_linkage2") == 0)
    return &p->parent_linkage2;
  return NULL;
}

int h2k_vhdx_parse_locator(const uint8_t *item, uint32_t len,
                           struct h2k_vhdx_parent *out, const char *where,
                           h2k_error *err) {
  memset(out, 0, sizeof *out);
  if (len < 20 || !guid_is(item, GUID_VHDX_LOCATOR_TYPE)) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX parent locator is not of the VHDX type", where);
    return -1;
  }
  uint16_t count = h2k_le16(item + 18);
  if (20 + 12 * (uint64_t)count > len) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX parent locator: %u entries do not fit in %" PRIu32
                " bytes",
                where, count, len);
    return -1;
  }
  for (unsigned i = 0; i < count; i++) {
    const uint8_t *e = item + 20 + 12 * i;
    uint32_t koff = h2k_le32(e), voff = h2k_le32(e + 4);
    uint16_t klen = h2k_le16(e + 8), vlen = h2k_le16(e + 10);
    if (koff > len || klen > len - koff || voff > len || vlen > len - voff ||
        !klen || !vlen) {
      h2k_err_set(err, H2K_E_INPUT,
                  "%s: VHDX parent locator entry %u is outside the item", where,
                  i);
      h2k_vhdx_parent_free(out);
      return -1;
    }
    char *key = h2k_utf16_to_utf8(item + koff, klen, false);
    char *val = h2k_utf16_to_utf8(item + voff, vlen, false);
    char **slot = key ? locator_slot(out, key) : NULL;
    if (!key || !val) {
      h2k_err_set(err, H2K_E_INPUT,
                  "%s: VHDX parent locator entry %u is not valid UTF-16", where,
                  i);
      free(key);
      free(val);
      h2k_vhdx_parent_free(out);
      return -1;
    }
    if (slot && !*slot) {
      *slot = val;
      val = NULL;
    }
    free(key);
    free(val);
  }
  return 0;
}

void h2k_vhdx_parent_free(struct h2k_vhdx_parent *p) {
  free(p->relative_path);
  free(p->volume_path);
  free(p->absolute_path);
  free(p->parent_linkage);
  free(p->parent_linkage2);
  memset(p, 0, sizeof *p);
}

/* ---- file access through the log overlay ---- */

/* Read file bytes as the replayed log sees them: the file (zeros past its
 * end, up to the size the log grew it to), patched by the overlay. */
static int vhdx_pread(h2k_image *img, void *buf, size_t len, uint64_t off,
                      const char *what, h2k_error *err) {
  struct vhdx_state *s = img->priv;
  if (!s->ov)
    return h2k_file_pread(img->file, buf, len, off, what, err);
  if (off > s->file_size || len > s->file_size - off) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: %s at offset %" PRIu64 " (%zu bytes) is past the end",
                img->file->path, what, off, len);
    return -1;
  }
  size_t in_file = 0;
  if (off < img->file->size)
    in_file = img->file->size - off < len ? img->file->size - off : len;
  if (in_file && h2k_file_pread(img->file, buf, in_file, off, what, err) < 0)
    return -1;
  memset((uint8_t *)buf + in_file, 0, len - in_file);
  h2k_vhdx_overlay_apply(s->ov, buf, len, off);
  return 0;
}

/* ---- open ---- */

static int set_parent(h2k_image *img, struct h2k_vhdx_parent *p,
                      h2k_error *err);

static int load_header(h2k_image *img, struct vhdx_state *s, h2k_error *err) {
  const char *path = img->file->path;
  uint8_t sig[8];
  if (h2k_file_pread(img->file, sig, 8, 0, "VHDX file identifier", err) < 0)
    return -1;
  if (memcmp(sig, "vhdxfile", 8) != 0) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: no VHDX file identifier (\"vhdxfile\") at offset 0", path);
    return -1;
  }
  struct h2k_vhdx_header hdr[2];
  bool valid[2];
  h2k_error herr[2] = {0};
  uint8_t *buf = malloc(H2K_VHDX_HEADER_SIZE);
  if (!buf) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  for (int i = 0; i < 2; i++) {
    uint64_t off = (uint64_t)(i + 1) * 65536;
    char where[128];
    snprintf(where, sizeof where, "%s: VHDX header %d at offset %" PRIu64, path,
             i + 1, off);
    valid[i] = h2k_file_pread(img->file, buf, H2K_VHDX_HEADER_SIZE, off,
                              "VHDX header", &herr[i]) == 0 &&
               h2k_vhdx_parse_header(buf, &hdr[i], where, &herr[i]) == 0;
  }
  free(buf);
  int pick = h2k_vhdx_pick_header(valid, hdr);
  if (pick < 0) {
    *err = herr[0];
    h2k_err_hint(err, "header 2 is invalid too");
    return -1;
  }
  s->hdr = hdr[pick];
  return 0;
}

static int replay_log(h2k_image *img, struct vhdx_state *s, h2k_error *err) {
  s->file_size = img->file->size;
  if (guid_is_zero(s->hdr.log_guid))
    return 0;
  if (h2k_vhdx_log_replay(img->file, &s->hdr, &s->ov, &s->file_size, err) < 0) {
    h2k_err_hint(err, "the VHDX log is dirty and cannot be replayed; open "
                      "the image once in Hyper-V or run `qemu-img check -r "
                      "all` on a copy");
    return -1;
  }
  return 0;
}

static int load_regions(h2k_image *img, struct vhdx_state *s, h2k_error *err) {
  uint8_t *buf = malloc(H2K_VHDX_REGION_SIZE);
  if (!buf) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  h2k_error first = {0};
  int rc = -1;
  for (int i = 0; i < 2 && rc < 0; i++) {
    uint64_t off = (uint64_t)(i + 3) * 65536;
    char where[128];
    snprintf(where, sizeof where, "%s: VHDX region table %d at offset %" PRIu64,
             img->file->path, i + 1, off);
    h2k_error e = {0};
    if (vhdx_pread(img, buf, H2K_VHDX_REGION_SIZE, off, "VHDX region table",
                   &e) == 0 &&
        h2k_vhdx_parse_regions(buf, s->file_size, &s->reg, where, &e) == 0)
      rc = 0;
    else if (i == 0)
      first = e;
  }
  free(buf);
  if (rc < 0) {
    *err = first;
    h2k_err_hint(err, "region table 2 is invalid too");
  }
  return rc;
}

static int load_metadata(h2k_image *img, struct vhdx_state *s, h2k_error *err) {
  const char *path = img->file->path;
  uint32_t len = s->reg.meta_length;
  if (len > H2K_MAX_TABLE_BYTES) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX metadata region of %" PRIu32 " bytes is too large",
                path, len);
    return -1;
  }
  uint8_t *region = malloc(len);
  if (!region) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory for the VHDX metadata");
    return -1;
  }
  char where[128];
  snprintf(where, sizeof where, "%s: VHDX metadata region at offset %" PRIu64,
           path, s->reg.meta_offset);
  int rc = vhdx_pread(img, region, len, s->reg.meta_offset,
                      "VHDX metadata region", err);
  if (rc == 0)
    rc = h2k_vhdx_parse_metadata(region, len, &s->meta, where, err);
  if (rc == 0 && s->meta.has_parent) {
    struct h2k_vhdx_parent p;
    rc = h2k_vhdx_parse_locator(region + s->meta.locator_offset,
                                s->meta.locator_length, &p, where, err);
    if (rc == 0) {
      rc = set_parent(img, &p, err);
      h2k_vhdx_parent_free(&p);
    }
  }
  free(region);
  return rc;
}

/* BAT index of payload block `b` and of the sector bitmap of chunk `c`. */
static uint64_t payload_index(const struct vhdx_state *s, uint64_t b) {
  return b + b / s->chunk_ratio;
}
static uint64_t bitmap_index(const struct vhdx_state *s, uint64_t c) {
  return c * (s->chunk_ratio + 1) + s->chunk_ratio;
}

static int bad_entry(h2k_image *img, struct vhdx_state *s, uint64_t idx,
                     const char *what, h2k_error *err) {
  h2k_err_set(err, H2K_E_INPUT,
              "%s: VHDX BAT entry %" PRIu64 " (at offset %" PRIu64
              ", value 0x%016" PRIx64 "): %s",
              img->file->path, idx, s->reg.bat_offset + idx * 8, s->bat[idx],
              what);
  return -1;
}

static int check_block_entry(h2k_image *img, struct vhdx_state *s, uint64_t b,
                             h2k_error *err) {
  uint64_t idx = payload_index(s, b);
  uint64_t e = s->bat[idx], state = e & 7, off = e & ~(MiB - 1);
  switch (state) {
  case PAYLOAD_NOT_PRESENT:
  case PAYLOAD_UNDEFINED:
  case PAYLOAD_ZERO:
  case PAYLOAD_UNMAPPED:
    return 0;
  case PAYLOAD_PARTIALLY_PRESENT:
    if (!s->differencing)
      return bad_entry(img, s, idx,
                       "partially present block in a non-differencing disk",
                       err);
    if ((s->bat[bitmap_index(s, b / s->chunk_ratio)] & 7) != SB_PRESENT)
      return bad_entry(img, s, idx,
                       "partially present block without a sector bitmap", err);
    break;
  case PAYLOAD_FULLY_PRESENT:
    break;
  default:
    return bad_entry(img, s, idx, "invalid payload block state", err);
  }
  uint64_t bs = s->meta.block_size, left = s->meta.disk_size - b * bs;
  uint64_t need = left < bs ? left : bs;
  if (off < MiB || off > s->file_size || need > s->file_size - off)
    return bad_entry(img, s, idx, "payload block is outside the file", err);
  return 0;
}

static int check_bitmap_entry(h2k_image *img, struct vhdx_state *s, uint64_t c,
                              h2k_error *err) {
  uint64_t idx = bitmap_index(s, c);
  uint64_t e = s->bat[idx], off = e & ~(MiB - 1);
  if ((e & 7) == SB_NOT_PRESENT)
    return 0;
  if ((e & 7) != SB_PRESENT)
    return bad_entry(img, s, idx, "invalid sector bitmap state", err);
  if (off < MiB || off > s->file_size ||
      VHDX_SECTOR_BITMAP_SIZE > s->file_size - off)
    return bad_entry(img, s, idx, "sector bitmap block is outside the file",
                     err);
  return 0;
}

static int load_bat(h2k_image *img, struct vhdx_state *s, h2k_error *err) {
  const char *path = img->file->path;
  uint64_t bs = s->meta.block_size;
  s->chunk_ratio = (UINT64_C(1) << 23) * s->meta.logical_sector / bs;
  s->payload_blocks = (s->meta.disk_size + bs - 1) / bs;
  uint64_t chunks = (s->payload_blocks + s->chunk_ratio - 1) / s->chunk_ratio;
  /* Differencing disks need every chunk's bitmap entry; the others may end
   * after the last payload entry. */
  s->bat_entries = s->differencing
                       ? chunks * (s->chunk_ratio + 1)
                       : payload_index(s, s->payload_blocks - 1) + 1;
  if (s->bat_entries * 8 > s->reg.bat_length ||
      s->bat_entries * 8 > H2K_MAX_TABLE_BYTES) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX BAT region (%" PRIu32 " bytes at offset %" PRIu64
                ") is too small for %" PRIu64 " entries",
                path, s->reg.bat_length, s->reg.bat_offset, s->bat_entries);
    return -1;
  }
  s->bat = malloc(s->bat_entries * 8);
  uint8_t *raw = malloc(s->bat_entries * 8);
  if (!s->bat || !raw) {
    free(raw);
    h2k_err_set(err, H2K_E_FAIL, "%s: out of memory for the VHDX BAT", path);
    return -1;
  }
  int rc = vhdx_pread(img, raw, s->bat_entries * 8, s->reg.bat_offset,
                      "VHDX BAT", err);
  for (uint64_t i = 0; rc == 0 && i < s->bat_entries; i++)
    s->bat[i] = h2k_le64(raw + 8 * i);
  free(raw);
  for (uint64_t c = 0; rc == 0 && s->differencing && c < chunks; c++)
    rc = check_bitmap_entry(img, s, c, err);
  for (uint64_t b = 0; rc == 0 && b < s->payload_blocks; b++)
    rc = check_block_entry(img, s, b, err);
  return rc;
}

static void vhdx_close(h2k_image *img) {
  struct vhdx_state *s = img->priv;
  if (!s)
    return;
  free(s->bat);
  h2k_vhdx_overlay_free(s->ov);
  free(s);
  img->priv = NULL;
}

static int vhdx_open(h2k_image *img, h2k_error *err) {
  struct vhdx_state *s = calloc(1, sizeof *s);
  if (!s) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  img->priv = s;
  if (load_header(img, s, err) < 0 || replay_log(img, s, err) < 0 ||
      load_regions(img, s, err) < 0 || load_metadata(img, s, err) < 0)
    goto fail;
  s->differencing = s->meta.has_parent;
  if (load_bat(img, s, err) < 0)
    goto fail;
  img->virtual_size = s->meta.disk_size;
  if (!img->subformat)
    img->subformat = strdup(s->differencing           ? "differencing"
                            : s->meta.leave_allocated ? "fixed"
                                                      : "dynamic");
  return 0;
fail:
  vhdx_close(img);
  free(img->subformat);
  free(img->backing_name);
  free(img->backing_path);
  free(img->backing_format);
  img->subformat = img->backing_name = img->backing_path = NULL;
  img->backing_format = NULL;
  return -1;
}

/* ---- parent ---- */

static int set_parent(h2k_image *img, struct h2k_vhdx_parent *p,
                      h2k_error *err) {
  struct vhdx_state *s = img->priv;
  const char *path = img->file->path;
  if (!p->parent_linkage || h2k_guid_parse(p->parent_linkage, s->linkage) < 0) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX parent locator has no valid parent_linkage GUID",
                path);
    return -1;
  }
  s->have_linkage2 = p->parent_linkage2 &&
                     h2k_guid_parse(p->parent_linkage2, s->linkage2) == 0;
  const char *names[] = {p->relative_path, p->absolute_path,
                         p->absolute_path ? h2k_vhd_basename(p->absolute_path)
                                          : NULL};
  char tried[900] = "";
  char *found = NULL;
  for (size_t i = 0; i < 3 && !found; i++) {
    if (!names[i])
      continue;
    char *native = h2k_vhd_native_path(names[i], false);
    if (!native)
      continue;
    found = h2k_vhd_try_parent(img->file, native);
    size_t used = strlen(tried);
    snprintf(tried + used, sizeof tried - used, "%s'%s'", used ? ", " : "",
             native);
    free(native);
  }
  const char *name = p->relative_path   ? p->relative_path
                     : p->absolute_path ? p->absolute_path
                                        : "(no path stored)";
  if (!found) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: parent '%s' of differencing VHDX not found (tried %s)",
                path, name, tried[0] ? tried : "nothing: no usable path");
    return -1;
  }
  img->backing_path = found;
  img->backing_name = strdup(name);
  img->backing_format = strdup("vhdx");
  return 0;
}

static int vhdx_check_parent(h2k_image *child, h2k_image *parent,
                             h2k_error *err) {
  struct vhdx_state *s = child->priv;
  if (parent->drv != &h2k_driver_vhdx) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: parent %s of differencing VHDX is a %s image, not VHDX",
                child->file->path, parent->file->path, parent->drv->name);
    return -1;
  }
  struct vhdx_state *ps = parent->priv;
  if (memcmp(ps->hdr.data_write_guid, s->linkage, 16) == 0 ||
      (s->have_linkage2 &&
       memcmp(ps->hdr.data_write_guid, s->linkage2, 16) == 0))
    return 0;
  char want[37], have[37];
  h2k_guid_format(s->linkage, want);
  h2k_guid_format(ps->hdr.data_write_guid, have);
  h2k_err_set(err, H2K_E_INPUT,
              "%s: parent %s has data write GUID {%s}, but the differencing "
              "VHDX expects parent_linkage {%s} (the parent was modified "
              "after the child was created)",
              child->file->path, parent->file->path, have, want);
  return -1;
}

/* ---- block status and reads ---- */

static enum h2k_extent_kind state_kind(const struct vhdx_state *s,
                                       uint64_t state) {
  switch (state) {
  case PAYLOAD_FULLY_PRESENT:
    return H2K_EXTENT_DATA;
  case PAYLOAD_NOT_PRESENT:
    return s->differencing ? H2K_EXTENT_UNALLOC : H2K_EXTENT_ZERO;
  default:
    return H2K_EXTENT_ZERO;
  }
}

/* Inside a partially present block: the run of sectors whose bitmap bit
 * equals the first one's, from `off`, at most `max` bytes. */
static int partial_status(h2k_image *img, struct vhdx_state *s, uint64_t off,
                          uint64_t max, h2k_extent *ext, h2k_error *err) {
  uint64_t bs = s->meta.block_size, ss = s->meta.logical_sector;
  uint64_t block = off / bs;
  uint64_t chunk = block / s->chunk_ratio;
  uint64_t bm_off = s->bat[bitmap_index(s, chunk)] & ~(MiB - 1);
  /* Sector number within the chunk, and the last one we may look at. */
  uint64_t first = (block % s->chunk_ratio) * (bs / ss) + (off % bs) / ss;
  uint64_t last = first + ((off % ss) + max - 1) / ss;
  uint64_t b0 = first / 8, nbytes = last / 8 - b0 + 1;
  uint8_t *bm = malloc(nbytes);
  if (!bm) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory");
    return -1;
  }
  if (vhdx_pread(img, bm, nbytes, bm_off + b0, "VHDX sector bitmap", err) < 0) {
    free(bm);
    return -1;
  }
  bool set = bm[0] >> (first % 8) & 1;
  uint64_t k = first + 1;
  for (; k <= last; k++)
    if ((bool)(bm[k / 8 - b0] >> (k % 8) & 1) != set)
      break;
  free(bm);
  uint64_t run = (k - first) * ss - off % ss;
  ext->length = run < max ? run : max;
  ext->kind = set ? H2K_EXTENT_DATA : H2K_EXTENT_UNALLOC;
  return 0;
}

static int vhdx_block_status(h2k_image *img, uint64_t off, uint64_t len,
                             h2k_extent *ext, h2k_error *err) {
  struct vhdx_state *s = img->priv;
  uint64_t bs = s->meta.block_size;
  ext->offset = off;
  if (len > img->virtual_size - off)
    len = img->virtual_size - off;
  uint64_t block = off / bs;
  uint64_t state = s->bat[payload_index(s, block)] & 7;
  uint64_t max = bs - off % bs < len ? bs - off % bs : len;
  if (state == PAYLOAD_PARTIALLY_PRESENT)
    return partial_status(img, s, off, max, ext, err);
  /* Merge following blocks of the same kind. */
  enum h2k_extent_kind kind = state_kind(s, state);
  uint64_t run = bs - off % bs;
  for (uint64_t b = block + 1; b < s->payload_blocks && run < len; b++) {
    uint64_t st = s->bat[payload_index(s, b)] & 7;
    if (st == PAYLOAD_PARTIALLY_PRESENT || state_kind(s, st) != kind)
      break;
    run += bs;
  }
  ext->length = run < len ? run : len;
  ext->kind = kind;
  return 0;
}

static int vhdx_read(h2k_image *img, uint64_t off, void *buf, size_t len,
                     h2k_error *err) {
  struct vhdx_state *s = img->priv;
  uint64_t bs = s->meta.block_size;
  uint8_t *out = buf;
  while (len) {
    uint64_t block = off / bs, in_block = off % bs;
    size_t n = bs - in_block < len ? bs - in_block : len;
    uint64_t e =
        block < s->payload_blocks ? s->bat[payload_index(s, block)] : 0;
    uint64_t state = e & 7;
    if (state == PAYLOAD_FULLY_PRESENT || state == PAYLOAD_PARTIALLY_PRESENT) {
      if (vhdx_pread(img, out, n, (e & ~(MiB - 1)) + in_block,
                     "VHDX payload block", err) < 0)
        return -1;
    } else {
      memset(out, 0, n);
    }
    out += n;
    off += n;
    len -= n;
  }
  return 0;
}

static int vhdx_probe(const uint8_t *head, size_t len, const char *path) {
  (void)path;
  return len >= 8 && memcmp(head, "vhdxfile", 8) == 0 ? 100 : 0;
}

const struct h2k_image_driver h2k_driver_vhdx = {
    .name = "vhdx",
    .probe = vhdx_probe,
    .open = vhdx_open,
    .block_status = vhdx_block_status,
    .read = vhdx_read,
    .check_parent = vhdx_check_parent,
    .close = vhdx_close,
};
