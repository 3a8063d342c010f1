/* Linux network configuration fixers: pure text transforms.
 *
 * After a VMware -> KVM conversion the guest's NIC changes: a vmxnet3 or
 * e1000 NIC at PCI slot 192 ("ens192", MAC 00:50:56:...) becomes a virtio
 * NIC that predictable naming calls "enp1s0". Configs that pin the old MAC
 * or name leave the NIC down on first boot. Each transform here takes one
 * config file's text and returns the fixed text plus a change log; the I/O
 * layer reads and writes the guest files and decides the target name.
 *
 * Every transform:
 *  - returns a new malloc'ed text, identical to the input when there is
 *    nothing to do (untouched lines keep their bytes, comments and layout);
 *  - is idempotent (running it on its own output changes nothing);
 *  - records each changed line in `log` (may be NULL) with a reason;
 *  - returns NULL and sets `err` only on bad arguments or out of memory. */
#ifndef H2K_FIX_NETWORK_H
#define H2K_FIX_NETWORK_H

#include <stdbool.h>
#include <stddef.h>

#include "fix/fix.h"

typedef enum h2k_net_level {
  /* Only remove MAC pinning that would keep the NIC down (udev rules,
   * HWADDR=, match macaddress, ...). Interface names are kept. */
  H2K_NET_CONSERVATIVE,
  /* Default: also move configs from the VMware interface name to the name
   * the NIC has under KVM, or to a name-independent match. */
  H2K_NET_MODERATE,
  /* Also turn the config of a NIC that will not exist under KVM into DHCP
   * on the target interface (when nothing else configures it). */
  H2K_NET_AGGRESSIVE,
} h2k_net_level;

typedef struct h2k_net_ctx {
  h2k_net_level level;
  /* MACs of the source VM's NICs. MACs with a VMware OUI are always
   * treated as source MACs; list others here (e.g. a manually set MAC). */
  const char *const *source_macs;
  size_t n_source_macs;
  /* Interface names the guest's configs use for its NICs, first NIC first
   * ("ens192", "ens224"). When empty, a transform treats the single
   * VMware-style name found in the text as the first NIC; with several
   * such names and no list it renames nothing. The I/O layer should pass
   * the list whenever the guest has more than one NIC config. */
  const char *const *source_ifnames;
  size_t n_source_ifnames;
  /* Name the first NIC will have under KVM ("enp1s0" for virtio-net on
   * q35, "eth0" with net.ifnames=0). Required at moderate and above. */
  const char *target_ifname;
  /* Optional, parallel to source_ifnames: the KVM name of each NIC (NULL
   * entries: unknown). Without it only source_ifnames[0] is renamed (to
   * target_ifname); other NICs keep their names. */
  const char *const *target_ifnames;
  /* Prefer a name-independent match where the backend has one (netplan
   * `match: driver: virtio_net`, networkd `Name=en* eth*`, NetworkManager
   * without interface-name=) instead of the fixed target name. Set it only
   * for single-NIC guests: such a match binds whichever NIC comes first. */
  bool use_match_by_driver;
  /* Aggressive only: another file already configures target_ifname, so a
   * config of a missing NIC is not turned into a second one. */
  bool target_configured;
} h2k_net_ctx;

/* True for a MAC with a VMware OUI (00:50:56, 00:0c:29, 00:05:69,
 * 00:1c:14), case-insensitive, separated by ':' or '-'. */
bool h2k_is_vmware_mac(const char *mac);

/* True for interface names VMware guests typically have and that change
 * under KVM: ens32-ens39, ens160-167, ens192-199, ens224-231, ens256-263,
 * eno16777736-style (eno + 8 or more digits) and the legacy eth0-eth9. */
bool h2k_is_vmware_ifname(const char *name);

/* /etc/udev/rules.d/70-persistent-net.rules: comment out rules that name
 * a NIC by a VMware (or source) MAC. `path` is the guest path for the
 * log. */
char *h2k_fix_udev_persistent_net(const char *text, const h2k_net_ctx *ctx,
                                  const char *path, h2k_changes *log,
                                  h2k_error *err);

/* True when the rules text has no active rule left (only comments and
 * blank lines): the I/O layer may then remove the file. */
bool h2k_udev_rules_empty(const char *text);

