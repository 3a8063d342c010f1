/* The packet dump of the validation network (QEMU filter-dump, classic
 * pcap): did the guest send a DHCP DISCOVER or REQUEST from its NIC's MAC?
 * A pure function over a buffer; every length is checked against it. */
#include <stdio.h>
#include <string.h>

#include "validate/validate.h"

#define PCAP_HDR 24
#define REC_HDR 16
#define MAX_RECORD (256u * 1024u) /* larger is garbage, not a frame */
#define LINKTYPE_ETHERNET 1
#define ETH_HDR 14
#define DHCP_MAGIC 0x63825363u
#define BOOTP_FIXED 236 /* op .. file, before the magic cookie */

static uint16_t be16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static uint32_t rd32(const uint8_t *p, bool swap) {
  return swap ? be32(p)
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
                    (uint32_t)p[1] << 8 | p[0];
}

int h2k_mac_parse(const char *s, uint8_t out[6]) {
  unsigned v[6];
  char tail;
  if (!s || strlen(s) != 17 ||
      sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
             &v[5], &tail) != 6)
    return -1;
  for (int i = 0; i < 6; i++)
    out[i] = (uint8_t)v[i];
  return 0;
}

/* The DHCP message type (option 53) of a BOOTP payload, or 0. */
static int dhcp_type(const uint8_t *b, size_t n) {
  if (n < BOOTP_FIXED + 4 || b[0] != 1 /* BOOTREQUEST */ ||
      be32(b + BOOTP_FIXED) != DHCP_MAGIC)
    return 0;
  for (size_t i = BOOTP_FIXED + 4; i < n;) {
    uint8_t code = b[i];
    if (code == 0) { /* pad */
      i++;
      continue;
    }
    if (code == 255 || i + 1 >= n)
      break;
    uint8_t olen = b[i + 1];
    if (i + 2 + olen > n)
      break;
    if (code == 53 && olen >= 1)
      return b[i + 2];
    i += 2 + (size_t)olen;
  }
  return 0;
}

/* Is this Ethernet frame a DHCP DISCOVER/REQUEST (UDP 68 -> 67)? */
static bool is_dhcp_client(const uint8_t *f, size_t n) {
  size_t p = 12;
  uint16_t type = be16(f + p);
  p += 2;
  while ((type == 0x8100 || type == 0x88a8) && p + 4 <= n) {
    type = be16(f + p + 2); /* skip the tag's TCI */
    p += 4;
  }
  if (type != 0x0800 || p + 20 > n)
    return false;
  const uint8_t *ip = f + p;
  size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
  bool fragment = (be16(ip + 6) & 0x1fff) != 0;
  if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 17 /* UDP */ || fragment ||
      p + ihl + 8 > n)
    return false;
  const uint8_t *udp = ip + ihl;
  if (be16(udp) != 68 || be16(udp + 2) != 67)
    return false;
  int t = dhcp_type(udp + 8, n - (p + ihl + 8));
  return t == 1 /* DISCOVER */ || t == 3 /* REQUEST */;
}

static void count_frame(const uint8_t *f, size_t n, const uint8_t mac[6],
                        h2k_pcap_stats *st) {
  if (n < ETH_HDR)
    return;
  bool ours = memcmp(f + 6, mac, 6) == 0;
  st->from_mac += ours;
  if (is_dhcp_client(f, n)) {
    if (ours)
      st->dhcp_from_mac++;
    else
      st->dhcp_other++;
  }
}

/* Byte order from the magic number; false when it is not a pcap. */
static bool pcap_magic(const uint8_t *b, bool *swap) {
  uint32_t m = be32(b);
  if (m == 0xa1b2c3d4u || m == 0xa1b23c4du) { /* µs / ns, big-endian */
    *swap = true;
    return true;
  }
  if (m == 0xd4c3b2a1u || m == 0x4d3cb2a1u) { /* little-endian */
    *swap = false;
    return true;
  }
  return false;
}

int h2k_pcap_scan(const uint8_t *buf, size_t len, const uint8_t mac[6],
                  h2k_pcap_stats *st) {
  memset(st, 0, sizeof *st);
  bool swap;
  if (!buf || len < PCAP_HDR || !pcap_magic(buf, &swap))
    return -1;
  if ((rd32(buf + 20, swap) & 0x0fffffffu) != LINKTYPE_ETHERNET)
    return -1;
  size_t off = PCAP_HDR;
  while (off < len) {
    if (len - off < REC_HDR) {
      st->truncated = true;
      break;
    }
    uint32_t incl = rd32(buf + off + 8, swap);
    if (incl > MAX_RECORD)
      break; /* garbage: stop */
    if (len - off - REC_HDR < incl) {
      st->truncated = true;
      break;
    }
    st->packets++;
    count_frame(buf + off + REC_HDR, incl, mac, st);
    off += REC_HDR + incl;
  }
  return 0;
}
