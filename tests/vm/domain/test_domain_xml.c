/* libvirt domain XML tests.
 *
 * Every generated document is (1) generated twice and compared byte for
 * byte, (2) parsed back with libxml2 and checked with XPath, (3) validated
 * with virt-xml-validate against libvirt's schema, and (4) when built with
 * libvirt, defined into the test driver (test:///default) through
 * h2k_libvirt_define and looked up again. Models come from the VMX/OVF
 * corpus in tests/vm/data and from hand-made models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "vm/domain_xml.h"
#include "vm/ovf.h"
#include "vm/vmx.h"

#ifdef H2K_HAVE_LIBVIRT
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#endif

#define DATA H2K_VM_TESTDATA
#define TEST_URI "test:///default"

/* ---- model building ---- */

static char *xstrdup(const char *s) {
  char *d = strdup(s);
  assert_non_null(d);
  return d;
}

static h2k_vm *new_vm(const char *name) {
  h2k_vm *vm = h2k_vm_new();
  assert_non_null(vm);
  vm->name = name ? xstrdup(name) : NULL;
  return vm;
}

static void add_disk(h2k_vm *vm, int boot_order) {
  h2k_vm_disk *d = h2k_vm_add_disk(vm);
  assert_non_null(d);
  d->boot_order = boot_order;
}

static void add_nic(h2k_vm *vm, const char *mac, const char *network) {
  h2k_vm_nic *n = h2k_vm_add_nic(vm);
  assert_non_null(n);
  n->mac = mac ? xstrdup(mac) : NULL;
  n->network = network ? xstrdup(network) : NULL;
  n->model = xstrdup("vmxnet3");
}

static void add_cdrom(h2k_vm *vm, const char *iso) {
  h2k_vm_cdrom *c = h2k_vm_add_cdrom(vm);
  assert_non_null(c);
  c->path = iso ? xstrdup(iso) : NULL;
  c->bus = H2K_BUS_IDE;
}

/* Converted disks for each model disk: /var/lib/libvirt/images/dN.fmt */
typedef struct disks {
  h2k_domain_disk d[64];
  char path[64][64];
} disks;

static void fill_disks(disks *ds, size_t n, h2k_domain_opts *o) {
  assert_true(n <= 64);
  for (size_t i = 0; i < n; i++) {
    const char *fmt = i % 3 == 2 ? "raw" : "qcow2";
    snprintf(ds->path[i], sizeof ds->path[i], "/var/lib/libvirt/images/d%zu.%s",
             i, fmt);
    ds->d[i].path = ds->path[i];
    ds->d[i].format = fmt;
  }
  o->disks = ds->d;
  o->n_disks = n;
}

/* ---- XPath helpers ---- */

static char *xp_str(xmlDocPtr doc, const char *expr) {
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  assert_non_null(ctx);
  char wrapped[512];
  snprintf(wrapped, sizeof wrapped, "string(%s)", expr);
  xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST wrapped, ctx);
  if (!r)
    fail_msg("bad XPath %s", expr);
  char *s = xstrdup(r->stringval ? (const char *)r->stringval : "");
  xmlXPathFreeObject(r);
  xmlXPathFreeContext(ctx);
  return s;
}

static int xp_count(xmlDocPtr doc, const char *expr) {
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  assert_non_null(ctx);
  xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST expr, ctx);
  if (!r)
    fail_msg("bad XPath %s", expr);
  int n = r->nodesetval ? r->nodesetval->nodeNr : 0;
  xmlXPathFreeObject(r);
  xmlXPathFreeContext(ctx);
  return n;
}

#define assert_xp(doc, expr, want)                                             \
  do {                                                                         \
    char *got_ = xp_str(doc, expr);                                            \
    if (strcmp(got_, want) != 0)                                               \
      fail_msg("%s: got '%s', want '%s'", expr, got_, want);                   \
    free(got_);                                                                \
  } while (0)

#define assert_xp_count(doc, expr, want)                                       \
  do {                                                                         \
    int got_ = xp_count(doc, expr);                                            \
    if (got_ != (int)(want))                                                   \
      fail_msg("count(%s): got %d, want %d", expr, got_, (int)(want));         \
  } while (0)

/* ---- schema validation ---- */

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
}

/* virt-xml-validate FILE domain; a missing tool fails the test. */
static void validate_schema(const char *xml) {
  const char *tool = VIRT_XML_VALIDATE;
  if (!*tool)
    fail_msg("virt-xml-validate was not found when configuring: install "
             "libvirt-clients and re-run meson setup");
  char path[] = "/tmp/h2k-domain-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  write_file(path, xml);
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "'%s' '%s' domain 2>&1", tool, path);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  char out[8192];
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  unlink(path);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail_msg(
        "virt-xml-validate rejected the XML (status %d):\n%s\n--- XML:\n%s",
        status, out, xml);
}

/* ---- libvirt test driver ---- */

#ifdef H2K_HAVE_LIBVIRT
/* test:///default keeps its state only while a connection is open: hold
 * one for the whole run so that what h2k_libvirt_define stored (on its
 * own, closed, connection) can be looked up here. */