/* RHEL/SUSE ifcfg-* file at guest `path` ("/etc/sysconfig/network-scripts/
 * ifcfg-ens192"). `*new_path` (may be NULL) receives the malloc'ed path the
 * file should move to ("/etc/.../ifcfg-enp1s0"), or NULL to keep it. */
char *h2k_fix_ifcfg(const char *text, const h2k_net_ctx *ctx, const char *path,
                    char **new_path, h2k_changes *log, h2k_error *err);

/* Debian /etc/network/interfaces and interfaces.d snippets. */
char *h2k_fix_ifupdown(const char *text, const h2k_net_ctx *ctx,
                       const char *path, h2k_changes *log, h2k_error *err);

/* Netplan YAML (/etc/netplan/NAME.yaml), edited line by line (the file is not
 * reformatted). */
char *h2k_fix_netplan(const char *text, const h2k_net_ctx *ctx,
                      const char *path, h2k_changes *log, h2k_error *err);

/* systemd-networkd .network and .link files under /etc/systemd/network
 * (told apart by the suffix of `path`). */
char *h2k_fix_networkd(const char *text, const h2k_net_ctx *ctx,
                       const char *path, h2k_changes *log, h2k_error *err);

/* NetworkManager keyfiles (/etc/NetworkManager/system-connections). */
char *h2k_fix_nm_keyfile(const char *text, const h2k_net_ctx *ctx,
                         const char *path, h2k_changes *log, h2k_error *err);

/* ---- Helpers shared by the network fixers (defined in net_udev.c) ---- */

/* A text as editable lines. Line indices are those of the original text,
 * so edits never shift each other; output is produced by h2k_nt_finish. */
typedef struct h2k_nt {
  char **line;   /* current text of line i (no '\n'); NULL when deleted */
  char ***ins;   /* lines inserted after line i */
  size_t *n_ins; /* count of ins[i] */
  size_t n;      /* number of original lines */
  bool final_nl; /* the text ended with '\n' */
  bool oom;      /* an allocation failed; finish reports it */
  const char *path;
  h2k_changes *log;
} h2k_nt;

/* Rename map for one text: ctx plus the fallback name found in it. */
typedef struct h2k_net_map {
  const h2k_net_ctx *ctx;
  char *fallback; /* single VMware-style name in the text, or NULL */
} h2k_net_map;

/* Validate arguments, split the text, build the rename map. */
int h2k_nt_begin(h2k_nt *t, h2k_net_map *m, const char *text,
                 const h2k_net_ctx *ctx, const char *path, h2k_changes *log,
                 h2k_error *err);
/* Join the edited lines (NULL + err on OOM) and free t and m. */
char *h2k_nt_finish(h2k_nt *t, h2k_net_map *m, h2k_error *err);

/* Replace line i with `repl` (takes ownership), log it. */
void h2k_nt_set(h2k_nt *t, size_t i, char *repl, const char *reason_fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Delete line i, log it. */
void h2k_nt_delete(h2k_nt *t, size_t i, const char *reason_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Comment line i out ("# " prefix), log it. */
void h2k_nt_comment(h2k_nt *t, size_t i, const char *reason_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Insert a new line after line i (takes ownership), log it. */
void h2k_nt_insert(h2k_nt *t, size_t i, char *added, const char *reason_fmt,
                   ...) __attribute__((format(printf, 4, 5)));

/* A new string: `s` with [off, off+len) replaced by `with`. */
char *h2k_net_splice(const char *s, size_t off, size_t len, const char *with);

/* The MAC is pinned to the source VM (VMware OUI or a listed source MAC).
 * Surrounding quotes are ignored. */
bool h2k_net_is_source_mac(const h2k_net_ctx *ctx, const char *mac, size_t len);

/* New name for an interface reference of `len` bytes, keeping a VLAN
 * (".100") or alias (":1") suffix; malloc'ed, or NULL to keep it. Always
 * NULL below moderate. */
char *h2k_net_rename(const h2k_net_map *m, const char *name, size_t len);

/* Aggressive only: `name` is an Ethernet NIC name that will not exist
 * under KVM (no rename target, not a target name) and nothing configures
 * the target interface yet. */
bool h2k_net_is_missing(const h2k_net_map *m, const char *name, size_t len);

/* Rename every whitespace- or comma-separated word of `list` that maps;
 * returns a new string or NULL when no word changes. */
char *h2k_net_rename_words(const h2k_net_map *m, const char *list);

#endif
