/* Unit tests for the VHD / VHDX parsers on crafted buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/image.h"
#include "image/vhd_common.h"

/* ---- little helpers to build structures ---- */

static void put_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put_be32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static void put_be64(uint8_t *p, uint64_t v) {
  put_be32(p, (uint32_t)(v >> 32));
  put_be32(p + 4, (uint32_t)v);
}
static void put_le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v) {
  put_le32(p, (uint32_t)v);
  put_le32(p + 4, (uint32_t)(v >> 32));
}
static void put_guid(uint8_t *p, const char *text) {
  assert_int_equal(h2k_guid_parse(text, p), 0);
}
static void seal_crc(uint8_t *buf, size_t len, size_t csum_off) {
  memset(buf + csum_off, 0, 4);
  put_le32(buf + csum_off, h2k_crc32c(0, buf, len));
}

#define assert_err_has(e, s) assert_non_null(strstr(h2k_error_text(e), (s)))

/* ---- checksums and text ---- */

static void test_crc32c_vectors(void **state) {
  (void)state;
  assert_int_equal(h2k_crc32c(0, "123456789", 9), 0xE3069283u);
  assert_int_equal(h2k_crc32c(0, "", 0), 0);
  /* Incremental == one shot. */
  uint32_t c = h2k_crc32c(0, "1234", 4);
  assert_int_equal(h2k_crc32c(c, "56789", 5), 0xE3069283u);
  uint8_t zeros[32] = {0};
  assert_int_equal(h2k_crc32c(0, zeros, 32), 0x8A9136AAu);
}

static void test_vhdx_crc_field(void **state) {
  (void)state;
  uint8_t buf[64];
  for (int i = 0; i < 64; i++)
    buf[i] = (uint8_t)i;
  seal_crc(buf, sizeof buf, 4);
  assert_true(h2k_vhdx_crc_ok(buf, sizeof buf, 4));
  buf[40] ^= 1;
  assert_false(h2k_vhdx_crc_ok(buf, sizeof buf, 4));
}

static void test_vhd_checksum(void **state) {
  (void)state;
  uint8_t buf[16] = {1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 5};
  /* 1+2+3+4+5 = 15, the checksum bytes at 4..7 are skipped. */
  assert_int_equal(h2k_vhd_checksum(buf, sizeof buf, 4), ~15u);
}

static void test_utf16(void **state) {
  (void)state;
  const uint8_t le[] = {'a', 0, '\\', 0, 0xe9, 0, 0x3d, 0xd8, 0x00, 0xde, 0, 0};
  char *s = h2k_utf16_to_utf8(le, sizeof le, false);
  assert_string_equal(s, "a\\\xc3\xa9\xf0\x9f\x98\x80");
  free(s);
  const uint8_t be[] = {0, 'p', 0, '.', 0, 'v', 0, 0, 0, 'x'};
  s = h2k_utf16_to_utf8(be, sizeof be, true);
  assert_string_equal(s, "p.v");
  free(s);
  const uint8_t lone[] = {0x00, 0xdc, 'a', 0};
  assert_null(h2k_utf16_to_utf8(lone, sizeof lone, false));
  assert_null(h2k_utf16_to_utf8(le, 3, false));
}

static void test_guid(void **state) {
  (void)state;
  uint8_t g[16];
  assert_int_equal(h2k_guid_parse("{2DC27766-F623-4200-9D64-115E9BFD4A08}", g),
                   0);
  const uint8_t want[16] = {0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
                            0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08};
  assert_memory_equal(g, want, 16);
  char text[37];
  h2k_guid_format(g, text);
  assert_string_equal(text, "2dc27766-f623-4200-9d64-115e9bfd4a08");
  assert_int_equal(h2k_guid_parse("2DC27766-F623-4200-9D64-115E9BFD4A0", g),
                   -1);
  assert_int_equal(h2k_guid_parse("2DC27766F623-4200-9D64-115E9BFD4A08", g),
                   -1);
  assert_int_equal(h2k_guid_parse("{2DC27766-F623-4200-9D64-115E9BFD4A08", g),
                   -1);
}

