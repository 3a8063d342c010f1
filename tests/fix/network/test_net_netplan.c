/* Netplan YAML, edited line by line. */
#include "net_check.h"

#define CLOUD "/etc/netplan/50-cloud-init.yaml"

static const char UBUNTU_CLOUD[] =
    "# This file is generated from information provided by the datasource.  "
    "Changes\n"
    "# to it will not persist across an instance reboot.  To disable "
    "cloud-init's\n"
    "# network configuration capabilities, write a file\n"
    "# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the "
    "following:\n"
    "# network: {config: disabled}\n"
    "network:\n"
    "    ethernets:\n"
    "        ens192:\n"
    "            dhcp4: true\n"
    "            match:\n"
    "                macaddress: 00:50:56:b3:4c:9e\n"
    "            set-name: ens192\n"
    "    version: 2\n";

#define CLOUD_HEAD                                                             \
  "# This file is generated from information provided by the datasource.  "    \
  "Changes\n"                                                                  \
  "# to it will not persist across an instance reboot.  To disable "           \
  "cloud-init's\n"                                                             \
  "# network configuration capabilities, write a file\n"                       \
  "# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the "           \
  "following:\n"                                                               \
  "# network: {config: disabled}\n"                                            \
  "network:\n"                                                                 \
  "    ethernets:\n"

static const want_change CLOUD_MAC_CHANGES[] = {
    {11, "                macaddress: 00:50:56:b3:4c:9e", NULL,
     "match on VMware MAC removed"},
    {10, "            match:", NULL, "match: left empty"},
    {12, "            set-name: ens192", NULL, "set-name needs the match"}};

static void cloud_conservative(void **state) {
  (void)state;
  const char *want = CLOUD_HEAD "        ens192:\n"
                                "            dhcp4: true\n"
                                "    version: 2\n";
  h2k_net_ctx ctx = {.level = H2K_NET_CONSERVATIVE};
  check_fix(h2k_fix_netplan, CLOUD, &ctx, UBUNTU_CLOUD, want,
            CHANGES(CLOUD_MAC_CHANGES));
}

static void cloud_moderate(void **state) {
  (void)state;
  const char *want = CLOUD_HEAD "        enp1s0:\n"
                                "            dhcp4: true\n"
                                "    version: 2\n";
  want_change ch[4];
  memcpy(ch, CLOUD_MAC_CHANGES, sizeof CLOUD_MAC_CHANGES);
  ch[3] = (want_change){8, "        ens192:", "        enp1s0:", "renamed"};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_netplan, CLOUD, &ctx, UBUNTU_CLOUD, want, CHANGES(ch));
  ctx.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_netplan, CLOUD, &ctx, UBUNTU_CLOUD, want, CHANGES(ch));
}

static void cloud_match_by_driver(void **state) {
  (void)state;
  const char *want = CLOUD_HEAD "        ens192:\n"
                                "            match:\n"
                                "                driver: virtio_net\n"
                                "            dhcp4: true\n"
                                "    version: 2\n";
  want_change ch[5];
  memcpy(ch, CLOUD_MAC_CHANGES, sizeof CLOUD_MAC_CHANGES);
  ch[3] = (want_change){9, NULL, "            match:", "match the virtio NIC"};
  ch[4] =
      (want_change){9, NULL, "                driver: virtio_net", "by driver"};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE,
                     .target_ifname = "enp1s0",
                     .use_match_by_driver = true};
  check_fix(h2k_fix_netplan, CLOUD, &ctx, UBUNTU_CLOUD, want, CHANGES(ch));
}

/* Flow-style match and a MAC that netplan would set on the NIC. */
static void flow_match_and_macaddress(void **state) {
  (void)state;
  const char *in = "network:\n"
                   "  version: 2\n"
                   "  ethernets:\n"
                   "    eth0:\n"
                   "      match: {macaddress: \"00:0c:29:aa:bb:cc\"}\n"
                   "      set-name: eth0\n"
                   "      macaddress: 00:0c:29:aa:bb:cc\n"
                   "      dhcp4: yes  # from the template\n";
  const char *want = "network:\n"
                     "  version: 2\n"
                     "  ethernets:\n"
                     "    enp1s0:\n"
                     "      dhcp4: yes  # from the template\n";
  const want_change ch[] = {
      {5, "      match: {macaddress: \"00:0c:29:aa:bb:cc\"}", NULL,
       "VMware MAC"},
      {6, "      set-name: eth0", NULL, "set-name"},
      {7, "      macaddress: 00:0c:29:aa:bb:cc", NULL, "macaddress sets"},
      {4, "    eth0:", "    enp1s0:", "renamed"}};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_netplan, "/etc/netplan/01-netcfg.yaml", &ctx, in, want,
            CHANGES(ch));
}

