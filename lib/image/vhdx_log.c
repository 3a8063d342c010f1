/* VHDX log replay (MS-VHDX 2.3): a dirty log holds metadata/BAT/payload
 * writes that may not have reached their place in the file. We never write
 * the source, so the replayed writes go to an in-memory overlay that all
 * later reads of the image consult.
 *
 * The log is a circular buffer of 4 KiB sectors. An entry is a header
 * ("loge"), descriptors ("zero" / "desc") and one data sector ("data") per
 * data descriptor, CRC-32C protected. The active sequence runs from the
 * tail named by the newest valid entry up to that entry, with consecutive
 * sequence numbers.
 */
#include "image/image.h"
#include "image/vhd_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SECTOR 4096u
#define MiB (UINT64_C(1) << 20)
/* Replayed writes must stay below this file offset (sanity bound). */
#define LOG_MAX_FILE_OFFSET (UINT64_C(1) << 50)

struct ov_range {
  uint64_t off, len;
  uint8_t *data; /* NULL: zeros */
};

struct h2k_vhdx_overlay {
  struct ov_range *r;
  size_t n, cap;
};

struct log_entry {
  bool valid;
  uint64_t seq;
  uint32_t sectors; /* entry length / 4096 */
  uint32_t tail;    /* sector index of the sequence's first entry */
  uint32_t ndesc;
  uint64_t flushed_file_offset, last_file_offset;
};

struct log_view {
  const uint8_t *buf; /* the whole log region */
  uint32_t nsec;
  const uint8_t *guid;
};

/* Entry-relative byte `x` of the entry starting at sector `start`. */
static const uint8_t *at(const struct log_view *v, uint32_t start, uint64_t x) {
  uint64_t sec = (start + x / LOG_SECTOR) % v->nsec;
  return v->buf + sec * LOG_SECTOR + x % LOG_SECTOR;
}

static uint32_t desc_sectors(uint32_t ndesc) {
  return (uint32_t)((64 + 32 * (uint64_t)ndesc + LOG_SECTOR - 1) / LOG_SECTOR);
}

static bool entry_crc_ok(const struct log_view *v, uint32_t start,
                         uint32_t sectors) {
  static const uint8_t zero[4];
  const uint8_t *h = at(v, start, 0);
  uint32_t crc = h2k_crc32c(0, h, 4);
  crc = h2k_crc32c(crc, zero, 4);
  crc = h2k_crc32c(crc, h + 8, LOG_SECTOR - 8);
  for (uint32_t k = 1; k < sectors; k++)
    crc = h2k_crc32c(crc, at(v, start, (uint64_t)k * LOG_SECTOR), LOG_SECTOR);
  return crc == h2k_le32(h + 4);
}

/* Check the descriptors and data sectors of an entry. */
static bool entry_descs_ok(const struct log_view *v, uint32_t start,
                           const struct log_entry *e) {
  uint32_t data_sec = desc_sectors(e->ndesc);
  for (uint32_t j = 0; j < e->ndesc; j++) {
    const uint8_t *d = at(v, start, 64 + 32 * (uint64_t)j);
    uint64_t off = h2k_le64(d + 16);
    if (h2k_le64(d + 24) != e->seq || off % LOG_SECTOR)
      return false;
    if (memcmp(d, "zero", 4) == 0) {
      uint64_t len = h2k_le64(d + 8);
      if (len % LOG_SECTOR || off > LOG_MAX_FILE_OFFSET ||
          len > LOG_MAX_FILE_OFFSET - off)
        return false;
    } else if (memcmp(d, "desc", 4) == 0) {
      if (data_sec >= e->sectors || off > LOG_MAX_FILE_OFFSET)
        return false;
      const uint8_t *s = at(v, start, (uint64_t)data_sec * LOG_SECTOR);
      uint64_t seq = (uint64_t)h2k_le32(s + 4) << 32 | h2k_le32(s + 4092);
      if (memcmp(s, "data", 4) != 0 || seq != e->seq)
        return false;
      data_sec++;
    } else {
      return false;
    }
  }
  return true;
}

