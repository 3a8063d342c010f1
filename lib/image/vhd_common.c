/* Checksums, UTF-16 and parent-path helpers shared by the VHD and VHDX
 * readers. */
#include "image/vhd_common.h"

#include "core/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- CRC-32C ---- */

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc32c_table[i] = c;
  }
}

uint32_t h2k_crc32c(uint32_t crc, const void *buf, size_t len) {
  pthread_once(&crc32c_once, crc32c_init);
  const uint8_t *p = buf;
  crc = ~crc;
  for (size_t i = 0; i < len; i++)
    crc = crc32c_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

bool h2k_vhdx_crc_ok(const uint8_t *buf, size_t len, size_t csum_off) {
  static const uint8_t zero[4];
  if (csum_off + 4 > len)
    return false;
  uint32_t crc = h2k_crc32c(0, buf, csum_off);
  crc = h2k_crc32c(crc, zero, 4);
  crc = h2k_crc32c(crc, buf + csum_off + 4, len - csum_off - 4);
  return crc == h2k_le32(buf + csum_off);
}

uint32_t h2k_vhd_checksum(const uint8_t *buf, size_t len, size_t csum_off) {
  uint32_t sum = 0;
  for (size_t i = 0; i < len; i++)
    if (i < csum_off || i >= csum_off + 4)
      sum += buf[i];
  return ~sum;
}

/* ---- text ---- */

static size_t utf8_put(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18);
  out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

char *h2k_utf16_to_utf8(const uint8_t *src, size_t bytes, bool big_endian) {
  if (bytes % 2)
    return NULL;
  size_t units = bytes / 2;
  /* Each unit yields at most 3 bytes (a surrogate pair: 4 for 2 units). */
  char *out = malloc(units * 3 + 1);
  if (!out)
    return NULL;
  size_t o = 0;
  for (size_t i = 0; i < units; i++) {
    const uint8_t *p = src + 2 * i;
    uint32_t u = big_endian ? h2k_be16(p) : h2k_le16(p);
    if (u == 0)
      break;
    if (u >= 0xDC00 && u <= 0xDFFF)
      goto bad;
    if (u >= 0xD800 && u <= 0xDBFF) {
      if (i + 1 >= units)
        goto bad;
      const uint8_t *q = p + 2;
      uint32_t lo = big_endian ? h2k_be16(q) : h2k_le16(q);
      if (lo < 0xDC00 || lo > 0xDFFF)
        goto bad;
      u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
      i++;
    }
    o += utf8_put(out + o, u);
  }
  out[o] = '\0';
  return out;
bad:
  free(out);
  return NULL;
}

void h2k_guid_format(const uint8_t g[16], char out[37]) {
  snprintf(out, 37, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           h2k_le32(g), h2k_le16(g + 4), h2k_le16(g + 6), g[8], g[9], g[10],
           g[11], g[12], g[13], g[14], g[15]);
}

int h2k_guid_parse(const char *text, uint8_t out[16]) {
  /* Digits in text order; the first three fields are stored little endian. */
  static const int pos[16] = {3, 2, 1,  0,  5,  4,  7,  6,
                              8, 9, 10, 11, 12, 13, 14, 15};
  static const int dash_after[] = {8, 12, 16, 20};
  uint8_t seq[16];
  const char *p = text;
  bool braced = *p == '{';
  if (braced)
    p++;
  int ndig = 0, dash = 0;
  while (ndig < 32) {
    if (dash < 4 && ndig == dash_after[dash]) {
      if (*p++ != '-')
        return -1;
      dash++;
      continue;
    }
    int hi = h2k_hexval(p[0]), lo = hi < 0 ? -1 : h2k_hexval(p[1]);
    if (lo < 0)
      return -1;
    seq[ndig / 2] = (uint8_t)(hi << 4 | lo);
    p += 2;
    ndig += 2;
  }
  if (braced && *p++ != '}')
    return -1;
  if (*p)
    return -1;
  for (int i = 0; i < 16; i++)
    out[pos[i]] = seq[i];
  return 0;
}

/* ---- parent paths ---- */

char *h2k_vhd_native_path(const char *name, bool url) {
  size_t n = strlen(name);
  char *out = malloc(n + 1);
  if (!out)
    return NULL;
  const char *p = name;
  if (url && strncmp(p, "file://", 7) == 0)
    p += 7;
  size_t o = 0;
  for (; *p; p++) {
    if (url && p[0] == '%' && h2k_hexval(p[1]) >= 0 && h2k_hexval(p[2]) >= 0) {
      out[o++] = (char)(h2k_hexval(p[1]) << 4 | h2k_hexval(p[2]));
      p += 2;
    } else {
      out[o++] = *p == '\\' ? '/' : *p;
    }
  }
  out[o] = '\0';
  while (strncmp(out, "./", 2) == 0)
    memmove(out, out + 2, strlen(out + 2) + 1);
  return out;
}

const char *h2k_vhd_basename(const char *path) {
  const char *base = path;
  for (const char *p = path; *p; p++)
    if (*p == '/' || *p == '\\')
      base = p + 1;
  return base;
}

static bool is_windows_absolute(const char *s) {
  return ((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')) &&
         s[1] == ':';
}

char *h2k_vhd_try_parent(const h2k_file *f, const char *native) {
  if (!native || !native[0] || is_windows_absolute(native) ||
      strncmp(native, "//", 2) == 0)
    return NULL;
  char *path = h2k_file_sibling(f, native);
  if (!path)
    return NULL;
  struct stat st;
  if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0)
    return path;
  free(path);
  return NULL;
}