static const char BRIDGE_IN[] = "network:\n"
                                "  version: 2\n"
                                "  renderer: networkd\n"
                                "  ethernets:\n"
                                "    ens192:\n"
                                "      dhcp4: no\n"
                                "  bridges:\n"
                                "    br0:\n"
                                "      interfaces: [ens192]\n"
                                "      addresses: [192.168.1.10/24]\n"
                                "      gateway4: 192.168.1.1\n"
                                "      nameservers:\n"
                                "        addresses: [192.168.1.1, 8.8.8.8]\n"
                                "      parameters:\n"
                                "        stp: false\n";

static void bridge_follows_rename(void **state) {
  (void)state;
  const char *want = "network:\n"
                     "  version: 2\n"
                     "  renderer: networkd\n"
                     "  ethernets:\n"
                     "    enp1s0:\n"
                     "      dhcp4: no\n"
                     "  bridges:\n"
                     "    br0:\n"
                     "      interfaces: [enp1s0]\n"
                     "      addresses: [192.168.1.10/24]\n"
                     "      gateway4: 192.168.1.1\n"
                     "      nameservers:\n"
                     "        addresses: [192.168.1.1, 8.8.8.8]\n"
                     "      parameters:\n"
                     "        stp: false\n";
  const want_change ch[] = {{5, "    ens192:", "    enp1s0:", "renamed"},
                            {9, "      interfaces: [ens192]",
                             "      interfaces: [enp1s0]", "reference"}};
  h2k_net_ctx ctx = {.level = H2K_NET_CONSERVATIVE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_netplan, "/etc/netplan/00-installer-config.yaml", &ctx,
            BRIDGE_IN, BRIDGE_IN, NO_CHANGES);
  ctx.level = H2K_NET_MODERATE;
  check_fix(h2k_fix_netplan, "/etc/netplan/00-installer-config.yaml", &ctx,
            BRIDGE_IN, want, CHANGES(ch));
  ctx.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_netplan, "/etc/netplan/00-installer-config.yaml", &ctx,
            BRIDGE_IN, want, CHANGES(ch));
}

/* Block-style member list, VLAN link, a second NIC with its own target. */
static void bond_block_list(void **state) {
  (void)state;
  const char *in = "network:\n"
                   "  version: 2\n"
                   "  ethernets:\n"
                   "    ens192: {}\n"
                   "    ens224: {}\n"
                   "  bonds:\n"
                   "    bond0:\n"
                   "      interfaces:\n"
                   "      - ens192\n"
                   "      - ens224\n"
                   "      parameters:\n"
                   "        mode: active-backup\n"
                   "        primary: ens192\n"
                   "  vlans:\n"
                   "    vlan10:\n"
                   "      id: 10\n"
                   "      link: bond0\n"
                   "    vlan20:\n"
                   "      id: 20\n"
                   "      link: ens224\n";
  const char *want = "network:\n"
                     "  version: 2\n"
                     "  ethernets:\n"
                     "    enp1s0: {}\n"
                     "    enp2s0: {}\n"
                     "  bonds:\n"
                     "    bond0:\n"
                     "      interfaces:\n"
                     "      - enp1s0\n"
                     "      - enp2s0\n"
                     "      parameters:\n"
                     "        mode: active-backup\n"
                     "        primary: enp1s0\n"
                     "  vlans:\n"
                     "    vlan10:\n"
                     "      id: 10\n"
                     "      link: bond0\n"
                     "    vlan20:\n"
                     "      id: 20\n"
                     "      link: enp2s0\n";
  const char *src[] = {"ens192", "ens224"};
  const char *dst[] = {"enp1s0", "enp2s0"};
  const want_change ch[] = {
      {4, "    ens192: {}", "    enp1s0: {}", "renamed"},
      {5, "    ens224: {}", "    enp2s0: {}", "renamed"},
      {9, "      - ens192", "      - enp1s0", "reference"},
      {10, "      - ens224", "      - enp2s0", "reference"},
      {13, "        primary: ens192", "        primary: enp1s0", "reference"},
      {20, "      link: ens224", "      link: enp2s0", "reference"}};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE,
                     .target_ifname = "enp1s0",
                     .source_ifnames = src,
                     .target_ifnames = dst,
                     .n_source_ifnames = 2};
  check_fix(h2k_fix_netplan, "/etc/netplan/10-bond.yaml", &ctx, in, want,
            CHANGES(ch));
}

static const char STALE_IN[] = "network:\n"
                               "  version: 2\n"
                               "  ethernets:\n"
                               "    eth0:\n"
                               "      addresses:\n"
                               "        - 10.1.1.5/24\n"
                               "      gateway4: 10.1.1.1\n"
                               "      nameservers:\n"
                               "        addresses: [10.1.1.1]\n"
                               "      dhcp4: false\n";