static void test_native_path(void **state) {
  (void)state;
  char *p = h2k_vhd_native_path(".\\sub\\base.vhd", false);
  assert_string_equal(p, "sub/base.vhd");
  free(p);
  p = h2k_vhd_native_path("..\\base.vhdx", false);
  assert_string_equal(p, "../base.vhdx");
  free(p);
  p = h2k_vhd_native_path("file:///vms/my%20disk.vhd", true);
  assert_string_equal(p, "/vms/my disk.vhd");
  free(p);
  assert_string_equal(h2k_vhd_basename("C:\\VMs\\base.vhd"), "base.vhd");
  assert_string_equal(h2k_vhd_basename("plain"), "plain");
}

/* ---- VHD footer and dynamic header ---- */

static void make_footer(uint8_t f[512], uint32_t type, const char *creator,
                        uint64_t size, uint16_t c, uint8_t h, uint8_t s) {
  memset(f, 0, 512);
  memcpy(f, "conectix", 8);
  put_be32(f + 8, 2);
  put_be32(f + 12, 0x00010000);
  put_be64(f + 16, type == H2K_VHD_TYPE_FIXED ? UINT64_MAX : 512);
  memcpy(f + 28, creator, 4);
  put_be64(f + 40, size);
  put_be64(f + 48, size);
  put_be16(f + 56, c);
  f[58] = h;
  f[59] = s;
  put_be32(f + 60, type);
  memset(f + 68, 0xab, 16);
  put_be32(f + 64, h2k_vhd_checksum(f, 512, 64));
}

static void test_vhd_footer_ok(void **state) {
  (void)state;
  uint8_t f[512];
  h2k_error err = {0};
  struct h2k_vhd_footer ft;
  make_footer(f, H2K_VHD_TYPE_DYNAMIC, "qemu", 104865792, 1004, 12, 17);
  assert_int_equal(h2k_vhd_parse_footer(f, 512, &ft, "t", &err), 0);
  assert_int_equal(ft.disk_type, H2K_VHD_TYPE_DYNAMIC);
  assert_int_equal(ft.data_offset, 512);
  assert_int_equal(ft.chs_size, 104865792);
  assert_int_equal(h2k_vhd_virtual_size(&ft), 104865792);
  /* A 511-byte footer (old images): the last reserved byte is missing. */
  assert_int_equal(h2k_vhd_parse_footer(f, 511, &ft, "t", &err), 0);
}

static void test_vhd_footer_size_rules(void **state) {
  (void)state;
  uint8_t f[512];
  h2k_error err = {0};
  struct h2k_vhd_footer ft;
  /* Virtual PC: geometry wins over the size field. */
  make_footer(f, H2K_VHD_TYPE_FIXED, "vpc ", 104857600, 1004, 12, 17);
  assert_int_equal(h2k_vhd_parse_footer(f, 512, &ft, "t", &err), 0);
  assert_int_equal(h2k_vhd_virtual_size(&ft), 104865792);
  /* Hyper-V / qemu force_size: the size field wins. */
  make_footer(f, H2K_VHD_TYPE_FIXED, "win ", 104857600, 1004, 12, 17);
  assert_int_equal(h2k_vhd_parse_footer(f, 512, &ft, "t", &err), 0);
  assert_int_equal(h2k_vhd_virtual_size(&ft), 104857600);
  make_footer(f, H2K_VHD_TYPE_FIXED, "qem2", 104857600, 65535, 16, 255);
  assert_int_equal(h2k_vhd_parse_footer(f, 512, &ft, "t", &err), 0);
  assert_int_equal(h2k_vhd_virtual_size(&ft), 104857600);
  /* Maximal geometry: the size field, whatever the creator. */
  make_footer(f, H2K_VHD_TYPE_FIXED, "vpc ", UINT64_C(3) << 40, 65535, 16, 255);
  assert_int_equal(h2k_vhd_parse_footer(f, 512, &ft, "t", &err), 0);
  assert_int_equal(h2k_vhd_virtual_size(&ft), UINT64_C(3) << 40);
}