static void parse_entry(const struct log_view *v, uint32_t start,
                        struct log_entry *e) {
  const uint8_t *h = at(v, start, 0);
  memset(e, 0, sizeof *e);
  if (memcmp(h, "loge", 4) != 0 || memcmp(h + 32, v->guid, 16) != 0)
    return;
  uint32_t len = h2k_le32(h + 8), tail = h2k_le32(h + 12);
  e->seq = h2k_le64(h + 16);
  e->ndesc = h2k_le32(h + 24);
  e->flushed_file_offset = h2k_le64(h + 48);
  e->last_file_offset = h2k_le64(h + 56);
  if (len == 0 || len % LOG_SECTOR || len / LOG_SECTOR > v->nsec ||
      tail % LOG_SECTOR || tail / LOG_SECTOR >= v->nsec || e->seq == 0 ||
      e->ndesc > (uint64_t)v->nsec * LOG_SECTOR / 32 ||
      desc_sectors(e->ndesc) > len / LOG_SECTOR)
    return;
  e->sectors = len / LOG_SECTOR;
  e->tail = tail / LOG_SECTOR;
  e->valid = entry_crc_ok(v, start, e->sectors) && entry_descs_ok(v, start, e);
}

static int overlay_add(struct h2k_vhdx_overlay *ov, uint64_t off, uint64_t len,
                       const uint8_t *data) {
  if (ov->n == ov->cap) {
    size_t cap = ov->cap ? ov->cap * 2 : 16;
    struct ov_range *r = realloc(ov->r, cap * sizeof *r);
    if (!r)
      return -1;
    ov->r = r;
    ov->cap = cap;
  }
  uint8_t *copy = NULL;
  if (data) {
    copy = malloc(len);
    if (!copy)
      return -1;
    memcpy(copy, data, len);
  }
  ov->r[ov->n++] = (struct ov_range){off, len, copy};
  return 0;
}

static int apply_entry(const struct log_view *v, uint32_t start,
                       const struct log_entry *e, struct h2k_vhdx_overlay *ov,
                       uint64_t *end) {
  uint32_t data_sec = desc_sectors(e->ndesc);
  for (uint32_t j = 0; j < e->ndesc; j++) {
    const uint8_t *d = at(v, start, 64 + 32 * (uint64_t)j);
    uint64_t off = h2k_le64(d + 16);
    uint64_t len = LOG_SECTOR;
    int rc;
    if (memcmp(d, "zero", 4) == 0) {
      len = h2k_le64(d + 8);
      rc = overlay_add(ov, off, len, NULL);
    } else {
      /* The sector minus its first 8 and last 4 bytes, which the
       * descriptor carries (the data sector has its own header there). */
      uint8_t sector[LOG_SECTOR];
      const uint8_t *s = at(v, start, (uint64_t)data_sec++ * LOG_SECTOR);
      memcpy(sector, d + 8, 8);
      memcpy(sector + 8, s + 8, LOG_SECTOR - 12);
      memcpy(sector + LOG_SECTOR - 4, d + 4, 4);
      rc = overlay_add(ov, off, len, sector);
    }
    if (rc < 0)
      return -1;
    if (off + len > *end)
      *end = off + len;
  }
  return 0;
}

static int check_log_region(h2k_file *f, const struct h2k_vhdx_header *hdr,
                            h2k_error *err) {
  uint64_t off = hdr->log_offset, len = hdr->log_length;
  if (off < MiB || off % MiB || len == 0 || len % MiB ||
      len > H2K_MAX_TABLE_BYTES || off > f->size || len > f->size - off) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX log region at offset %" PRIu64 " length %" PRIu64
                " is misaligned or outside the file",
                f->path, off, len);
    return -1;
  }
  return 0;
}

/* Find the newest valid entry, and walk its sequence from the tail. Fills
 * order[] with the sector indexes to replay; returns their count, 0 if the
 * log holds no valid entry, -1 if the active sequence is broken. */
static long active_sequence(const struct log_view *v, struct log_entry *ents,
                            uint32_t *order) {
  long head = -1;
  for (uint32_t i = 0; i < v->nsec; i++) {
    parse_entry(v, i, &ents[i]);
    if (ents[i].valid && (head < 0 || ents[i].seq > ents[head].seq))
      head = i;
  }
  if (head < 0)
    return 0;
  uint32_t pos = ents[head].tail;
  uint64_t want = 0;
  long n = 0;
  for (;;) {
    if (n >= (long)v->nsec || !ents[pos].valid ||
        (n > 0 && ents[pos].seq != want))
      return -1;
    order[n++] = pos;
    if (pos == (uint32_t)head)
      return n;
    want = ents[pos].seq + 1;
    pos = (pos + ents[pos].sectors) % v->nsec;
  }
}

