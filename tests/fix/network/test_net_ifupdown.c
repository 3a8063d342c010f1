/* Debian ifupdown: /etc/network/interfaces. */
#include "net_check.h"

#define IFACES "/etc/network/interfaces"

static const char *const SRC2[] = {"ens192", "ens224"};
static const char *const DST2[] = {"enp1s0", "enp2s0"};

static const char DEBIAN_DHCP[] =
    "# This file describes the network interfaces available on your system\n"
    "# and how to activate them. For more information, see interfaces(5).\n"
    "\n"
    "source /etc/network/interfaces.d/*\n"
    "\n"
    "# The loopback network interface\n"
    "auto lo\n"
    "iface lo inet loopback\n"
    "\n"
    "# The primary network interface\n"
    "allow-hotplug ens192\n"
    "iface ens192 inet dhcp\n";

static const char DEBIAN_DHCP_FIXED[] =
    "# This file describes the network interfaces available on your system\n"
    "# and how to activate them. For more information, see interfaces(5).\n"
    "\n"
    "source /etc/network/interfaces.d/*\n"
    "\n"
    "# The loopback network interface\n"
    "auto lo\n"
    "iface lo inet loopback\n"
    "\n"
    "# The primary network interface\n"
    "allow-hotplug enp1s0\n"
    "iface enp1s0 inet dhcp\n";

static void dhcp_conservative_untouched(void **state) {
  (void)state;
  h2k_net_ctx ctx = {.level = H2K_NET_CONSERVATIVE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, DEBIAN_DHCP, DEBIAN_DHCP,
            NO_CHANGES);
}

static void dhcp_moderate_renamed(void **state) {
  (void)state;
  const want_change ch[] = {
      {11, "allow-hotplug ens192", "allow-hotplug enp1s0", "renamed"},
      {12, "iface ens192 inet dhcp", "iface enp1s0 inet dhcp", "renamed"}};
  /* With the name listed, and found on its own in the text. */
  const char *src[] = {"ens192"};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE,
                     .target_ifname = "enp1s0",
                     .source_ifnames = src,
                     .n_source_ifnames = 1};
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, DEBIAN_DHCP, DEBIAN_DHCP_FIXED,
            CHANGES(ch));
  h2k_net_ctx found = {.level = H2K_NET_MODERATE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_ifupdown, IFACES, &found, DEBIAN_DHCP, DEBIAN_DHCP_FIXED,
            CHANGES(ch));
  /* Aggressive adds nothing here: the config already is DHCP. */
  found.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_ifupdown, IFACES, &found, DEBIAN_DHCP, DEBIAN_DHCP_FIXED,
            CHANGES(ch));
}

/* net.ifnames=0 guests keep eth0 under KVM: nothing to rename. */
static void target_same_name_untouched(void **state) {
  (void)state;
  const char *in = "auto lo eth0\n"
                   "iface lo inet loopback\n"
                   "iface eth0 inet dhcp\n";
  h2k_net_ctx ctx = {.level = H2K_NET_AGGRESSIVE, .target_ifname = "eth0"};
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, in, in, NO_CHANGES);
}

static const char STATIC_IN[] =
    "auto ens192\n"
    "iface ens192 inet static\n"
    "    address 192.168.10.20\n"
    "    netmask 255.255.255.0\n"
    "    gateway 192.168.10.1\n"
    "    # set by the VMware template\n"
    "    hwaddress ether 00:50:56:9a:10:20\n"
    "    dns-nameservers 192.168.10.2 192.168.10.3\n"
    "    dns-search example.com\n";

static void static_conservative_drops_hwaddress(void **state) {
  (void)state;
  const char *want = "auto ens192\n"
                     "iface ens192 inet static\n"
                     "    address 192.168.10.20\n"
                     "    netmask 255.255.255.0\n"
                     "    gateway 192.168.10.1\n"
                     "    # set by the VMware template\n"
                     "    dns-nameservers 192.168.10.2 192.168.10.3\n"
                     "    dns-search example.com\n";
  const want_change ch[] = {{7, "    hwaddress ether 00:50:56:9a:10:20", NULL,
                             "VMware MAC 00:50:56:9a:10:20"}};
  h2k_net_ctx ctx = {.level = H2K_NET_CONSERVATIVE};
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, STATIC_IN, want, CHANGES(ch));
}

static void static_moderate_moves_address(void **state) {
  (void)state;
  const char *want = "auto enp1s0\n"
                     "iface enp1s0 inet static\n"
                     "    address 192.168.10.20\n"
                     "    netmask 255.255.255.0\n"
                     "    gateway 192.168.10.1\n"
                     "    # set by the VMware template\n"
                     "    dns-nameservers 192.168.10.2 192.168.10.3\n"
                     "    dns-search example.com\n";
  const want_change ch[] = {
      {1, "auto ens192", "auto enp1s0", "renamed"},
      {2, "iface ens192 inet static", "iface enp1s0 inet static", "renamed"},
      {7, "    hwaddress ether 00:50:56:9a:10:20", NULL, "VMware MAC"}};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, STATIC_IN, want, CHANGES(ch));
  /* Aggressive keeps the static address: the NIC exists, renamed. */
  ctx.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, STATIC_IN, want, CHANGES(ch));
}

