/* pcap.c: DHCP client packets from the NIC's MAC in QEMU's packet dump.
 * The captures are built here, byte by byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pcap_build.h"
#include "validate/validate.h"

static const uint8_t GUEST[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t OTHER[6] = {0x00, 0x50, 0x56, 0x8a, 0x3c, 0x01};
static const uint8_t SLIRP[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};

static int scan(const cap *c, h2k_pcap_stats *st) {
  return h2k_pcap_scan(c->b, c->n, GUEST, st);
}

static void test_discover_and_request(void **state) {
  (void)state;
  cap *c = malloc(sizeof *c);
  cap_init(c, false, 0xa1b2c3d4u, 1);
  add_dhcp(c, GUEST, 0, 68, 67, 1); /* DISCOVER */
  add_dhcp(c, SLIRP, 0, 67, 68, 2); /* OFFER from QEMU's server */
  add_dhcp(c, GUEST, 0, 68, 67, 3); /* REQUEST */
  h2k_pcap_stats st;
  assert_int_equal(scan(c, &st), 0);
  assert_int_equal(st.packets, 3);
  assert_int_equal(st.dhcp_from_mac, 2);
  assert_int_equal(st.from_mac, 2);
  assert_int_equal(st.dhcp_other, 0);
  assert_false(st.truncated);
  free(c);
}

static void test_other_mac_and_server(void **state) {
  (void)state;
  cap *c = malloc(sizeof *c);
  cap_init(c, false, 0xa1b2c3d4u, 1);
  add_dhcp(c, OTHER, 0, 68, 67, 1); /* the old VMware MAC: not ours */
  add_dhcp(c, SLIRP, 0, 67, 68, 2); /* the server's OFFER */
  add_dhcp(c, SLIRP, 0, 67, 68, 5); /* ACK */
  h2k_pcap_stats st;
  assert_int_equal(scan(c, &st), 0);
  assert_int_equal(st.packets, 3);
  assert_int_equal(st.dhcp_from_mac, 0);
  assert_int_equal(st.from_mac, 0);
  assert_int_equal(st.dhcp_other, 1);
  free(c);
}

static void test_not_client_messages(void **state) {
  (void)state;
  cap *c = malloc(sizeof *c);
  cap_init(c, false, 0xa1b2c3d4u, 1);
  add_dhcp(c, GUEST, 0, 68, 67, 7);   /* RELEASE: not a request */
  add_dhcp(c, GUEST, 0, 68, 67, 0);   /* plain BOOTP, no message type */
  add_dhcp(c, GUEST, 0, 5353, 67, 1); /* wrong source port */
  h2k_pcap_stats st;
  assert_int_equal(scan(c, &st), 0);
  assert_int_equal(st.packets, 3);
  assert_int_equal(st.from_mac, 3);
  assert_int_equal(st.dhcp_from_mac, 0);
  free(c);
}

static void test_vlan_tags(void **state) {
  (void)state;
  cap *c = malloc(sizeof *c);
  cap_init(c, false, 0xa1b2c3d4u, 1);
  add_dhcp(c, GUEST, 1, 68, 67, 1); /* 802.1Q */
  add_dhcp(c, GUEST, 2, 68, 67, 3); /* 802.1ad + 802.1Q */
  h2k_pcap_stats st;
  assert_int_equal(scan(c, &st), 0);
  assert_int_equal(st.dhcp_from_mac, 2);
  free(c);
}

static void test_byte_orders_and_ns(void **state) {
  (void)state;
  const uint32_t magics[] = {0xa1b2c3d4u, 0xa1b23c4du};
  for (int be = 0; be < 2; be++) {
    for (size_t m = 0; m < 2; m++) {
      cap *c = malloc(sizeof *c);
      cap_init(c, be, magics[m], 1);
      add_dhcp(c, GUEST, 0, 68, 67, 1);
      h2k_pcap_stats st;
      assert_int_equal(scan(c, &st), 0);
      assert_int_equal(st.dhcp_from_mac, 1);
      free(c);
    }
  }
}