static virConnectPtr keep;

static void quiet(void *opaque, virErrorPtr e) {
  (void)opaque;
  (void)e;
}
#endif

static void define_and_check(const char *xml, const char *name, int vcpus,
                             uint64_t mem_kib) {
#ifdef H2K_HAVE_LIBVIRT
  h2k_error err = {0};
  if (h2k_libvirt_define(TEST_URI, xml, &err) != 0)
    fail_msg("define: %s\n--- XML:\n%s", h2k_error_text(&err), xml);
  virDomainPtr dom = virDomainLookupByName(keep, name);
  if (!dom)
    fail_msg("domain '%s' not found after define: %s", name,
             virGetLastErrorMessage());
  virDomainInfo info;
  assert_int_equal(virDomainGetInfo(dom, &info), 0);
  assert_int_equal(info.nrVirtCpu, vcpus);
  assert_int_equal(info.maxMem, mem_kib);
  assert_int_equal(virDomainGetMaxMemory(dom), mem_kib);
  /* Leave the driver clean for the next model (names and UUIDs repeat). */
  assert_int_equal(virDomainUndefine(dom), 0);
  virDomainFree(dom);
#else
  (void)xml;
  (void)name;
  (void)vcpus;
  (void)mem_kib;
#endif
}

/* ---- the common check ---- */

/* Generate (twice: must be identical), parse, validate with the schema,
 * define in the test driver with the expected sizes; return the parsed
 * document for further checks. */
static xmlDocPtr generate(const h2k_vm *vm, const h2k_domain_opts *o,
                          char **xml_out) {
  h2k_error err = {0};
  char *xml = h2k_domain_xml(vm, o, &err);
  if (!xml)
    fail_msg("h2k_domain_xml: %s", h2k_error_text(&err));
  char *again = h2k_domain_xml(vm, o, &err);
  assert_non_null(again);
  if (strcmp(xml, again) != 0)
    fail_msg("two generations differ:\n%s\n---\n%s", xml, again);
  free(again);

  xmlDocPtr doc =
      xmlReadMemory(xml, (int)strlen(xml), "domain.xml", "UTF-8",
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc)
    fail_msg("output is not well-formed XML:\n%s", xml);
  validate_schema(xml);

  char *name = xp_str(doc, "/domain/name");
  char *mem = xp_str(doc, "/domain/memory");
  char *vcpu = xp_str(doc, "/domain/vcpu");
  define_and_check(xml, name, atoi(vcpu), strtoull(mem, NULL, 10));
  free(name);
  free(mem);
  free(vcpu);
  if (xml_out)
    *xml_out = xml;
  else
    free(xml);
  return doc;
}

/* The devices every domain gets, whatever the model. */
static void assert_common_devices(xmlDocPtr doc) {
  assert_xp(doc, "/domain/@type", "kvm");
  assert_xp(doc, "/domain/os/type", "hvm");
  assert_xp(doc, "/domain/os/type/@arch", "x86_64");
  assert_xp(doc, "/domain/os/type/@machine", "q35");
  assert_xp_count(doc, "/domain/features/acpi", 1);
  assert_xp_count(doc, "/domain/features/apic", 1);
  assert_xp(doc, "/domain/cpu/@mode", "host-passthrough");
  assert_xp(doc, "/domain/on_poweroff", "destroy");
  assert_xp(doc, "/domain/on_reboot", "restart");
  assert_xp(doc, "/domain/on_crash", "destroy");
  assert_xp_count(doc, "/domain/devices/emulator", 0);
  assert_xp(doc, "/domain/devices/serial[@type='pty']/target/@port", "0");
  assert_xp(doc, "/domain/devices/console[@type='pty']/target/@type", "serial");
  assert_xp(doc, "/domain/devices/channel[@type='unix']/target/@name",
            "org.qemu.guest_agent.0");
  assert_xp(doc, "/domain/devices/channel/target/@type", "virtio");
  assert_xp(doc, "/domain/devices/rng/@model", "virtio");
  assert_xp(doc, "/domain/devices/rng/backend[@model='random']",
            "/dev/urandom");
  assert_xp(doc, "/domain/devices/memballoon/@model", "virtio");
  assert_xp_count(doc, "/domain/devices/video/model", 1);
  assert_xp(doc, "/domain/devices/graphics/@type", "vnc");
  assert_xp(doc, "/domain/devices/graphics/@autoport", "yes");
  assert_xp(doc, "/domain/devices/graphics/@listen", "127.0.0.1");
  assert_xp(doc, "/domain/devices/input[@type='tablet']/@bus", "usb");
  assert_xp(doc, "/domain/devices/controller[@type='usb']/@model", "qemu-xhci");
  assert_xp_count(doc, "/domain/devices/controller[@type='virtio-serial']", 1);
  /* Boot orders are unique across all devices. */
  assert_xp_count(doc, "//boot[@order = preceding::boot/@order]", 0);
}

/* ---- hand-made models ---- */