static void test_vhd_footer_bad(void **state) {
  (void)state;
  uint8_t f[512];
  h2k_error err = {0};
  struct h2k_vhd_footer ft;
  make_footer(f, H2K_VHD_TYPE_FIXED, "win ", 1 << 20, 20, 4, 17);
  f[100] ^= 1;
  assert_int_equal(h2k_vhd_parse_footer(f, 512, &ft, "FOOT", &err), -1);
  assert_int_equal(err.code, H2K_E_INPUT);
  assert_err_has(&err, "FOOT: VHD footer checksum mismatch");
  make_footer(f, 7, "win ", 1 << 20, 20, 4, 17);
  assert_int_equal(h2k_vhd_parse_footer(f, 512, &ft, "t", &err), -1);
  assert_err_has(&err, "unknown VHD disk type 7");
  make_footer(f, H2K_VHD_TYPE_FIXED, "win ", 1 << 20, 20, 4, 17);
  f[0] = 'C';
  assert_int_equal(h2k_vhd_parse_footer(f, 512, &ft, "t", &err), -1);
  assert_err_has(&err, "conectix");
}

static void make_dynhdr(uint8_t h[1024], uint32_t block_size,
                        uint32_t entries) {
  memset(h, 0, 1024);
  memcpy(h, "cxsparse", 8);
  put_be64(h + 8, UINT64_MAX);
  put_be64(h + 16, 1536);
  put_be32(h + 24, 0x00010000);
  put_be32(h + 28, entries);
  put_be32(h + 32, block_size);
  memset(h + 40, 0x11, 16);
  /* parent name "b.vhd" UTF-16BE, one W2ru locator */
  const char *name = "b.vhd";
  for (int i = 0; name[i]; i++)
    h[64 + 2 * i + 1] = (uint8_t)name[i];
  put_be32(h + 576, 0x57327275);
  put_be32(h + 576 + 8, 10);
  put_be64(h + 576 + 16, 4096);
  put_be32(h + 36, h2k_vhd_checksum(h, 1024, 36));
}

static void test_vhd_dynhdr(void **state) {
  (void)state;
  uint8_t h[1024];
  h2k_error err = {0};
  struct h2k_vhd_dynhdr dh;
  make_dynhdr(h, 2 << 20, 50);
  assert_int_equal(h2k_vhd_parse_dynhdr(h, &dh, "t", &err), 0);
  assert_int_equal(dh.block_size, 2 << 20);
  assert_int_equal(dh.max_table_entries, 50);
  assert_int_equal(dh.table_offset, 1536);
  assert_int_equal(dh.loc[0].code, 0x57327275);
  assert_int_equal(dh.loc[0].offset, 4096);
  char *name = h2k_utf16_to_utf8(dh.parent_name_raw, 512, true);
  assert_string_equal(name, "b.vhd");
  free(name);

  make_dynhdr(h, 3 << 20, 50);
  assert_int_equal(h2k_vhd_parse_dynhdr(h, &dh, "DH", &err), -1);
  assert_err_has(&err, "DH: invalid VHD block size 3145728");
  make_dynhdr(h, 1u << 30, 50);
  assert_int_equal(h2k_vhd_parse_dynhdr(h, &dh, "DH", &err), -1);
  make_dynhdr(h, 2 << 20, 50);
  h[600] ^= 0x40;
  assert_int_equal(h2k_vhd_parse_dynhdr(h, &dh, "DH", &err), -1);
  assert_err_has(&err, "dynamic header checksum mismatch");
}

/* ---- VHDX header, region table, metadata, locator ---- */

