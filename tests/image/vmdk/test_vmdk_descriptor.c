/* Unit tests of the VMDK text descriptor parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "image/vmdk_descriptor.h"

static int parse(const char *text, bool embedded, struct vmdk_descriptor *d,
                 h2k_error *err) {
  h2k_err_clear(err);
  return vmdk_desc_parse(text, strlen(text), "test.vmdk", embedded, d, err);
}

/* Parsing `text` fails with H2K_E_INPUT and a message holding `needle`. */
static void expect_failure(const char *text, const char *needle) {
  struct vmdk_descriptor d;
  h2k_error err;
  assert_int_equal(parse(text, false, &d, &err), -1);
  assert_int_equal(err.code, H2K_E_INPUT);
  if (!strstr(h2k_error_text(&err), needle))
    fail_msg("message '%s' lacks '%s'", h2k_error_text(&err), needle);
  assert_int_equal(d.n_extents, 0);
  assert_null(d.extents);
}

static const char qemu_sparse[] = "# Disk DescriptorFile\n"
                                  "version=1\n"
                                  "CID=5a1b2c3d\n"
                                  "parentCID=ffffffff\n"
                                  "createType=\"monolithicSparse\"\n"
                                  "\n"
                                  "# Extent description\n"
                                  "RW 2097152 SPARSE \"disk.vmdk\"\n"
                                  "\n"
                                  "# The Disk Data Base\n"
                                  "#DDB\n"
                                  "\n"
                                  "ddb.virtualHWVersion = \"4\"\n"
                                  "ddb.geometry.cylinders = \"2080\"\n"
                                  "ddb.adapterType = \"lsilogic\"\n";

static void test_qemu_descriptor(void **state) {
  (void)state;
  struct vmdk_descriptor d;
  h2k_error err;
  assert_int_equal(parse(qemu_sparse, false, &d, &err), 0);
  assert_int_equal(d.version, 1);
  assert_true(d.has_cid);
  assert_int_equal(d.cid, 0x5a1b2c3d);
  assert_int_equal(d.parent_cid, VMDK_CID_NONE);
  assert_string_equal(d.create_type, "monolithicSparse");
  assert_null(d.parent_hint);
  assert_string_equal(d.adapter_type, "lsilogic");
  assert_int_equal(d.n_extents, 1);
  assert_int_equal(d.extents[0].access, VMDK_ACCESS_RW);
  assert_int_equal(d.extents[0].type, VMDK_EXT_SPARSE);
  assert_int_equal(d.extents[0].sectors, 2097152);
  assert_int_equal(d.extents[0].offset, 0);
  assert_int_equal(d.extents[0].line, 8);
  assert_string_equal(d.extents[0].file, "disk.vmdk");
  assert_int_equal(d.total_sectors, 2097152);
  vmdk_desc_free(&d);
}

static void test_all_create_types(void **state) {
  (void)state;
  static const char *types[] = {
      "monolithicSparse",   "monolithicFlat",       "twoGbMaxExtentSparse",
      "twoGbMaxExtentFlat", "streamOptimized",      "vmfs",
      "vmfsThin",           "vmfsSparse",           "seSparse",
      "vmfsPreallocated",   "vmfsEagerZeroedThick", "custom"};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    char text[256];
    snprintf(text, sizeof text,
             "createType=\"%s\"\nRW 8 FLAT \"x-flat.vmdk\" 0\n", types[i]);
    struct vmdk_descriptor d;
    h2k_error err;
    assert_int_equal(parse(text, false, &d, &err), 0);
    assert_string_equal(d.create_type, types[i]);
    vmdk_desc_free(&d);
  }
}