static const char BOND_IN[] = "auto ens192\n"
                              "iface ens192 inet manual\n"
                              "    bond-master bond0\n"
                              "\n"
                              "auto ens224\n"
                              "iface ens224 inet manual\n"
                              "    bond-master bond0\n"
                              "\n"
                              "auto bond0\n"
                              "iface bond0 inet static\n"
                              "    address 10.0.0.5/24\n"
                              "    gateway 10.0.0.1\n"
                              "    bond-slaves ens192 ens224\n"
                              "    bond-mode active-backup\n"
                              "    bond-primary ens192\n"
                              "    bond-miimon 100\n"
                              "    up ip route add 10.9.0.0/16 via 10.0.0.254 "
                              "dev bond0\n";

static void bond_two_nics_renamed_consistently(void **state) {
  (void)state;
  const char *want = "auto enp1s0\n"
                     "iface enp1s0 inet manual\n"
                     "    bond-master bond0\n"
                     "\n"
                     "auto enp2s0\n"
                     "iface enp2s0 inet manual\n"
                     "    bond-master bond0\n"
                     "\n"
                     "auto bond0\n"
                     "iface bond0 inet static\n"
                     "    address 10.0.0.5/24\n"
                     "    gateway 10.0.0.1\n"
                     "    bond-slaves enp1s0 enp2s0\n"
                     "    bond-mode active-backup\n"
                     "    bond-primary enp1s0\n"
                     "    bond-miimon 100\n"
                     "    up ip route add 10.9.0.0/16 via 10.0.0.254 dev "
                     "bond0\n";
  const want_change ch[] = {
      {1, "auto ens192", "auto enp1s0", "renamed"},
      {2, "iface ens192 inet manual", "iface enp1s0 inet manual", "renamed"},
      {5, "auto ens224", "auto enp2s0", "renamed"},
      {6, "iface ens224 inet manual", "iface enp2s0 inet manual", "renamed"},
      {13, "    bond-slaves ens192 ens224", "    bond-slaves enp1s0 enp2s0",
       "reference"},
      {15, "    bond-primary ens192", "    bond-primary enp1s0", "reference"}};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE,
                     .target_ifname = "enp1s0",
                     .source_ifnames = SRC2,
                     .target_ifnames = DST2,
                     .n_source_ifnames = 2};
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, BOND_IN, want, CHANGES(ch));
  ctx.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, BOND_IN, want, CHANGES(ch));
}

/* Two VMware names and no list: nothing can be renamed safely. */
static void bond_ambiguous_names_untouched(void **state) {
  (void)state;
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, BOND_IN, BOND_IN, NO_CHANGES);
  /* Aggressive does not pull a bond slave out of its bond either. */
  ctx.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, BOND_IN, BOND_IN, NO_CHANGES);
}

static void bridge_over_bond(void **state) {
  (void)state;
  const char *in = "auto lo\n"
                   "iface lo inet loopback\n"
                   "\n"
                   "auto bond0\n"
                   "iface bond0 inet manual\n"
                   "    bond-slaves ens192 ens224\n"
                   "    bond-mode 802.3ad\n"
                   "\n"
                   "auto br0\n"
                   "iface br0 inet dhcp\n"
                   "    bridge_ports bond0\n"
                   "    bridge_stp off\n";
  const char *want = "auto lo\n"
                     "iface lo inet loopback\n"
                     "\n"
                     "auto bond0\n"
                     "iface bond0 inet manual\n"
                     "    bond-slaves enp1s0 enp2s0\n"
                     "    bond-mode 802.3ad\n"
                     "\n"
                     "auto br0\n"
                     "iface br0 inet dhcp\n"
                     "    bridge_ports bond0\n"
                     "    bridge_stp off\n";
  const want_change ch[] = {{6, "    bond-slaves ens192 ens224",
                             "    bond-slaves enp1s0 enp2s0", "reference"}};
  h2k_net_ctx ctx = {.level = H2K_NET_CONSERVATIVE,
                     .target_ifname = "enp1s0",
                     .source_ifnames = SRC2,
                     .target_ifnames = DST2,
                     .n_source_ifnames = 2};
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, in, in, NO_CHANGES);
  ctx.level = H2K_NET_MODERATE;
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, in, want, CHANGES(ch));
  ctx.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, in, want, CHANGES(ch));
}

