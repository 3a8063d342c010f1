/* systemd-networkd .network and .link files. */
#include "net_check.h"

#define NDIR "/etc/systemd/network/"

static const char MAC_DHCP[] = "[Match]\n"
                               "MACAddress=00:50:56:a1:b2:c3\n"
                               "\n"
                               "[Network]\n"
                               "DHCP=yes\n";

/* The MAC match goes; Type=ether keeps the file applying to the NIC. */
static void mac_match_dhcp(void **state) {
  (void)state;
  const char *want = "[Match]\n"
                     "Type=ether\n"
                     "\n"
                     "[Network]\n"
                     "DHCP=yes\n";
  const want_change ch[] = {
      {2, "MACAddress=00:50:56:a1:b2:c3", NULL, "match on VMware MAC removed"},
      {3, NULL, "Type=ether", "match any Ethernet NIC"}};
  for (int lvl = H2K_NET_CONSERVATIVE; lvl <= H2K_NET_AGGRESSIVE; lvl++) {
    h2k_net_ctx ctx = {.level = (h2k_net_level)lvl, .target_ifname = "enp1s0"};
    check_fix(h2k_fix_networkd, NDIR "10-eth.network", &ctx, MAC_DHCP, want,
              CHANGES(ch));
  }
}

/* Several MACs: only the VMware one goes, the match stays specific. */
static void mac_list_partly_kept(void **state) {
  (void)state;
  const char *in = "[Match]\n"
                   "MACAddress=52:54:00:01:02:03 00:0c:29:01:02:03\n"
                   "[Network]\n"
                   "DHCP=ipv4\n"
                   "[Link]\n"
                   "MACAddress=00:0c:29:01:02:03\n"
                   "MTUBytes=9000\n";
  const char *want = "[Match]\n"
                     "MACAddress=52:54:00:01:02:03\n"
                     "[Network]\n"
                     "DHCP=ipv4\n"
                     "[Link]\n"
                     "MTUBytes=9000\n";
  const want_change ch[] = {
      {2, "MACAddress=52:54:00:01:02:03 00:0c:29:01:02:03",
       "MACAddress=52:54:00:01:02:03", "VMware MAC"},
      {6, "MACAddress=00:0c:29:01:02:03", NULL, "sets the VMware MAC"}};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_networkd, NDIR "20-lan.network", &ctx, in, want,
            CHANGES(ch));
}

static const char STATIC_IN[] = "# Static address from the VMware template\n"
                                "[Match]\n"
                                "Name=ens192\n"
                                "\n"
                                "[Network]\n"
                                "Address=192.168.50.10/24\n"
                                "Gateway=192.168.50.1\n"
                                "DNS=192.168.50.1\n";

static void static_levels(void **state) {
  (void)state;
  h2k_net_ctx ctx = {.level = H2K_NET_CONSERVATIVE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_networkd, NDIR "10-ens192.network", &ctx, STATIC_IN,
            STATIC_IN, NO_CHANGES);

  const char *want = "# Static address from the VMware template\n"
                     "[Match]\n"
                     "Name=enp1s0\n"
                     "\n"
                     "[Network]\n"
                     "Address=192.168.50.10/24\n"
                     "Gateway=192.168.50.1\n"
                     "DNS=192.168.50.1\n";
  const want_change ch[] = {{3, "Name=ens192", "Name=enp1s0", "renamed"}};
  ctx.level = H2K_NET_MODERATE;
  check_fix(h2k_fix_networkd, NDIR "10-ens192.network", &ctx, STATIC_IN, want,
            CHANGES(ch));
  ctx.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_networkd, NDIR "10-ens192.network", &ctx, STATIC_IN, want,
            CHANGES(ch));

  const char *glob = "# Static address from the VMware template\n"
                     "[Match]\n"
                     "Name=en* eth*\n"
                     "\n"
                     "[Network]\n"
                     "Address=192.168.50.10/24\n"
                     "Gateway=192.168.50.1\n"
                     "DNS=192.168.50.1\n";
  const want_change chg[] = {
      {3, "Name=ens192", "Name=en* eth*", "match any Ethernet name"}};
  ctx.level = H2K_NET_MODERATE;
  ctx.use_match_by_driver = true;
  check_fix(h2k_fix_networkd, NDIR "10-ens192.network", &ctx, STATIC_IN, glob,
            CHANGES(chg));
}

static const char LINK_IN[] = "[Match]\n"
                              "MACAddress=00:0c:29:12:34:56\n"
                              "\n"
                              "[Link]\n"
                              "Name=ens192\n";

/* A .link that renames by MAC: the MAC match goes. Conservative keeps the
 * name it gives (configs naming ens192 keep working); moderate gives the
 * KVM name. */