static void test_case_insensitive(void **state) {
  (void)state;
  struct vmdk_descriptor d;
  h2k_error err;
  assert_int_equal(parse("CREATETYPE = \"TWOGBMAXEXTENTFLAT\"\n"
                         "rw 100 flat \"a.vmdk\" 0\n"
                         "rdonly 50 Sparse \"b.vmdk\"\n"
                         "NoAccess 10 zero\n",
                         false, &d, &err),
                   0);
  assert_string_equal(d.create_type, "twoGbMaxExtentFlat");
  assert_int_equal(d.n_extents, 3);
  assert_int_equal(d.extents[0].access, VMDK_ACCESS_RW);
  assert_int_equal(d.extents[1].access, VMDK_ACCESS_RDONLY);
  assert_int_equal(d.extents[1].type, VMDK_EXT_SPARSE);
  assert_int_equal(d.extents[2].access, VMDK_ACCESS_NOACCESS);
  assert_int_equal(d.extents[2].type, VMDK_EXT_ZERO);
  assert_null(d.extents[2].file);
  assert_int_equal(d.total_sectors, 160);
  vmdk_desc_free(&d);
}

static void test_extent_forms(void **state) {
  (void)state;
  struct vmdk_descriptor d;
  h2k_error err;
  assert_int_equal(parse("createType=\"vmfs\"\r\n"
                         "\tRW 2048 VMFS \"my disk-flat.vmdk\" 100  \r\n"
                         "RW 4096 VMFS bare-flat.vmdk\r\n"
                         "RW 8 ZERO\r\n"
                         "RW 16 VMFSSPARSE \"d-delta.vmdk\"\r\n"
                         "RW 32 SESPARSE \"d-sesparse.vmdk\" 0\r\n",
                         false, &d, &err),
                   0);
  assert_int_equal(d.n_extents, 5);
  assert_string_equal(d.extents[0].file, "my disk-flat.vmdk");
  assert_int_equal(d.extents[0].offset, 100);
  assert_int_equal(d.extents[0].type, VMDK_EXT_VMFS);
  assert_string_equal(d.extents[1].file, "bare-flat.vmdk");
  assert_int_equal(d.extents[1].offset, 0);
  assert_int_equal(d.extents[2].type, VMDK_EXT_ZERO);
  assert_int_equal(d.extents[3].type, VMDK_EXT_VMFSSPARSE);
  assert_int_equal(d.extents[4].type, VMDK_EXT_SESPARSE);
  assert_int_equal(d.total_sectors, 2048 + 4096 + 8 + 16 + 32);
  vmdk_desc_free(&d);
}

static void test_parent_fields(void **state) {
  (void)state;
  struct vmdk_descriptor d;
  h2k_error err;
  assert_int_equal(parse("version=1\nCID=0000000a\nparentCID=FFFFFFFE\n"
                         "createType=\"monolithicSparse\"\n"
                         "parentFileNameHint=\"../base dir/base.vmdk\"\n"
                         "RW 8 SPARSE \"child.vmdk\"\n",
                         false, &d, &err),
                   0);
  assert_int_equal(d.cid, 0xa);
  assert_int_equal(d.parent_cid, 0xfffffffe);
  assert_string_equal(d.parent_hint, "../base dir/base.vmdk");
  vmdk_desc_free(&d);
}

static void test_embedded(void **state) {
  (void)state;
  /* Zero padding ends the text; no createType/extent needed when embedded. */
  char text[64] = "CID=12345678\n";
  struct vmdk_descriptor d;
  h2k_error err;
  assert_int_equal(vmdk_desc_parse(text, sizeof text, "x.vmdk", true, &d, &err),
                   0);
  assert_int_equal(d.cid, 0x12345678);
  assert_null(d.create_type);
  assert_int_equal(d.n_extents, 0);
  vmdk_desc_free(&d);
  assert_int_equal(
      vmdk_desc_parse(text, sizeof text, "x.vmdk", false, &d, &err), -1);
  assert_non_null(strstr(err.message, "no createType"));
}