static void bridge_ports_and_vlan(void **state) {
  (void)state;
  const char *in = "auto br0\n"
                   "iface br0 inet static\n"
                   "    bridge_ports ens192 tap0\n"
                   "    address 172.16.0.2/24\n"
                   "\n"
                   "auto ens192.100\n"
                   "iface ens192.100 inet manual\n"
                   "    vlan-raw-device ens192\n";
  const char *want = "auto br0\n"
                     "iface br0 inet static\n"
                     "    bridge_ports enp1s0 tap0\n"
                     "    address 172.16.0.2/24\n"
                     "\n"
                     "auto enp1s0.100\n"
                     "iface enp1s0.100 inet manual\n"
                     "    vlan-raw-device enp1s0\n";
  const want_change ch[] = {
      {3, "    bridge_ports ens192 tap0", "    bridge_ports enp1s0 tap0",
       "reference"},
      {6, "auto ens192.100", "auto enp1s0.100", "renamed"},
      {7, "iface ens192.100 inet manual", "iface enp1s0.100 inet manual",
       "renamed"},
      {8, "    vlan-raw-device ens192", "    vlan-raw-device enp1s0",
       "reference"}};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, in, want, CHANGES(ch));
}

static const char STALE_IN[] = "auto lo\n"
                               "iface lo inet loopback\n"
                               "\n"
                               "auto eth1\n"
                               "iface eth1 inet static\n"
                               "    address 192.168.1.50\n"
                               "    netmask 255.255.255.0\n"
                               "    gateway 192.168.1.1\n"
                               "    dns-nameservers 192.168.1.1\n";

/* The config names eth1, but the NIC was ens192: no config would apply. */
static void missing_nic_aggressive_dhcp(void **state) {
  (void)state;
  const char *src[] = {"ens192"};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE,
                     .target_ifname = "enp1s0",
                     .source_ifnames = src,
                     .n_source_ifnames = 1};
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, STALE_IN, STALE_IN, NO_CHANGES);
  const char *want = "auto lo\n"
                     "iface lo inet loopback\n"
                     "\n"
                     "auto enp1s0\n"
                     "iface enp1s0 inet dhcp\n"
                     "#     address 192.168.1.50\n"
                     "#     netmask 255.255.255.0\n"
                     "#     gateway 192.168.1.1\n"
                     "    dns-nameservers 192.168.1.1\n";
  const want_change ch[] = {
      {4, "auto eth1", "auto enp1s0", "renamed"},
      {5, "iface eth1 inet static", "iface enp1s0 inet dhcp",
       "eth1 does not exist under KVM; DHCP on enp1s0"},
      {6, "    address 192.168.1.50", "#     address 192.168.1.50",
       "static address of missing NIC eth1"},
      {7, "    netmask 255.255.255.0", "#     netmask 255.255.255.0",
       "static address"},
      {8, "    gateway 192.168.1.1", "#     gateway 192.168.1.1",
       "static address"}};
  ctx.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, STALE_IN, want, CHANGES(ch));
  /* Another file configures the target already: leave this one. */
  ctx.target_configured = true;
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, STALE_IN, STALE_IN, NO_CHANGES);
}

/* A text that configures the target already keeps its other stanzas. */
static void missing_nic_target_present(void **state) {
  (void)state;
  const char *in = "auto enp1s0\n"
                   "iface enp1s0 inet dhcp\n"
                   "\n"
                   "allow-hotplug eth1\n"
                   "iface eth1 inet dhcp\n";
  h2k_net_ctx ctx = {.level = H2K_NET_AGGRESSIVE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_ifupdown, IFACES, &ctx, in, in, NO_CHANGES);
}

/* interfaces.d snippet without trailing newline, tabs, mapping. */
static void snippet_layout_kept(void **state) {
  (void)state;
  const char *in = "mapping ens33\n"
                   "\tscript /usr/local/sbin/map-scheme\n"
                   "allow-hotplug ens33\n"
                   "iface ens33 inet6 auto\n"
                   "\thwaddress 00:0c:29:01:02:03";
  const char *want = "mapping enp1s0\n"
                     "\tscript /usr/local/sbin/map-scheme\n"
                     "allow-hotplug enp1s0\n"
                     "iface enp1s0 inet6 auto";
  const want_change ch[] = {
      {1, "mapping ens33", "mapping enp1s0", "renamed"},
      {3, "allow-hotplug ens33", "allow-hotplug enp1s0", "renamed"},
      {4, "iface ens33 inet6 auto", "iface enp1s0 inet6 auto", "renamed"},
      {5, "\thwaddress 00:0c:29:01:02:03", NULL, "VMware MAC"}};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_ifupdown, "/etc/network/interfaces.d/ens33", &ctx, in, want,
            CHANGES(ch));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(dhcp_conservative_untouched),
      cmocka_unit_test(dhcp_moderate_renamed),
      cmocka_unit_test(target_same_name_untouched),
      cmocka_unit_test(static_conservative_drops_hwaddress),
      cmocka_unit_test(static_moderate_moves_address),
      cmocka_unit_test(bond_two_nics_renamed_consistently),
      cmocka_unit_test(bond_ambiguous_names_untouched),
      cmocka_unit_test(bridge_over_bond),
      cmocka_unit_test(bridge_ports_and_vlan),
      cmocka_unit_test(missing_nic_aggressive_dhcp),
      cmocka_unit_test(missing_nic_target_present),
      cmocka_unit_test(snippet_layout_kept),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