static void test_bios(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("bios-vm");
  vm->uuid = xstrdup("1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9");
  vm->firmware = H2K_FW_BIOS;
  vm->vcpus = 4;
  vm->cores_per_socket = 2;
  vm->memory_mb = 4096;
  vm->guest_os = xstrdup("rhel8-64");
  add_disk(vm, 0);
  add_nic(vm, "00:50:56:AA:BB:0C", "VM Network");
  disks ds;
  h2k_domain_opts o = {.uefi_default = true}; /* BIOS source wins */
  fill_disks(&ds, 1, &o);
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_common_devices(doc);
  assert_xp(doc, "/domain/name", "bios-vm");
  assert_xp(doc, "/domain/uuid", "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9");
  assert_xp_count(doc, "/domain/title", 0);
  assert_xp_count(doc, "/domain/description", 0);
  assert_xp(doc, "/domain/memory", "4194304");
  assert_xp(doc, "/domain/memory/@unit", "KiB");
  assert_xp(doc, "/domain/currentMemory", "4194304");
  assert_xp(doc, "/domain/vcpu", "4");
  assert_xp(doc, "/domain/cpu/topology/@sockets", "2");
  assert_xp(doc, "/domain/cpu/topology/@cores", "2");
  assert_xp(doc, "/domain/cpu/topology/@threads", "1");
  assert_xp_count(doc, "/domain/os/@firmware", 0);
  assert_xp_count(doc, "/domain/os/loader", 0);
  assert_xp_count(doc, "/domain/features/smm", 0);
  assert_xp(doc, "/domain/clock/@offset", "utc");
  assert_xp_count(doc, "/domain/devices/disk", 1);
  assert_xp(doc, "/domain/devices/disk/@type", "file");
  assert_xp(doc, "/domain/devices/disk/@device", "disk");
  assert_xp(doc, "/domain/devices/disk/driver/@name", "qemu");
  assert_xp(doc, "/domain/devices/disk/driver/@type", "qcow2");
  assert_xp(doc, "/domain/devices/disk/driver/@discard", "unmap");
  assert_xp(doc, "/domain/devices/disk/source/@file",
            "/var/lib/libvirt/images/d0.qcow2");
  assert_xp(doc, "/domain/devices/disk/target/@dev", "vda");
  assert_xp(doc, "/domain/devices/disk/target/@bus", "virtio");
  assert_xp(doc, "/domain/devices/disk/boot/@order", "1");
  assert_xp_count(doc, "/domain/devices/interface", 1);
  assert_xp(doc, "/domain/devices/interface/@type", "network");
  assert_xp(doc, "/domain/devices/interface/source/@network", "default");
  assert_xp(doc, "/domain/devices/interface/mac/@address", "00:50:56:aa:bb:0c");
  assert_xp(doc, "/domain/devices/interface/model/@type", "virtio");
  assert_xp(doc, "/domain/devices/video/model/@type", "virtio");
  assert_xp_count(doc, "/domain/devices/controller[@type='scsi']", 0);
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void test_uefi(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("uefi-vm");
  vm->firmware = H2K_FW_UEFI;
  vm->vcpus = 2;
  vm->memory_mb = 1024;
  add_disk(vm, 1);
  disks ds;
  h2k_domain_opts o = {0};
  fill_disks(&ds, 1, &o);
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_common_devices(doc);
  assert_xp(doc, "/domain/os/@firmware", "efi");
  assert_xp(doc, "/domain/os/firmware/feature[@name='secure-boot']/@enabled",
            "no");
  assert_xp(doc, "/domain/os/firmware/feature[@name='enrolled-keys']/@enabled",
            "no");
  assert_xp_count(doc, "/domain/os/loader", 0);
  assert_xp_count(doc, "/domain/features/smm", 0);
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void test_uefi_secure_boot(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("uefi-sb-vm");
  vm->firmware = H2K_FW_UEFI;
  vm->secure_boot = true;
  vm->vcpus = 2;
  vm->memory_mb = 2048;
  add_disk(vm, 0);
  disks ds;
  h2k_domain_opts o = {0};
  fill_disks(&ds, 1, &o);
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_common_devices(doc);
  assert_xp(doc, "/domain/os/@firmware", "efi");
  assert_xp(doc, "/domain/os/firmware/feature[@name='secure-boot']/@enabled",
            "yes");
  assert_xp(doc, "/domain/os/firmware/feature[@name='enrolled-keys']/@enabled",
            "yes");
  assert_xp(doc, "/domain/os/loader/@secure", "yes");
  assert_xp(doc, "/domain/features/smm/@state", "on");
  xmlFreeDoc(doc);

  /* Secure boot on a BIOS source is a contradiction: no SB, no EFI. */
  vm->firmware = H2K_FW_BIOS;
  doc = generate(vm, &o, NULL);
  assert_xp_count(doc, "/domain/os/@firmware", 0);
  assert_xp_count(doc, "/domain/os/loader", 0);
  assert_xp_count(doc, "/domain/features/smm", 0);
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void test_firmware_default(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("fw-unknown");
  h2k_domain_opts o = {.uefi_default = true};
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_xp(doc, "/domain/os/@firmware", "efi");
  xmlFreeDoc(doc);
  o.uefi_default = false;
  doc = generate(vm, &o, NULL);
  assert_xp_count(doc, "/domain/os/@firmware", 0);
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void test_boot_order_two_disks(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("two-disks");
  vm->vcpus = 1;
  vm->memory_mb = 512;
  add_disk(vm, 2); /* the source boots from the second disk first */
  add_disk(vm, 1);
  add_cdrom(vm, NULL);
  disks ds;
  h2k_domain_opts o = {0};
  fill_disks(&ds, 2, &o);
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_common_devices(doc);
  assert_xp(doc, "//disk[target/@dev='vda']/boot/@order", "2");
  assert_xp(doc, "//disk[target/@dev='vdb']/boot/@order", "1");
  assert_xp(doc, "//disk[@device='cdrom']/boot/@order", "3");
  xmlFreeDoc(doc);

  /* Same order twice in the source, and disks without one: still unique,
   * ties kept in model order, unnumbered disks after numbered ones. */
  vm->disks[0].boot_order = 1;
  add_disk(vm, 0);
  add_disk(vm, 1);
  fill_disks(&ds, 4, &o);
  vm->disks[1].boot_order = 0;
  doc = generate(vm, &o, NULL);
  assert_xp(doc, "//disk[target/@dev='vda']/boot/@order", "1");
  assert_xp(doc, "//disk[target/@dev='vdd']/boot/@order", "2");
  assert_xp(doc, "//disk[target/@dev='vdb']/boot/@order", "3");
  assert_xp(doc, "//disk[target/@dev='vdc']/boot/@order", "4");
  assert_xp(doc, "//disk[@device='cdrom']/boot/@order", "5");
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void test_many_disks(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("many-disks");
  for (int i = 0; i < 30; i++)
    add_disk(vm, 0);
  add_cdrom(vm, NULL);
  disks ds;
  h2k_domain_opts o = {0};
  fill_disks(&ds, 30, &o);
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_common_devices(doc);
  assert_xp_count(doc, "//disk[@device='disk']", 30);
  assert_xp(doc,
            "//disk[source/@file='/var/lib/libvirt/images/d0.qcow2']"
            "/target/@dev",
            "vda");
  assert_xp(doc,
            "//disk[source/@file='/var/lib/libvirt/images/d25.qcow2']"
            "/target/@dev",
            "vdz");
  assert_xp(doc,
            "//disk[source/@file='/var/lib/libvirt/images/d26.raw']"
            "/target/@dev",
            "vdaa");
  assert_xp(doc,
            "//disk[source/@file='/var/lib/libvirt/images/d29.raw']"
            "/target/@dev",
            "vdad");
  assert_xp(doc, "//disk[target/@dev='vdad']/boot/@order", "30");
  assert_xp(doc, "//disk[target/@dev='vdad']/driver/@type", "raw");
  assert_xp(doc, "//disk[@device='cdrom']/target/@dev", "sda");
  assert_xp(doc, "//disk[@device='cdrom']/boot/@order", "31");
  xmlFreeDoc(doc);

  /* SATA: sda.., CD-ROM continues after the disks. */
  o.disk_bus = "sata";
  doc = generate(vm, &o, NULL);
  assert_xp(doc, "//disk[target/@dev='sdaa']/target/@bus", "sata");
  assert_xp(doc, "//disk[@device='cdrom']/target/@dev", "sdae");
  assert_xp_count(doc, "//controller[@type='scsi']", 0);
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void test_scsi_bus(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("scsi-vm");
  add_disk(vm, 0);
  add_disk(vm, 0);
  add_cdrom(vm, NULL);
  disks ds;
  h2k_domain_opts o = {.disk_bus = "scsi"};
  fill_disks(&ds, 2, &o);
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_common_devices(doc);
  assert_xp(doc, "//disk[target/@dev='sda']/target/@bus", "scsi");
  assert_xp(doc, "//disk[target/@dev='sdb']/target/@bus", "scsi");
  assert_xp(doc, "//disk[@device='cdrom']/target/@dev", "sdc");
  assert_xp(doc, "//disk[@device='cdrom']/target/@bus", "sata");
  assert_xp(doc, "//controller[@type='scsi']/@model", "virtio-scsi");
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void test_network_map(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("nets");
  add_nic(vm, "00:50:56:00:00:01", "VM Network");
  add_nic(vm, "00:50:56:00:00:02", "DMZ: 10.0.0.0/24");
  add_nic(vm, "00:50:56:00:00:03", "Other");
  add_nic(vm, NULL, "VM Network");        /* no MAC: libvirt makes one */
  add_nic(vm, "01:00:5e:00:00:01", NULL); /* multicast: dropped */
  add_nic(vm, "not-a-mac", "VM Network"); /* garbage: dropped */
  const char *map[] = {"VM Network:prod", "DMZ: 10.0.0.0/24:bridge=br-dmz",
                       "Unused:x"};
  h2k_domain_opts o = {
      .network_map = map, .n_network_map = 3, .network = "lan"};
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_common_devices(doc);
  assert_xp_count(doc, "//interface", 6);
  assert_xp(doc, "//interface[mac/@address='00:50:56:00:00:01']/@type",
            "network");
  assert_xp(doc,
            "//interface[mac/@address='00:50:56:00:00:01']/source/@network",
            "prod");
  assert_xp(doc, "//interface[mac/@address='00:50:56:00:00:02']/@type",
            "bridge");
  assert_xp(doc, "//interface[mac/@address='00:50:56:00:00:02']/source/@bridge",
            "br-dmz");
  assert_xp(doc,
            "//interface[mac/@address='00:50:56:00:00:03']/source/@network",
            "lan");
  assert_xp_count(doc, "//interface[not(mac)]", 3);
  assert_xp(doc, "//interface[4]/source/@network", "prod");
  assert_xp(doc, "//interface[5]/source/@network", "lan");
  assert_xp_count(doc, "//interface/model[@type='virtio']", 6);
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void test_bridge_and_default_network(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("bridged");
  add_nic(vm, "52:54:00:12:34:56", "VM Network");
  add_nic(vm, "52:54:00:12:34:57", "Mapped");
  const char *map[] = {"Mapped:isolated"};
  h2k_domain_opts o = {.bridge = "br0", .network_map = map, .n_network_map = 1};
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_xp(doc, "//interface[1]/@type", "bridge");
  assert_xp(doc, "//interface[1]/source/@bridge", "br0");
  assert_xp(doc, "//interface[2]/@type", "network");
  assert_xp(doc, "//interface[2]/source/@network", "isolated");
  xmlFreeDoc(doc);

  h2k_domain_opts plain = {0};
  doc = generate(vm, &plain, NULL);
  assert_xp_count(doc, "//interface[@type='network']", 2);
  assert_xp_count(doc, "//interface/source[@network='default']", 2);
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void test_no_nics(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("no-nics");
  xmlDocPtr doc = generate(vm, NULL, NULL);
  assert_common_devices(doc);
  assert_xp_count(doc, "//interface", 0);
  assert_xp_count(doc, "//disk", 0);
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void test_special_names(void **state) {
  (void)state;
  const char *name = "Web & <prod> 'x' \"y\" \xC3\x9Cn\xC3\xAF"
                     "c\xC3\xB8"
                     "d\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x96\xA5";
  h2k_vm *vm = new_vm(name);
  vm->annotation = xstrdup("  Owner: R&D <ops@example.com>  \n"
                           "line 2 with 'quotes' and \"more\" ]]> \t\n"
                           "caf\xC3\xA9");
  vm->guest_os = xstrdup("windows2019srv-64");
  add_nic(vm, "00:50:56:aa:aa:aa", "R&D <lab> \"net\"");
  const char *map[] = {"R&D <lab> \"net\":lab & \"co\""};
  h2k_domain_opts o = {.network_map = map, .n_network_map = 1};
  disks ds;
  add_disk(vm, 0);
  fill_disks(&ds, 1, &o);
  strcpy(ds.path[0], "/srv/vm's & <x> \xC3\xA9.qcow2");
  char *xml = NULL;
  xmlDocPtr doc = generate(vm, &o, &xml);
  assert_xp(doc, "/domain/name", name);
  assert_xp(doc, "/domain/title", "Owner: R&D <ops@example.com>");
  assert_xp(doc, "/domain/description", vm->annotation);
  assert_xp(doc, "//interface/source/@network", "lab & \"co\"");
  assert_xp(doc, "//disk/source/@file", "/srv/vm's & <x> \xC3\xA9.qcow2");
  /* Windows guests: local-time RTC and a VGA adapter. */
  assert_xp(doc, "/domain/clock/@offset", "localtime");
  assert_xp(doc, "/domain/devices/video/model/@type", "vga");
  /* Non-ASCII stays raw UTF-8 (no character references). */
  assert_non_null(strstr(xml, "\xE6\x97\xA5\xE6\x9C\xAC"));
  free(xml);
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void test_bad_bytes_in_names(void **state) {
  (void)state;
  /* Invalid UTF-8, a control character, '/' and a newline. */
  h2k_vm *vm = new_vm("bad\xFF\xC0\x80name\x01/a\nb");
  vm->annotation = xstrdup("\xE2\x82 broken\x02 \xED\xA0\x80 surrogate");
  h2k_domain_opts o = {.name = NULL};
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_xp(doc, "/domain/name",
            "bad\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDname\xEF\xBF\xBD_a_b");
  assert_xp(doc, "/domain/description",
            "\xEF\xBF\xBD\xEF\xBF\xBD broken\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF"
            "\xBD\xEF\xBF\xBD surrogate");
  xmlFreeDoc(doc);

  /* The name override; an empty name gets a fallback. */
  o.name = "override";
  doc = generate(vm, &o, NULL);
  assert_xp(doc, "/domain/name", "override");
  xmlFreeDoc(doc);
  free(vm->name);
  vm->name = NULL;
  free(vm->annotation);
  vm->annotation = xstrdup(" \n\t ");
  doc = generate(vm, NULL, NULL);
  assert_xp(doc, "/domain/name", "vm");
  assert_xp_count(doc, "/domain/title", 0);
  assert_xp_count(doc, "/domain/description", 0);
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

/* The ISO lives in a fixture so that a failing test still removes it. */
static int iso_setup(void **state) {
  static char iso[] = "/tmp/h2k-iso-XXXXXX";
  strcpy(iso, "/tmp/h2k-iso-XXXXXX");
  int fd = mkstemp(iso);
  if (fd < 0)
    return -1;
  close(fd);
  *state = iso;
  return 0;
}

static int iso_teardown(void **state) {
  unlink((const char *)*state);
  return 0;
}

static void test_cdroms(void **state) {
  const char *iso = *state;
  h2k_vm *vm = new_vm("cdroms");
  add_disk(vm, 1);
  add_cdrom(vm, iso);
  add_cdrom(vm, "/nonexistent/h2k/missing.iso");
  add_cdrom(vm, NULL);
  disks ds;
  h2k_domain_opts o = {0};
  fill_disks(&ds, 1, &o);
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_common_devices(doc);
  assert_xp_count(doc, "//disk[@device='cdrom']", 3);
  assert_xp_count(doc, "//disk[@device='cdrom']/readonly", 3);
  assert_xp_count(doc, "//disk[@device='cdrom']/target[@bus='sata']", 3);
  assert_xp_count(doc, "//disk[@device='cdrom']/source", 1);
  assert_xp(doc, "//disk[target/@dev='sda']/source/@file", iso);
  assert_xp_count(doc, "//disk[target/@dev='sdb']/source", 0);
  assert_xp(doc, "//disk[target/@dev='sdc']/boot/@order", "4");
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void test_odd_values(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("odd");
  vm->uuid = xstrdup("not-a-uuid");
  vm->vcpus = 0;
  vm->cores_per_socket = 4;
  vm->memory_mb = 0;
  xmlDocPtr doc = generate(vm, NULL, NULL);
  assert_xp_count(doc, "/domain/uuid", 0);
  assert_xp(doc, "/domain/vcpu", "2");
  assert_xp(doc, "/domain/memory", "2097152");
  assert_xp_count(doc, "/domain/cpu/topology", 0);
  xmlFreeDoc(doc);

  h2k_domain_opts o = {.vcpus_default = 3, .memory_mb_default = 1536};
  vm->vcpus = -5;
  doc = generate(vm, &o, NULL);
  assert_xp(doc, "/domain/vcpu", "3");
  assert_xp(doc, "/domain/memory", "1572864");
  xmlFreeDoc(doc);

  /* Absurd sizes fall back; a topology that does not divide is dropped. */
  vm->vcpus = 6;
  vm->memory_mb = UINT64_MAX / 512;
  doc = generate(vm, &o, NULL);
  assert_xp(doc, "/domain/vcpu", "6");
  assert_xp_count(doc, "/domain/cpu/topology", 0);
  assert_xp(doc, "/domain/memory", "1572864");
  xmlFreeDoc(doc);

  /* A 32-digit UUID is accepted as is. */
  free(vm->uuid);
  vm->uuid = xstrdup("0123456789abcdef0123456789ABCDEF");
  doc = generate(vm, &o, NULL);
  assert_xp(doc, "/domain/uuid", "0123456789abcdef0123456789ABCDEF");
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

static void expect_error(const h2k_vm *vm, const h2k_domain_opts *o, int code,
                         const char *needle) {
  h2k_error err = {0};
  char *xml = h2k_domain_xml(vm, o, &err);
  if (xml)
    fail_msg("expected an error containing '%s', got XML", needle);
  assert_int_equal(err.code, code);
  if (!strstr(h2k_error_text(&err), needle))
    fail_msg("error '%s' lacks '%s'", h2k_error_text(&err), needle);
}

static void test_errors(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("errs");
  add_disk(vm, 0);
  h2k_domain_disk d = {.path = "/x.vmdk", .format = "vmdk"};
  h2k_domain_opts o = {.disks = &d, .n_disks = 1};
  expect_error(vm, &o, H2K_E_USAGE, "format 'vmdk'");
  d.format = NULL;
  expect_error(vm, &o, H2K_E_USAGE, "format '(none)'");
  d = (h2k_domain_disk){.path = "relative.qcow2", .format = "qcow2"};
  expect_error(vm, &o, H2K_E_USAGE, "not absolute");
  d.path = "/ok.qcow2";
  o.disk_bus = "ide";
  expect_error(vm, &o, H2K_E_USAGE, "disk bus 'ide'");
  o.disk_bus = NULL;
  const char *bad_map[] = {"no-colon-here"};
  o.network_map = bad_map;
  o.n_network_map = 1;
  expect_error(vm, &o, H2K_E_USAGE, "no-colon-here");
  bad_map[0] = "VM Network:bridge=this-name-is-too-long";
  expect_error(vm, &o, H2K_E_USAGE, "not a valid");
  bad_map[0] = "VM Network:a/b";
  expect_error(vm, &o, H2K_E_USAGE, "not a valid");
  o.n_network_map = 0;
  o.bridge = "br 0";
  expect_error(vm, &o, H2K_E_USAGE, "bridge name");
  o.bridge = NULL;
  o.network = "x/y";
  expect_error(vm, &o, H2K_E_USAGE, "network name");
  /* The error names the VM. */
  expect_error(vm, &o, H2K_E_USAGE, "'errs'");
  o.network = NULL;
  o.n_network_map = 2;
  o.network_map = NULL;
  expect_error(vm, &o, H2K_E_FAIL, "none given");
  o.n_network_map = 0;
  o.disks = NULL;
  expect_error(vm, &o, H2K_E_FAIL, "none given");
  h2k_error err = {0};
  assert_null(h2k_domain_xml(NULL, &o, &err));
  assert_int_equal(err.code, H2K_E_FAIL);
  h2k_vm_free(vm);
}

static void test_deterministic(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("det");
  vm->vcpus = 2;
  add_disk(vm, 0);
  add_nic(vm, "00:50:56:01:02:03", "VM Network");
  disks ds1, ds2;
  h2k_domain_opts o1 = {0}, o2 = {0};
  fill_disks(&ds1, 1, &o1);
  fill_disks(&ds2, 1, &o2); /* equal values, different storage */
  h2k_error err = {0};
  char *a = h2k_domain_xml(vm, &o1, &err);
  char *b = h2k_domain_xml(vm, &o2, &err);
  assert_non_null(a);
  assert_non_null(b);
  assert_string_equal(a, b);
  /* ... and a change shows. */
  o2.network = "other";
  char *c = h2k_domain_xml(vm, &o2, &err);
  assert_non_null(c);
  assert_true(strcmp(a, c) != 0);
  free(a);
  free(b);
  free(c);
  h2k_vm_free(vm);
}

/* ---- the corpus ---- */

static void check_corpus_vm(const h2k_vm *vm, const char *file) {
  disks ds;
  h2k_domain_opts o = {0};
  fill_disks(&ds, vm->n_disks, &o);
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_common_devices(doc);
  if (!strchr(vm->name, '/'))
    assert_xp(doc, "/domain/name", vm->name);
  char want[64];
  snprintf(want, sizeof want, "%d", vm->vcpus > 0 ? vm->vcpus : 2);
  assert_xp(doc, "/domain/vcpu", want);
  snprintf(want, sizeof want, "%llu",
           (unsigned long long)(vm->memory_mb ? vm->memory_mb : 2048) * 1024);
  assert_xp(doc, "/domain/memory", want);
  assert_xp_count(doc, "//disk[@device='disk']", vm->n_disks);
  assert_xp_count(doc, "//disk[@device='cdrom']", vm->n_cdroms);
  assert_xp_count(doc, "//interface", vm->n_nics);
  assert_xp_count(doc, "/domain/os[@firmware='efi']",
                  vm->firmware == H2K_FW_UEFI);
  assert_xp_count(doc, "/domain/os/loader[@secure='yes']",
                  vm->firmware == H2K_FW_UEFI && vm->secure_boot);
  for (size_t i = 0; i < vm->n_nics; i++) {
    if (!vm->nics[i].mac)
      continue;
    char expr[128];
    snprintf(expr, sizeof expr, "//interface/mac[@address='%s']",
             vm->nics[i].mac);
    if (xp_count(doc, expr) != 1)
      fail_msg("%s: MAC %s not kept", file, vm->nics[i].mac);
  }
  if (vm->uuid)
    assert_xp(doc, "/domain/uuid", vm->uuid);
  xmlFreeDoc(doc);
}

static void test_corpus_vmx(void **state) {
  (void)state;
  static const char *files[] = {"duplicate-keys.vmx",     "esx35-lsilogic.vmx",
                                "esx80-win11.vmx",        "fusion-hddorder.vmx",
                                "no-encoding-latin1.vmx", "nvme.vmx",
                                "pipe-escapes.vmx",       "pruned.vmx",
                                "pvscsi-21-disks.vmx",    "shift-jis.vmx",
                                "unquoted.vmx",           "upper-case-keys.vmx",
                                "vmfs-paths.vmx",         "windows-1252.vmx",
                                "ws-static-mac.vmx"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", DATA, files[i]);
    h2k_error err = {0};
    h2k_vm *vm = h2k_vmx_parse_file(path, &err);
    if (!vm)
      fail_msg("%s: %s", files[i], h2k_error_text(&err));
    check_corpus_vm(vm, files[i]);
    h2k_vm_free(vm);
  }
}

static void test_corpus_ovf(void **state) {
  (void)state;
  static const struct {
    const char *file, *vm;
  } files[] = {{"ovf2-storageitem.ovf", NULL},
               {"ovftool-chunked-gzip.ovf", NULL},
               {"vapp-two-vms.ovf", "web"},
               {"vapp-two-vms.ovf", "db"},
               {"vsphere-rhel9-efi-pvscsi.ovf", NULL},
               {"vsphere-win2k8r2-lsilogicsas.ovf", NULL}};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", DATA, files[i].file);
    h2k_error err = {0};
    h2k_vm *vm = h2k_ovf_parse_file(path, files[i].vm, &err);
    if (!vm)
      fail_msg("%s: %s", files[i].file, h2k_error_text(&err));
    check_corpus_vm(vm, files[i].file);
    h2k_vm_free(vm);
  }
}

/* A few corpus facts worth pinning beyond the generic checks. */
static void test_corpus_specifics(void **state) {
  (void)state;
  char path[4096];
  h2k_error err = {0};
  snprintf(path, sizeof path, "%s/esx80-win11.vmx", DATA);
  h2k_vm *vm = h2k_vmx_parse_file(path, &err);
  assert_non_null(vm);
  disks ds;
  h2k_domain_opts o = {0};
  fill_disks(&ds, vm->n_disks, &o);
  xmlDocPtr doc = generate(vm, &o, NULL);
  assert_xp(doc, "/domain/features/smm/@state", "on");
  assert_xp(doc, "/domain/cpu/topology/@sockets", "2");
  assert_xp(doc, "/domain/cpu/topology/@cores", "2");
  assert_xp(doc, "/domain/clock/@offset", "localtime");
  xmlFreeDoc(doc);
  h2k_vm_free(vm);

  snprintf(path, sizeof path, "%s/pvscsi-21-disks.vmx", DATA);
  vm = h2k_vmx_parse_file(path, &err);
  assert_non_null(vm);
  assert_true(vm->n_disks >= 21);
  fill_disks(&ds, vm->n_disks, &o);
  doc = generate(vm, &o, NULL);
  assert_xp_count(doc, "//disk/target[@dev='vdu']", 1);
  assert_xp_count(doc, "//boot", (int)(vm->n_disks + vm->n_cdroms));
  xmlFreeDoc(doc);
  h2k_vm_free(vm);
}

/* ---- h2k_libvirt_define on its own ---- */

static void test_define_errors(void **state) {
  (void)state;
  h2k_vm *vm = new_vm("define-errors");
  h2k_error err = {0};
  char *xml = h2k_domain_xml(vm, NULL, &err);
  assert_non_null(xml);
#ifdef H2K_HAVE_LIBVIRT
  assert_int_equal(h2k_libvirt_define("nosuchdriver:///nowhere", xml, &err),
                   -1);
  assert_int_equal(err.code, H2K_E_ENV);
  const char *text = h2k_error_text(&err);
  if (!strstr(text, "nosuchdriver:///nowhere") || !err.cause[0])
    fail_msg("unclear connection error: %s", text);

  h2k_err_clear(&err);
  assert_int_equal(h2k_libvirt_define(
                       TEST_URI, "<domain type='kvm'><bogus/></domain>", &err),
                   -1);
  assert_int_equal(err.code, H2K_E_IO);
  if (!strstr(err.message, TEST_URI) || !err.cause[0])
    fail_msg("unclear define error: %s", h2k_error_text(&err));

  h2k_err_clear(&err);
  assert_int_equal(h2k_libvirt_define(TEST_URI, "", &err), -1);
  assert_int_not_equal(err.code, H2K_OK);
#else
  assert_int_equal(h2k_libvirt_define(TEST_URI, xml, &err), -1);
  assert_int_equal(err.code, H2K_E_NOTIMPL);
  assert_non_null(strstr(err.message, "libvirt"));
#endif
  free(xml);
  h2k_vm_free(vm);
}

static int setup(void **state) {
  (void)state;
#ifdef H2K_HAVE_LIBVIRT
  virSetErrorFunc(NULL, quiet);
  keep = virConnectOpen(TEST_URI);
  if (!keep) {
    fprintf(stderr, "cannot open %s: %s\n", TEST_URI, virGetLastErrorMessage());
    return -1;
  }
#endif
  return 0;
}

static int teardown(void **state) {
  (void)state;
#ifdef H2K_HAVE_LIBVIRT
  virConnectClose(keep);
  keep = NULL;
#endif
  xmlCleanupParser();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bios),
      cmocka_unit_test(test_uefi),
      cmocka_unit_test(test_uefi_secure_boot),
      cmocka_unit_test(test_firmware_default),
      cmocka_unit_test(test_boot_order_two_disks),
      cmocka_unit_test(test_many_disks),
      cmocka_unit_test(test_scsi_bus),
      cmocka_unit_test(test_network_map),
      cmocka_unit_test(test_bridge_and_default_network),
      cmocka_unit_test(test_no_nics),
      cmocka_unit_test(test_special_names),
      cmocka_unit_test(test_bad_bytes_in_names),
      cmocka_unit_test_setup_teardown(test_cdroms, iso_setup, iso_teardown),
      cmocka_unit_test(test_odd_values),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_corpus_vmx),
      cmocka_unit_test(test_corpus_ovf),
      cmocka_unit_test(test_corpus_specifics),
      cmocka_unit_test(test_define_errors),
  };
  return cmocka_run_group_tests_name("domain_xml", tests, setup, teardown);
}
