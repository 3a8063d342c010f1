/* NetworkManager keyfiles. */
#include "net_check.h"

#define NMDIR "/etc/NetworkManager/system-connections/"

static const char WIRED[] = "[connection]\n"
                            "id=Wired connection 1\n"
                            "uuid=8d6e2f4a-0f0e-4c4b-9d8e-3b0c6c1f2a11\n"
                            "type=ethernet\n"
                            "interface-name=ens192\n"
                            "autoconnect-priority=-999\n"
                            "\n"
                            "[ethernet]\n"
                            "mac-address=00:50:56:AB:CD:EF\n"
                            "\n"
                            "[ipv4]\n"
                            "address1=192.168.1.20/24,192.168.1.1\n"
                            "dns=192.168.1.1;\n"
                            "method=manual\n"
                            "\n"
                            "[ipv6]\n"
                            "addr-gen-mode=default\n"
                            "method=auto\n"
                            "\n"
                            "[proxy]\n";

#define WIRED_PATH NMDIR "Wired connection 1.nmconnection"

/* Text of WIRED with line 5 replaced by `ifline` (NULL: dropped) and the
 * mac-address line dropped. */
static void wired_without_mac(char *buf, size_t cap, const char *ifline) {
  snprintf(buf, cap,
           "[connection]\n"
           "id=Wired connection 1\n"
           "uuid=8d6e2f4a-0f0e-4c4b-9d8e-3b0c6c1f2a11\n"
           "type=ethernet\n"
           "%s%s"
           "autoconnect-priority=-999\n"
           "\n"
           "[ethernet]\n"
           "\n"
           "[ipv4]\n"
           "address1=192.168.1.20/24,192.168.1.1\n"
           "dns=192.168.1.1;\n"
           "method=manual\n"
           "\n"
           "[ipv6]\n"
           "addr-gen-mode=default\n"
           "method=auto\n"
           "\n"
           "[proxy]\n",
           ifline ? ifline : "", ifline ? "\n" : "");
}

static void wired_conservative(void **state) {
  (void)state;
  char want[1024];
  wired_without_mac(want, sizeof want, "interface-name=ens192");
  const want_change ch[] = {
      {9, "mac-address=00:50:56:AB:CD:EF", NULL, "VMware NIC's MAC"}};
  h2k_net_ctx ctx = {.level = H2K_NET_CONSERVATIVE};
  check_fix(h2k_fix_nm_keyfile, WIRED_PATH, &ctx, WIRED, want, CHANGES(ch));
}

static void wired_moderate_renamed(void **state) {
  (void)state;
  char want[1024];
  wired_without_mac(want, sizeof want, "interface-name=enp1s0");
  const want_change ch[] = {
      {9, "mac-address=00:50:56:AB:CD:EF", NULL, "VMware NIC's MAC"},
      {5, "interface-name=ens192", "interface-name=enp1s0", "renamed"}};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_nm_keyfile, WIRED_PATH, &ctx, WIRED, want, CHANGES(ch));
  ctx.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_nm_keyfile, WIRED_PATH, &ctx, WIRED, want, CHANGES(ch));
}

static void wired_any_device(void **state) {
  (void)state;
  char want[1024];
  wired_without_mac(want, sizeof want, NULL);
  const want_change ch[] = {
      {9, "mac-address=00:50:56:AB:CD:EF", NULL, "VMware NIC's MAC"},
      {5, "interface-name=ens192", NULL, "binds to any Ethernet device"}};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE,
                     .target_ifname = "enp1s0",
                     .use_match_by_driver = true};
  check_fix(h2k_fix_nm_keyfile, WIRED_PATH, &ctx, WIRED, want, CHANGES(ch));
}

/* A bond port keeps a fixed name even with use_match_by_driver, so it
 * cannot grab another NIC. cloned-mac-address goes too. */