static void make_vhdx_header(uint8_t *b, uint64_t seq) {
  memset(b, 0, 4096);
  memcpy(b, "head", 4);
  put_le64(b + 8, seq);
  memset(b + 16, 0x21, 16);
  memset(b + 32, 0x42, 16);
  put_le16(b + 66, 1);
  put_le32(b + 68, 1 << 20);
  put_le64(b + 72, 1 << 20);
  seal_crc(b, 4096, 4);
}

static void test_vhdx_header(void **state) {
  (void)state;
  uint8_t *b = malloc(4096);
  h2k_error err = {0};
  struct h2k_vhdx_header hdr[2];
  make_vhdx_header(b, 7);
  assert_int_equal(h2k_vhdx_parse_header(b, &hdr[0], "H1", &err), 0);
  assert_int_equal(hdr[0].seq, 7);
  assert_int_equal(hdr[0].log_offset, 1 << 20);
  assert_int_equal(hdr[0].data_write_guid[0], 0x42);
  b[2000] = 1;
  assert_int_equal(h2k_vhdx_parse_header(b, &hdr[1], "H1", &err), -1);
  assert_err_has(&err, "H1: VHDX header CRC-32C mismatch");
  make_vhdx_header(b, 7);
  put_le16(b + 66, 2);
  seal_crc(b, 4096, 4);
  assert_int_equal(h2k_vhdx_parse_header(b, &hdr[1], "H1", &err), -1);
  assert_err_has(&err, "unsupported VHDX version 2");
  free(b);

  hdr[0].seq = 5;
  hdr[1].seq = 9;
  bool both[2] = {true, true}, first[2] = {true, false}, none[2] = {0};
  bool second[2] = {false, true};
  assert_int_equal(h2k_vhdx_pick_header(both, hdr), 1);
  assert_int_equal(h2k_vhdx_pick_header(first, hdr), 0);
  assert_int_equal(h2k_vhdx_pick_header(second, hdr), 1);
  assert_int_equal(h2k_vhdx_pick_header(none, hdr), -1);
  hdr[0].seq = 10;
  assert_int_equal(h2k_vhdx_pick_header(both, hdr), 0);
}

static void region_entry(uint8_t *b, int i, const char *guid, uint64_t off,
                         uint32_t len, uint32_t required) {
  uint8_t *e = b + 16 + 32 * i;
  put_guid(e, guid);
  put_le64(e + 16, off);
  put_le32(e + 24, len);
  put_le32(e + 28, required);
}

#define BAT_GUID "2DC27766-F623-4200-9D64-115E9BFD4A08"
#define META_GUID "8B7CA206-4790-4B9A-B8FE-575F050F886E"

static void make_regions(uint8_t *b, int n) {
  memset(b, 0, 65536);
  memcpy(b, "regi", 4);
  put_le32(b + 8, (uint32_t)n);
  region_entry(b, 0, BAT_GUID, 2 << 20, 1 << 20, 1);
  region_entry(b, 1, META_GUID, 3 << 20, 1 << 20, 1);
}