static void link_rename_by_mac(void **state) {
  (void)state;
  const char *cons = "[Match]\n"
                     "Type=ether\n"
                     "\n"
                     "[Link]\n"
                     "Name=ens192\n";
  const want_change ch[] = {
      {2, "MACAddress=00:0c:29:12:34:56", NULL, "VMware MAC"},
      {3, NULL, "Type=ether", "match any Ethernet NIC"}};
  h2k_net_ctx ctx = {.level = H2K_NET_CONSERVATIVE};
  check_fix(h2k_fix_networkd, NDIR "70-persistent-net.link", &ctx, LINK_IN,
            cons, CHANGES(ch));

  const char *mod = "[Match]\n"
                    "Type=ether\n"
                    "\n"
                    "[Link]\n"
                    "Name=enp1s0\n";
  const want_change chm[] = {
      {2, "MACAddress=00:0c:29:12:34:56", NULL, "VMware MAC"},
      {3, NULL, "Type=ether", "match any Ethernet NIC"},
      {5, "Name=ens192", "Name=enp1s0", "renamed"}};
  ctx.level = H2K_NET_MODERATE;
  ctx.target_ifname = "enp1s0";
  /* A .link never gets the name glob: Name= there is the name it sets. */
  ctx.use_match_by_driver = true;
  check_fix(h2k_fix_networkd, NDIR "70-persistent-net.link", &ctx, LINK_IN, mod,
            CHANGES(chm));
}

/* Bond member .network: Name= follows, Bond= untouched. */
static void bond_member(void **state) {
  (void)state;
  const char *in = "[Match]\n"
                   "Name=ens192 ens224\n"
                   "\n"
                   "[Network]\n"
                   "Bond=bond0\n";
  const char *want = "[Match]\n"
                     "Name=enp1s0 enp2s0\n"
                     "\n"
                     "[Network]\n"
                     "Bond=bond0\n";
  const char *src[] = {"ens192", "ens224"};
  const char *dst[] = {"enp1s0", "enp2s0"};
  const want_change ch[] = {
      {2, "Name=ens192 ens224", "Name=enp1s0 enp2s0", "renamed"}};
  h2k_net_ctx ctx = {.level = H2K_NET_AGGRESSIVE,
                     .target_ifname = "enp1s0",
                     .source_ifnames = src,
                     .target_ifnames = dst,
                     .n_source_ifnames = 2};
  check_fix(h2k_fix_networkd, NDIR "30-bond-slaves.network", &ctx, in, want,
            CHANGES(ch));
}

static const char STALE_IN[] = "[Match]\n"
                               "Name=eth1\n"
                               "\n"
                               "[Network]\n"
                               "Address=10.20.0.7/16\n"
                               "Gateway=10.20.0.1\n"
                               "DNS=10.20.0.1\n";

static void missing_nic_aggressive_dhcp(void **state) {
  (void)state;
  const char *src[] = {"ens192"};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE,
                     .target_ifname = "enp1s0",
                     .source_ifnames = src,
                     .n_source_ifnames = 1};
  check_fix(h2k_fix_networkd, NDIR "10-eth1.network", &ctx, STALE_IN, STALE_IN,
            NO_CHANGES);
  const char *want = "[Match]\n"
                     "Name=enp1s0\n"
                     "\n"
                     "[Network]\n"
                     "DHCP=yes\n"
                     "# Address=10.20.0.7/16\n"
                     "# Gateway=10.20.0.1\n"
                     "DNS=10.20.0.1\n";
  const want_change ch[] = {
      {2, "Name=eth1", "Name=enp1s0", "eth1 does not exist under KVM"},
      {5, "Address=10.20.0.7/16", "# Address=10.20.0.7/16", "static"},
      {6, "Gateway=10.20.0.1", "# Gateway=10.20.0.1", "static"},
      {5, NULL, "DHCP=yes", "DHCP on enp1s0"}};
  ctx.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_networkd, NDIR "10-eth1.network", &ctx, STALE_IN, want,
            CHANGES(ch));
  ctx.target_configured = true;
  check_fix(h2k_fix_networkd, NDIR "10-eth1.network", &ctx, STALE_IN, STALE_IN,
            NO_CHANGES);
}

static void loopback_and_other_untouched(void **state) {
  (void)state;
  const char *in = "[Match]\n"
                   "Name=lo\n"
                   "\n"
                   "[Network]\n"
                   "Address=127.0.0.2/8\n";
  h2k_net_ctx ctx = {.level = H2K_NET_AGGRESSIVE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_networkd, NDIR "05-lo.network", &ctx, in, in, NO_CHANGES);
  const char *wl = "[Match]\nName=wl*\n\n[Network]\nDHCP=yes\n";
  check_fix(h2k_fix_networkd, NDIR "80-wifi.network", &ctx, wl, wl, NO_CHANGES);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(mac_match_dhcp),
      cmocka_unit_test(mac_list_partly_kept),
      cmocka_unit_test(static_levels),
      cmocka_unit_test(link_rename_by_mac),
      cmocka_unit_test(bond_member),
      cmocka_unit_test(missing_nic_aggressive_dhcp),
      cmocka_unit_test(loopback_and_other_untouched),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