static void missing_nic_aggressive_dhcp(void **state) {
  (void)state;
  const char *src[] = {"ens192"};
  h2k_net_ctx ctx = {.level = H2K_NET_MODERATE,
                     .target_ifname = "enp1s0",
                     .source_ifnames = src,
                     .n_source_ifnames = 1};
  check_fix(h2k_fix_netplan, "/etc/netplan/01-net.yaml", &ctx, STALE_IN,
            STALE_IN, NO_CHANGES);
  const char *want = "network:\n"
                     "  version: 2\n"
                     "  ethernets:\n"
                     "    enp1s0:\n"
                     "#       addresses:\n"
                     "#         - 10.1.1.5/24\n"
                     "#       gateway4: 10.1.1.1\n"
                     "      nameservers:\n"
                     "        addresses: [10.1.1.1]\n"
                     "      dhcp4: true\n";
  const want_change ch[] = {
      {4, "    eth0:", "    enp1s0:", "eth0 does not exist under KVM"},
      {5, "      addresses:", "#       addresses:", "static address"},
      {6, "        - 10.1.1.5/24", "#         - 10.1.1.5/24", "static"},
      {7, "      gateway4: 10.1.1.1", "#       gateway4: 10.1.1.1", "static"},
      {10, "      dhcp4: false", "      dhcp4: true", "DHCP on enp1s0"}};
  ctx.level = H2K_NET_AGGRESSIVE;
  check_fix(h2k_fix_netplan, "/etc/netplan/01-net.yaml", &ctx, STALE_IN, want,
            CHANGES(ch));

  /* Without a dhcp4 key, one is added under the interface. */
  const char *nodhcp = "network:\n"
                       "  ethernets:\n"
                       "    eth1:\n"
                       "      addresses: [10.1.1.5/24]\n";
  const char *nodhcp_want = "network:\n"
                            "  ethernets:\n"
                            "    enp1s0:\n"
                            "      dhcp4: true\n"
                            "#       addresses: [10.1.1.5/24]\n";
  const want_change ch2[] = {{3, "    eth1:", "    enp1s0:", "does not exist"},
                             {4, "      addresses: [10.1.1.5/24]",
                              "#       addresses: [10.1.1.5/24]", "static"},
                             {4, NULL, "      dhcp4: true", "DHCP"}};
  check_fix(h2k_fix_netplan, "/etc/netplan/01-net.yaml", &ctx, nodhcp,
            nodhcp_want, CHANGES(ch2));
}

/* NetworkManager renderer file without NICs: byte-identical. */
static void nm_renderer_untouched(void **state) {
  (void)state;
  const char *in = "# Let NetworkManager manage all devices on this system\n"
                   "network:\n"
                   "  version: 2\n"
                   "  renderer: NetworkManager\n";
  h2k_net_ctx ctx = {.level = H2K_NET_AGGRESSIVE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_netplan, "/etc/netplan/01-network-manager-all.yaml", &ctx,
            in, in, NO_CHANGES);
}

/* A match by a VMware driver keeps the NIC unmatched under KVM. */
static void vmware_driver_match(void **state) {
  (void)state;
  const char *in = "network:\n"
                   "  ethernets:\n"
                   "    lan:\n"
                   "      match:\n"
                   "        driver: vmxnet3\n"
                   "      set-name: lan0\n"
                   "      dhcp4: true\n";
  const char *want = "network:\n"
                     "  ethernets:\n"
                     "    lan:\n"
                     "      match:\n"
                     "        driver: virtio_net\n"
                     "      set-name: lan0\n"
                     "      dhcp4: true\n";
  const want_change ch[] = {{5, "        driver: vmxnet3",
                             "        driver: virtio_net", "virtio_net"}};
  h2k_net_ctx ctx = {.level = H2K_NET_CONSERVATIVE, .target_ifname = "enp1s0"};
  check_fix(h2k_fix_netplan, "/etc/netplan/a.yaml", &ctx, in, in, NO_CHANGES);
  ctx.level = H2K_NET_MODERATE;
  check_fix(h2k_fix_netplan, "/etc/netplan/a.yaml", &ctx, in, want,
            CHANGES(ch));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cloud_conservative),
      cmocka_unit_test(cloud_moderate),
      cmocka_unit_test(cloud_match_by_driver),
      cmocka_unit_test(flow_match_and_macaddress),
      cmocka_unit_test(bridge_follows_rename),
      cmocka_unit_test(bond_block_list),
      cmocka_unit_test(missing_nic_aggressive_dhcp),
      cmocka_unit_test(nm_renderer_untouched),
      cmocka_unit_test(vmware_driver_match),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