static void test_vhdx_regions(void **state) {
  (void)state;
  uint8_t *b = malloc(65536);
  h2k_error err = {0};
  struct h2k_vhdx_regions r;
  make_regions(b, 2);
  seal_crc(b, 65536, 4);
  assert_int_equal(h2k_vhdx_parse_regions(b, 8 << 20, &r, "R", &err), 0);
  assert_int_equal(r.bat_offset, 2 << 20);
  assert_int_equal(r.meta_offset, 3 << 20);
  assert_int_equal(r.meta_length, 1 << 20);

  /* Region past the end of the file. */
  assert_int_equal(h2k_vhdx_parse_regions(b, 3 << 20, &r, "R", &err), -1);
  assert_err_has(&err, "R: VHDX metadata region at offset 3145728");
  /* Bad CRC. */
  b[1000] = 9;
  assert_int_equal(h2k_vhdx_parse_regions(b, 8 << 20, &r, "R", &err), -1);
  assert_err_has(&err, "CRC-32C");
  /* Unknown required region. */
  make_regions(b, 3);
  region_entry(b, 2, "11111111-2222-3333-4444-555555555555", 4 << 20, 1 << 20,
               1);
  seal_crc(b, 65536, 4);
  assert_int_equal(h2k_vhdx_parse_regions(b, 8 << 20, &r, "R", &err), -1);
  assert_err_has(&err, "unsupported required VHDX region");
  /* ... but an optional one is fine. */
  region_entry(b, 2, "11111111-2222-3333-4444-555555555555", 4 << 20, 1 << 20,
               0);
  seal_crc(b, 65536, 4);
  assert_int_equal(h2k_vhdx_parse_regions(b, 8 << 20, &r, "R", &err), 0);
  /* Overlap, misalignment, missing region, absurd count. */
  make_regions(b, 2);
  region_entry(b, 1, META_GUID, 2 << 20, 1 << 20, 1);
  seal_crc(b, 65536, 4);
  assert_int_equal(h2k_vhdx_parse_regions(b, 8 << 20, &r, "R", &err), -1);
  assert_err_has(&err, "overlap");
  make_regions(b, 2);
  region_entry(b, 1, META_GUID, (3 << 20) + 4096, 1 << 20, 1);
  seal_crc(b, 65536, 4);
  assert_int_equal(h2k_vhdx_parse_regions(b, 8 << 20, &r, "R", &err), -1);
  make_regions(b, 1);
  seal_crc(b, 65536, 4);
  assert_int_equal(h2k_vhdx_parse_regions(b, 8 << 20, &r, "R", &err), -1);
  assert_err_has(&err, "lacks the metadata region");
  make_regions(b, 5000);
  seal_crc(b, 65536, 4);
  assert_int_equal(h2k_vhdx_parse_regions(b, 8 << 20, &r, "R", &err), -1);
  free(b);
}

struct meta_builder {
  uint8_t *region;
  uint32_t len;
  int n;
  uint32_t next_off;
};

static void meta_add(struct meta_builder *m, const char *guid, const void *data,
                     uint32_t len, uint32_t flags) {
  uint8_t *e = m->region + 32 + 32 * m->n++;
  put_guid(e, guid);
  put_le32(e + 16, m->next_off);
  put_le32(e + 20, len);
  put_le32(e + 24, flags);
  memcpy(m->region + m->next_off, data, len);
  m->next_off += (len + 7) / 8 * 8;
  put_le16(m->region + 10, (uint16_t)m->n);
}

static void make_meta(struct meta_builder *m, uint32_t block, uint32_t flags,
                      uint64_t size, uint32_t lss) {
  memset(m->region, 0, m->len);
  memcpy(m->region, "metadata", 8);
  m->n = 0;
  m->next_off = 65536;
  uint8_t fp[8], sz[8], ls[4], ps[4], p83[16];
  put_le32(fp, block);
  put_le32(fp + 4, flags);
  put_le64(sz, size);
  put_le32(ls, lss);
  put_le32(ps, 4096);
  memset(p83, 0x83, 16);
  meta_add(m, "CAA16737-FA36-4D43-B3B6-33F0AA44E76B", fp, 8, 4);
  meta_add(m, "2FA54224-CD1B-4876-B211-5DBED83BF4B8", sz, 8, 6);
  meta_add(m, "BECA12AB-B2E6-4523-93EF-C309E000C746", p83, 16, 6);
  meta_add(m, "8141BF1D-A96F-4709-BA47-F233A8FAAB5F", ls, 4, 6);
  meta_add(m, "CDA348C7-445D-4471-9CC9-E9885251C556", ps, 4, 6);
}