static void bond_port_renamed_not_dropped(void **state) {
  (void)state;
  const char *in = "[connection]\n"
                   "id=bond0-port1\n"
                   "type=802-3-ethernet\n"
                   "interface-name=ens224\n"
                   "master=bond0\n"
                   "slave-type=bond\n"
                   "\n"
                   "[802-3-ethernet]\n"
                   "cloned-mac-address=00:50:56:00:00:07\n";
  const char *want = "[connection]\n"
                     "id=bond0-port1\n"
                     "type=802-3-ethernet\n"
                     "interface-name=enp2s0\n"
                     "master=bond0\n"
                     "slave-type=bond\n"
                     "\n"
                     "[802-3-ethernet]\n";
  const char *src[] = {"ens192", "ens224"};
  const char *dst[] = {"enp1s0", "enp2s0"};
  const want_change ch[] = {
      {9, "cloned-mac-address=00:50:56:00:00:07", NULL, "cloned-mac-address"},
      {4, "interface-name=ens224", "interface-name=enp2s0", "renamed"}};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE,
                     .target_ifname = "enp1s0",
                     .source_ifnames = src,
                     .target_ifnames = dst,
                     .n_source_ifnames = 2,
                     .use_match_by_driver = true};
  check_fix(h2k_fix_nm_keyfile, NMDIR "bond0-port1.nmconnection", &ctx, in,
            want, CHANGES(ch));
}

static void vlan_parent(void **state) {
  (void)state;
  const char *in = "[connection]\n"
                   "id=vlan100\n"
                   "type=vlan\n"
                   "interface-name=ens192.100\n"
                   "\n"
                   "[vlan]\n"
                   "flags=1\n"
                   "id=100\n"
                   "parent=ens192\n"
                   "\n"
                   "[ipv4]\n"
                   "method=auto\n";
  const char *want = "[connection]\n"
                     "id=vlan100\n"
                     "type=vlan\n"
                     "interface-name=enp1s0.100\n"
                     "\n"
                     "[vlan]\n"
                     "flags=1\n"
                     "id=100\n"
                     "parent=enp1s0\n"
                     "\n"
                     "[ipv4]\n"
                     "method=auto\n";
  const want_change ch[] = {
      {4, "interface-name=ens192.100", "interface-name=enp1s0.100", "renamed"},
      {9, "parent=ens192", "parent=enp1s0", "VLAN parent"}};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE,
                     .target_ifname = "enp1s0",
                     .use_match_by_driver = true};
  check_fix(h2k_fix_nm_keyfile, NMDIR "vlan100.nmconnection", &ctx, in, want,
            CHANGES(ch));
}

static const char STALE_IN[] = "[connection]\n"
                               "id=office\n"
                               "type=ethernet\n"
                               "interface-name=eth1\n"
                               "\n"
                               "[ipv4]\n"
                               "address1=10.3.0.8/24,10.3.0.1\n"
                               "dns=10.3.0.1;\n"
                               "method=manual\n";

static void missing_nic_aggressive_dhcp(void **state) {
  (void)state;
  const char *src[] = {"ens192"};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE,
                     .target_ifname = "enp1s0",
                     .source_ifnames = src,
                     .n_source_ifnames = 1};
  check_fix(h2k_fix_nm_keyfile, NMDIR "office.nmconnection", &ctx, STALE_IN,
            STALE_IN, NO_CHANGES);
  const char *want = "[connection]\n"
                     "id=office\n"
                     "type=ethernet\n"
                     "interface-name=enp1s0\n"
                     "\n"
                     "[ipv4]\n"
                     "# address1=10.3.0.8/24,10.3.0.1\n"
                     "dns=10.3.0.1;\n"
                     "method=auto\n";
  const want_change ch[] = {
      {4, "interface-name=eth1", "interface-name=enp1s0",
       "eth1 does not exist under KVM"},
      {7, "address1=10.3.0.8/24,10.3.0.1", "# address1=10.3.0.8/24,10.3.0.1",
       "static"},
      {9, "method=manual", "method=auto", "DHCP on enp1s0"}};
  ctx.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_nm_keyfile, NMDIR "office.nmconnection", &ctx, STALE_IN,
            want, CHANGES(ch));
}

static void unrelated_profile_untouched(void **state) {
  (void)state;
  const char *in = "[connection]\n"
                   "id=home-wifi\n"
                   "type=wifi\n"
                   "interface-name=wlp2s0\n"
                   "\n"
                   "[wifi]\n"
                   "mac-address=00:50:56:11:22:33\n"
                   "ssid=home\n";
  h2k_net_ctx ctx = {.level = H2K_NET_AGGRESSIVE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_nm_keyfile, NMDIR "home-wifi.nmconnection", &ctx, in, in,
            NO_CHANGES);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(wired_conservative),
      cmocka_unit_test(wired_moderate_renamed),
      cmocka_unit_test(wired_any_device),
      cmocka_unit_test(bond_port_renamed_not_dropped),
      cmocka_unit_test(vlan_parent),
      cmocka_unit_test(missing_nic_aggressive_dhcp),
      cmocka_unit_test(unrelated_profile_untouched),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
