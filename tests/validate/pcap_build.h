/* Building classic pcap captures byte by byte, for the tests. */
#ifndef H2K_TEST_PCAP_BUILD_H
#define H2K_TEST_PCAP_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct cap {
  uint8_t b[65536];
  size_t n;
  bool be; /* big-endian headers */
} cap;

static inline void put8(cap *c, uint8_t v) {
  c->b[c->n++] = v;
}

static inline void put16be(cap *c, uint16_t v) {
  put8(c, (uint8_t)(v >> 8));
  put8(c, (uint8_t)v);
}

static inline void put32(cap *c, uint32_t v) { /* in the capture's byte order */
  for (int i = 0; i < 4; i++)
    put8(c, (uint8_t)(c->be ? v >> (24 - 8 * i) : v >> (8 * i)));
}

static inline void put16(cap *c, uint16_t v) { /* in the capture's byte order */
  if (c->be)
    put16be(c, v);
  else
    put8(c, (uint8_t)v), put8(c, (uint8_t)(v >> 8));
}

static inline void cap_init(cap *c, bool be, uint32_t magic,
                            uint32_t linktype) {
  memset(c, 0, sizeof *c);
  c->be = be;
  put32(c, magic);
  put16(c, 2); /* version 2.4 */
  put16(c, 4);
  put32(c, 0);     /* thiszone */
  put32(c, 0);     /* sigfigs */
  put32(c, 65535); /* snaplen */
  put32(c, linktype);
}

/* A DHCP client frame (UDP sport -> dport) with message type `type`
 * (0: no option 53), from `src`, with `vlans` 802.1Q tags. */
static inline size_t frame(uint8_t *f, const uint8_t src[6], int vlans,
                           uint16_t sport, uint16_t dport, int type) {
  size_t n = 0;
  memset(f, 0xff, 6); /* broadcast */
  memcpy(f + 6, src, 6);
  n = 12;
  for (int i = 0; i < vlans; i++) {
    f[n++] = i == 0 && vlans > 1 ? 0x88 : 0x81;
    f[n++] = i == 0 && vlans > 1 ? 0xa8 : 0x00;
    f[n++] = 0x00;
    f[n++] = 0x64; /* VLAN 100 */
  }
  f[n++] = 0x08;
  f[n++] = 0x00;
  uint8_t *ip = f + n;
  memset(ip, 0, 20);
  ip[0] = 0x45;
  ip[8] = 64;
  ip[9] = 17;
  memset(ip + 16, 0xff, 4);
  n += 20;
  uint8_t *udp = f + n;
  udp[0] = (uint8_t)(sport >> 8), udp[1] = (uint8_t)sport;
  udp[2] = (uint8_t)(dport >> 8), udp[3] = (uint8_t)dport;
  udp[4] = udp[5] = udp[6] = udp[7] = 0;
  n += 8;
  uint8_t *bootp = f + n;
  memset(bootp, 0, 300);
  bootp[0] = sport == 68 ? 1 : 2; /* BOOTREQUEST / BOOTREPLY */
  bootp[1] = 1;
  bootp[2] = 6;
  memcpy(bootp + 28, src, 6); /* chaddr */
  bootp[236] = 0x63, bootp[237] = 0x82, bootp[238] = 0x53, bootp[239] = 0x63;
  size_t o = 240;
  bootp[o++] = 0;  /* a pad option first */
  bootp[o++] = 61; /* client id, before option 53 */
  bootp[o++] = 7;
  bootp[o++] = 1;
  memcpy(bootp + o, src, 6);
  o += 6;
  if (type) {
    bootp[o++] = 53;
    bootp[o++] = 1;
    bootp[o++] = (uint8_t)type;
  }
  bootp[o++] = 255;
  return n + 300;
}

static inline void add_record(cap *c, const uint8_t *f, size_t n) {
  put32(c, 1700000000); /* ts */
  put32(c, 0);
  put32(c, (uint32_t)n);
  put32(c, (uint32_t)n);
  memcpy(c->b + c->n, f, n);
  c->n += n;
}

static inline void add_dhcp(cap *c, const uint8_t src[6], int vlans,
                            uint16_t sport, uint16_t dport, int type) {
  uint8_t f[1024];
  size_t n = frame(f, src, vlans, sport, dport, type);
  add_record(c, f, n);
}

#endif