static void test_vhdx_metadata(void **state) {
  (void)state;
  struct meta_builder m = {.region = calloc(1, 1 << 20), .len = 1 << 20};
  h2k_error err = {0};
  struct h2k_vhdx_meta md;
  make_meta(&m, 32 << 20, 1, 100 << 20, 512);
  assert_int_equal(h2k_vhdx_parse_metadata(m.region, m.len, &md, "M", &err), 0);
  assert_int_equal(md.block_size, 32 << 20);
  assert_true(md.leave_allocated);
  assert_false(md.has_parent);
  assert_int_equal(md.disk_size, 100 << 20);
  assert_int_equal(md.logical_sector, 512);
  assert_int_equal(md.physical_sector, 4096);
  assert_true(md.have_page83);

  make_meta(&m, 3 << 20, 0, 100 << 20, 512);
  assert_int_equal(h2k_vhdx_parse_metadata(m.region, m.len, &md, "M", &err),
                   -1);
  assert_err_has(&err, "M: invalid VHDX block size 3145728");
  make_meta(&m, 512 << 20, 0, 100 << 20, 512);
  assert_int_equal(h2k_vhdx_parse_metadata(m.region, m.len, &md, "M", &err),
                   -1);
  make_meta(&m, 1 << 20, 0, 100 << 20, 1024);
  assert_int_equal(h2k_vhdx_parse_metadata(m.region, m.len, &md, "M", &err),
                   -1);
  assert_err_has(&err, "logical sector size 1024");
  make_meta(&m, 1 << 20, 0, UINT64_C(65) << 40, 512);
  assert_int_equal(h2k_vhdx_parse_metadata(m.region, m.len, &md, "M", &err),
                   -1);
  assert_err_has(&err, "virtual disk size");
  /* has_parent without a locator */
  make_meta(&m, 1 << 20, 2, 100 << 20, 512);
  assert_int_equal(h2k_vhdx_parse_metadata(m.region, m.len, &md, "M", &err),
                   -1);
  assert_err_has(&err, "without a parent locator");
  /* unknown required item */
  make_meta(&m, 1 << 20, 0, 100 << 20, 512);
  meta_add(&m, "01234567-89AB-CDEF-0123-456789ABCDEF", "xxxx", 4, 4);
  assert_int_equal(h2k_vhdx_parse_metadata(m.region, m.len, &md, "M", &err),
                   -1);
  assert_err_has(&err, "unsupported required VHDX metadata item");
  /* item outside the region */
  make_meta(&m, 1 << 20, 0, 100 << 20, 512);
  put_le32(m.region + 32 + 16, m.len - 4);
  assert_int_equal(h2k_vhdx_parse_metadata(m.region, m.len, &md, "M", &err),
                   -1);
  assert_err_has(&err, "outside the metadata region");
  /* a required item missing */
  make_meta(&m, 1 << 20, 0, 100 << 20, 512);
  put_le16(m.region + 10, 4);
  assert_int_equal(h2k_vhdx_parse_metadata(m.region, m.len, &md, "M", &err),
                   -1);
  assert_err_has(&err, "physical sector size");
  free(m.region);
}

static uint32_t put_utf16(uint8_t *p, const char *s) {
  uint32_t n = 0;
  for (; s[n]; n++)
    put_le16(p + 2 * n, (uint8_t)s[n]);
  return 2 * n;
}