static void test_truncated(void **state) {
  (void)state;
  cap *c = malloc(sizeof *c);
  cap_init(c, false, 0xa1b2c3d4u, 1);
  add_dhcp(c, GUEST, 0, 68, 67, 1);
  size_t whole = c->n;
  add_dhcp(c, GUEST, 0, 68, 67, 3);
  h2k_pcap_stats st;
  /* the second record cut in its data, then in its header */
  assert_int_equal(h2k_pcap_scan(c->b, c->n - 10, GUEST, &st), 0);
  assert_int_equal(st.packets, 1);
  assert_int_equal(st.dhcp_from_mac, 1);
  assert_true(st.truncated);
  assert_int_equal(h2k_pcap_scan(c->b, whole + 7, GUEST, &st), 0);
  assert_int_equal(st.packets, 1);
  assert_true(st.truncated);
  /* a frame cut short (snap length, or a frame shorter than its headers
   * claim): counted only when the message type is still in it; no overread
   * (run under ASan) */
  cap_init(c, false, 0xa1b2c3d4u, 1);
  uint8_t f[1024];
  size_t n = frame(f, GUEST, 0, 68, 67, 1);
  for (size_t cut = 0; cut <= n; cut++) {
    cap_init(c, false, 0xa1b2c3d4u, 1);
    add_record(c, f, cut);
    assert_int_equal(scan(c, &st), 0);
    /* option 53 ends at 14 + 20 + 8 + 253 bytes */
    assert_int_equal(st.dhcp_from_mac, cut >= 295 ? 1 : 0);
  }
  /* only the header: a valid, empty capture */
  cap_init(c, false, 0xa1b2c3d4u, 1);
  assert_int_equal(scan(c, &st), 0);
  assert_int_equal(st.packets, 0);
  free(c);
}

static void test_garbage(void **state) {
  (void)state;
  h2k_pcap_stats st;
  uint8_t junk[200];
  for (size_t i = 0; i < sizeof junk; i++)
    junk[i] = (uint8_t)(i * 37 + 11);
  assert_int_equal(h2k_pcap_scan(junk, sizeof junk, GUEST, &st), -1);
  assert_int_equal(h2k_pcap_scan(junk, 0, GUEST, &st), -1);
  assert_int_equal(h2k_pcap_scan(NULL, 0, GUEST, &st), -1);
  cap *c = malloc(sizeof *c);
  cap_init(c, false, 0xa1b2c3d4u, 1);
  assert_int_equal(h2k_pcap_scan(c->b, 23, GUEST, &st), -1); /* short */
  cap_init(c, false, 0xa1b2c3d4u, 105); /* 802.11: not Ethernet */
  add_dhcp(c, GUEST, 0, 68, 67, 1);
  assert_int_equal(scan(c, &st), -1);
  /* a record with an absurd length after a good one: stop, keep the count */
  cap_init(c, false, 0xa1b2c3d4u, 1);
  add_dhcp(c, GUEST, 0, 68, 67, 1);
  put32(c, 0), put32(c, 0), put32(c, 0xfffffff0u), put32(c, 0xfffffff0u);
  memcpy(c->b + c->n, junk, sizeof junk);
  c->n += sizeof junk;
  assert_int_equal(scan(c, &st), 0);
  assert_int_equal(st.packets, 1);
  assert_int_equal(st.dhcp_from_mac, 1);
  free(c);
}

static void test_mac_parse(void **state) {
  (void)state;
  uint8_t m[6];
  assert_int_equal(h2k_mac_parse("52:54:00:12:34:56", m), 0);
  assert_memory_equal(m, GUEST, 6);
  assert_int_equal(h2k_mac_parse("52:54:00:12:34", m), -1);
  assert_int_equal(h2k_mac_parse("52:54:00:12:34:5g", m), -1);
  assert_int_equal(h2k_mac_parse("52:54:00:12:34:567", m), -1);
  assert_int_equal(h2k_mac_parse(NULL, m), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_discover_and_request),
      cmocka_unit_test(test_other_mac_and_server),
      cmocka_unit_test(test_not_client_messages),
      cmocka_unit_test(test_vlan_tags),
      cmocka_unit_test(test_byte_orders_and_ns),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_mac_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