static int replay_sequence(h2k_file *f, const struct log_view *v,
                           const struct log_entry *ents, const uint32_t *order,
                           long n, struct h2k_vhdx_overlay *ov,
                           uint64_t *file_size, h2k_error *err) {
  const struct log_entry *head = &ents[order[n - 1]];
  if (head->flushed_file_offset > f->size) {
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX log expects the file to be at least %" PRIu64
                " bytes, it has %" PRIu64 " (truncated?)",
                f->path, head->flushed_file_offset, f->size);
    return -1;
  }
  uint64_t end = f->size;
  if (head->last_file_offset > end &&
      head->last_file_offset < LOG_MAX_FILE_OFFSET)
    end = head->last_file_offset;
  for (long k = 0; k < n; k++) {
    if (apply_entry(v, order[k], &ents[order[k]], ov, &end) < 0) {
      h2k_err_set(err, H2K_E_FAIL, "%s: out of memory replaying the VHDX log",
                  f->path);
      return -1;
    }
  }
  *file_size = end;
  return 0;
}

int h2k_vhdx_log_replay(h2k_file *f, const struct h2k_vhdx_header *hdr,
                        struct h2k_vhdx_overlay **out, uint64_t *file_size,
                        h2k_error *err) {
  *out = NULL;
  if (check_log_region(f, hdr, err) < 0)
    return -1;
  uint32_t nsec = hdr->log_length / LOG_SECTOR;
  uint8_t *buf = malloc(hdr->log_length);
  struct log_entry *ents = calloc(nsec, sizeof *ents);
  uint32_t *order = calloc(nsec, sizeof *order);
  struct h2k_vhdx_overlay *ov = calloc(1, sizeof *ov);
  int rc = -1;
  if (!buf || !ents || !order || !ov) {
    h2k_err_set(err, H2K_E_FAIL, "%s: out of memory for the VHDX log", f->path);
    goto done;
  }
  if (h2k_file_pread(f, buf, hdr->log_length, hdr->log_offset, "VHDX log",
                     err) < 0)
    goto done;
  struct log_view v = {buf, nsec, hdr->log_guid};
  long n = active_sequence(&v, ents, order);
  if (n < 0) {
    char g[37];
    h2k_guid_format(hdr->log_guid, g);
    h2k_err_set(err, H2K_E_INPUT,
                "%s: VHDX log (GUID {%s}, offset %" PRIu64
                ") is dirty and its active sequence is broken",
                f->path, g, hdr->log_offset);
    goto done;
  }
  if (n > 0 && replay_sequence(f, &v, ents, order, n, ov, file_size, err) < 0)
    goto done;
  if (ov->n) {
    *out = ov;
    ov = NULL;
  }
  rc = 0;
done:
  h2k_vhdx_overlay_free(ov);
  free(order);
  free(ents);
  free(buf);
  return rc;
}

void h2k_vhdx_overlay_apply(const struct h2k_vhdx_overlay *ov, void *buf,
                            size_t len, uint64_t off) {
  if (!ov)
    return;
  uint8_t *out = buf;
  for (size_t i = 0; i < ov->n; i++) {
    const struct ov_range *r = &ov->r[i];
    uint64_t lo = r->off > off ? r->off : off;
    uint64_t hi_r = r->off + r->len, hi_b = off + len;
    uint64_t hi = hi_r < hi_b ? hi_r : hi_b;
    if (lo >= hi)
      continue;
    if (r->data)
      memcpy(out + (lo - off), r->data + (lo - r->off), hi - lo);
    else
      memset(out + (lo - off), 0, hi - lo);
  }
}

bool h2k_vhdx_overlay_touches(const struct h2k_vhdx_overlay *ov, uint64_t off,
                              uint64_t len) {
  for (size_t i = 0; ov && i < ov->n; i++)
    if (ov->r[i].off < off + len && off < ov->r[i].off + ov->r[i].len)
      return true;
  return false;
}

void h2k_vhdx_overlay_free(struct h2k_vhdx_overlay *ov) {
  if (!ov)
    return;
  for (size_t i = 0; i < ov->n; i++)
    free(ov->r[i].data);
  free(ov->r);
  free(ov);
}