static void test_vhdx_locator(void **state) {
  (void)state;
  uint8_t item[1024] = {0};
  put_guid(item, "B04AEFB7-D19E-4A81-B789-25B8E9445913");
  const char *kv[][2] = {
      {"parent_linkage", "{01020304-0506-0708-090A-0B0C0D0E0F10}"},
      {"relative_path", "..\\base\\b.vhdx"},
      {"absolute_win32_path", "C:\\base\\b.vhdx"},
      {"unknown_key", "zz"}};
  put_le16(item + 18, 4);
  uint32_t pos = 20 + 12 * 4;
  for (int i = 0; i < 4; i++) {
    uint8_t *e = item + 20 + 12 * i;
    uint32_t kl = put_utf16(item + pos, kv[i][0]);
    put_le32(e, pos);
    put_le16(e + 8, (uint16_t)kl);
    pos += kl;
    uint32_t vl = put_utf16(item + pos, kv[i][1]);
    put_le32(e + 4, pos);
    put_le16(e + 10, (uint16_t)vl);
    pos += vl;
  }
  h2k_error err = {0};
  struct h2k_vhdx_parent p;
  assert_int_equal(h2k_vhdx_parse_locator(item, pos, &p, "L", &err), 0);
  assert_string_equal(p.relative_path, "..\\base\\b.vhdx");
  assert_string_equal(p.absolute_path, "C:\\base\\b.vhdx");
  assert_string_equal(p.parent_linkage,
                      "{01020304-0506-0708-090A-0B0C0D0E0F10}");
  assert_null(p.volume_path);
  h2k_vhdx_parent_free(&p);

  /* A key running past the item. */
  put_le16(item + 20 + 8, 2000);
  assert_int_equal(h2k_vhdx_parse_locator(item, pos, &p, "L", &err), -1);
  assert_err_has(&err, "L: VHDX parent locator entry 0 is outside the item");
  /* Too many entries for the item. */
  put_le16(item + 18, 1000);
  assert_int_equal(h2k_vhdx_parse_locator(item, pos, &p, "L", &err), -1);
  /* Wrong locator type. */
  item[0] ^= 1;
  assert_int_equal(h2k_vhdx_parse_locator(item, pos, &p, "L", &err), -1);
  assert_err_has(&err, "not of the VHDX type");
}

/* ---- log replay over a crafted file ---- */

#define LOG_OFF (1u << 20)
#define LOG_LEN (1u << 20)

/* One log entry at log sector `sec`: a data descriptor writing `fill` at
 * file offset `target`, and a zero descriptor for `ztarget`. */
static void log_entry(uint8_t *log, uint32_t sec, uint64_t seq,
                      uint32_t tail_sec, const uint8_t guid[16],
                      uint64_t target, uint8_t fill, uint64_t ztarget) {
  uint8_t *h = log + (size_t)sec * 4096;
  memset(h, 0, 8192);
  memcpy(h, "loge", 4);
  put_le32(h + 8, 8192);
  put_le32(h + 12, tail_sec * 4096);
  put_le64(h + 16, seq);
  put_le32(h + 24, 2);
  memcpy(h + 32, guid, 16);
  put_le64(h + 48, 4 << 20);
  put_le64(h + 56, 4 << 20);
  uint8_t *d = h + 64;
  memcpy(d, "desc", 4);
  memset(d + 4, fill, 4); /* trailing bytes */
  memset(d + 8, fill, 8); /* leading bytes */
  put_le64(d + 16, target);
  put_le64(d + 24, seq);
  uint8_t *z = h + 96;
  memcpy(z, "zero", 4);
  put_le64(z + 8, 4096);
  put_le64(z + 16, ztarget);
  put_le64(z + 24, seq);
  uint8_t *s = h + 4096;
  memcpy(s, "data", 4);
  put_le32(s + 4, (uint32_t)(seq >> 32));
  memset(s + 8, fill, 4084);
  put_le32(s + 4092, (uint32_t)seq);
  seal_crc(h, 8192, 4);
}