static void test_bad_create_types(void **state) {
  (void)state;
  expect_failure("createType=\"superSparse\"\nRW 8 FLAT \"a\"\n",
                 "unknown createType");
  expect_failure("createType=\"vmfsRawDeviceMap\"\nRW 8 VMFSRDM \"a\"\n",
                 "raw device mapping");
  expect_failure("createType=\"fullDevice\"\nRW 8 FLAT \"/dev/sda\"\n",
                 "not supported");
  expect_failure("RW 8 FLAT \"a\"\n", "no createType");
  expect_failure("createType=\"monolithicFlat\"\n", "no extent lines");
}

static void test_bad_extents(void **state) {
  (void)state;
  const char *h = "createType=\"monolithicFlat\"\n";
  char text[512];
#define BAD(line, needle)                                                      \
  do {                                                                         \
    snprintf(text, sizeof text, "%s%s\n", h, line);                            \
    expect_failure(text, needle);                                              \
  } while (0)
  BAD("RW 0 FLAT \"a\"", "0 sectors");
  BAD("RW x FLAT \"a\"", "not a number");
  BAD("RW -5 FLAT \"a\"", "not a number");
  BAD("RW 99999999999999999999999 FLAT \"a\"", "not a number");
  BAD("RW 8 FLOPPY \"a\"", "unknown extent type");
  BAD("RW 8 VMFSRAW \"a\"", "raw device");
  BAD("RW 8 FLAT", "without a file name");
  BAD("RW 8 FLAT \"a", "unterminated");
  BAD("RW 8 FLAT \"\"", "empty extent file name");
  BAD("RW 8 FLAT \"a\"x", "glued");
  BAD("RW 8 FLAT \"a\" 1x", "offset is not a number");
  BAD("RW 8 SPARSE \"a\" 12", "only FLAT and VMFS");
  BAD("RW 8 FLAT \"a\" 0 junk", "unexpected text");
  BAD("RW 8", "extent line without a type");
  BAD("RW 140737488355328 FLAT \"a\"", "64 TiB");
#undef BAD
}

static void test_bad_lines(void **state) {
  (void)state;
  expect_failure("createType=\"vmfs\"\nhello world\nRW 8 VMFS \"a\"\n",
                 "line 2: not a descriptor line: 'hello world'");
  expect_failure("createType=\"vmfs\"\nbad key=1\nRW 8 VMFS \"a\"\n",
                 "bad key");
  expect_failure("createType=\"vmfs\nRW 8 VMFS \"a\"\n", "unterminated");
  expect_failure("CID=xyz\ncreateType=\"vmfs\"\nRW 8 VMFS \"a\"\n",
                 "CID is not a 32-bit hex");
  expect_failure("CID=123456789\ncreateType=\"vmfs\"\nRW 8 VMFS \"a\"\n",
                 "CID is not");
  expect_failure("version=4\ncreateType=\"vmfs\"\nRW 8 VMFS \"a\"\n",
                 "unsupported descriptor version");
  expect_failure("\x7f"
                 "ELF\x02\x01\x01",
                 "binary byte 0x02");
  expect_failure("", "no createType");
  expect_failure("RW\n", "not a descriptor line");
}

static void test_sum_overflow(void **state) {
  (void)state;
  expect_failure("createType=\"twoGbMaxExtentFlat\"\n"
                 "RW 100000000000 FLAT \"a\"\n"
                 "RW 100000000000 FLAT \"b\"\n",
                 "64 TiB");
}

static void test_long_line(void **state) {
  (void)state;
  static char text[10000];
  memset(text, 'a', sizeof text - 1);
  text[sizeof text - 1] = '\0';
  expect_failure(text, "line too long");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_qemu_descriptor),
      cmocka_unit_test(test_all_create_types),
      cmocka_unit_test(test_case_insensitive),
      cmocka_unit_test(test_extent_forms),
      cmocka_unit_test(test_parent_fields),
      cmocka_unit_test(test_embedded),
      cmocka_unit_test(test_bad_create_types),
      cmocka_unit_test(test_bad_extents),
      cmocka_unit_test(test_bad_lines),
      cmocka_unit_test(test_sum_overflow),
      cmocka_unit_test(test_long_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