static h2k_file *write_temp(const uint8_t *buf, size_t len, char *path) {
  strcpy(path, "/tmp/h2k-vhdx-log-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, buf, len), (ssize_t)len);
  close(fd);
  h2k_error err = {0};
  h2k_file *f = h2k_file_open(path, &err);
  assert_non_null(f);
  return f;
}

static void test_vhdx_log_replay(void **state) {
  (void)state;
  size_t fsize = 4 << 20;
  uint8_t *file = calloc(1, fsize);
  memset(file + (3 << 20), 0xee, 1 << 20);
  struct h2k_vhdx_header hdr = {.log_offset = LOG_OFF, .log_length = LOG_LEN};
  memset(hdr.log_guid, 0x77, 16);
  uint8_t *log = file + LOG_OFF;
  /* Sequence 5 (tail = itself), then 6 (tail = 5's sector), plus a stale
   * entry of another log GUID with a higher sequence number. */
  log_entry(log, 0, 5, 0, hdr.log_guid, 3 << 20, 0x11, (3 << 20) + 8192);
  log_entry(log, 2, 6, 0, hdr.log_guid, (3 << 20) + 4096, 0x22,
            (3 << 20) + 12288);
  uint8_t other[16];
  memset(other, 0x99, 16);
  log_entry(log, 10, 50, 10, other, 3 << 20, 0x33, 0);

  char path[64];
  h2k_file *f = write_temp(file, fsize, path);
  h2k_error err = {0};
  struct h2k_vhdx_overlay *ov = NULL;
  uint64_t size = fsize;
  assert_int_equal(h2k_vhdx_log_replay(f, &hdr, &ov, &size, &err), 0);
  assert_non_null(ov);
  uint8_t *buf = malloc(16384);
  memset(buf, 0xee, 16384);
  h2k_vhdx_overlay_apply(ov, buf, 16384, 3 << 20);
  uint8_t want[4096];
  memset(want, 0x11, 4096);
  assert_memory_equal(buf, want, 4096);
  memset(want, 0x22, 4096);
  assert_memory_equal(buf + 4096, want, 4096);
  memset(want, 0, 4096);
  assert_memory_equal(buf + 8192, want, 4096);
  assert_memory_equal(buf + 12288, want, 4096);
  assert_true(h2k_vhdx_overlay_touches(ov, 3 << 20, 1));
  assert_false(h2k_vhdx_overlay_touches(ov, 0, 4096));
  h2k_vhdx_overlay_free(ov);
  h2k_file_close(f);
  unlink(path);

  /* Break entry 5 (the tail of 6): the active sequence is broken. */
  log[4096 + 100] ^= 1;
  f = write_temp(file, fsize, path);
  assert_int_equal(h2k_vhdx_log_replay(f, &hdr, &ov, &size, &err), -1);
  assert_err_has(&err, "active sequence is broken");
  h2k_file_close(f);
  unlink(path);

  /* No valid entry for this GUID: nothing to replay. */
  memset(hdr.log_guid, 0x55, 16);
  f = write_temp(file, fsize, path);
  assert_int_equal(h2k_vhdx_log_replay(f, &hdr, &ov, &size, &err), 0);
  assert_null(ov);
  h2k_file_close(f);
  unlink(path);

  /* A log region outside the file. */
  hdr.log_offset = 4 << 20;
  f = write_temp(file, fsize, path);
  assert_int_equal(h2k_vhdx_log_replay(f, &hdr, &ov, &size, &err), -1);
  assert_err_has(&err, "log region");
  h2k_file_close(f);
  unlink(path);
  free(buf);
  free(file);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc32c_vectors),
      cmocka_unit_test(test_vhdx_crc_field),
      cmocka_unit_test(test_vhd_checksum),
      cmocka_unit_test(test_utf16),
      cmocka_unit_test(test_guid),
      cmocka_unit_test(test_native_path),
      cmocka_unit_test(test_vhd_footer_ok),
      cmocka_unit_test(test_vhd_footer_size_rules),
      cmocka_unit_test(test_vhd_footer_bad),
      cmocka_unit_test(test_vhd_dynhdr),
      cmocka_unit_test(test_vhdx_header),
      cmocka_unit_test(test_vhdx_regions),
      cmocka_unit_test(test_vhdx_metadata),
      cmocka_unit_test(test_vhdx_locator),
      cmocka_unit_test(test_vhdx_log_replay),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
