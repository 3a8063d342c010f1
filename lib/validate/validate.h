/* VALIDATE: boot the converted guest once under QEMU and tell whether it
 * reached a login prompt and asked for an address by DHCP.
 *
 * The guest boots on a throwaway qcow2 overlay (the delivered disks are
 * never written), with the device layout of our domain.xml (q35, one
 * pcie-root-port per device, the first NIC on the first port so the guest
 * names it enp1s0, virtio-blk disks after it), on QEMU user networking with
 * restrict=on (the guest reaches nothing but QEMU's own DHCP server) and a
 * packet dump of that network. The serial console is read for markers of
 * success (login prompt, multi-user target) and of early failure (kernel
 * panic, initramfs shell, emergency mode).
 *
 * serial.c, pcap.c and qemu_args.c are pure functions over buffers and
 * plans (unit-tested); boot.c spawns, watches and stops QEMU. */
#ifndef H2K_VALIDATE_VALIDATE_H
#define H2K_VALIDATE_VALIDATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* ---- result (kept in the job, written to the reports) ---- */

enum h2k_val_status {
  H2K_VAL_NOT_RUN = 0, /* the job stopped before VALIDATE */
  H2K_VAL_PASSED,
  H2K_VAL_FAILED,
  H2K_VAL_SKIPPED, /* --no-validate, no qemu, nothing to boot */
};

enum h2k_val_boot {
  H2K_VBOOT_UNKNOWN = 0, /* "unknown": no success or failure marker */
  H2K_VBOOT_YES,
  H2K_VBOOT_NO,
};

typedef struct h2k_validate_result {
  enum h2k_val_status status;
  enum h2k_val_boot boot;
  bool ran;           /* QEMU was started */
  bool network;       /* a DHCP DISCOVER/REQUEST from `mac` was seen */
  bool serial_output; /* the guest wrote anything to the serial port */
  double boot_s;      /* seconds from QEMU start to the boot marker */
  double network_s;   /* seconds from QEMU start to the first DHCP packet */
  double total_s;     /* seconds QEMU ran */
  unsigned frames_from_mac; /* Ethernet frames the guest sent */
  char accel[8];            /* "kvm" or "tcg" */
  char firmware[8];         /* "bios" or "uefi" */
  char mac[18];
  char marker[160];       /* the serial line that decided boot yes/no */
  char reason[512];       /* one sentence: why passed / failed / skipped */
  char serial_tail[1600]; /* last serial lines ("  | line\n" each) */
  char serial_log[4096];  /* where the serial log was kept, or "" */
} h2k_validate_result;

const char *h2k_val_status_name(enum h2k_val_status st); /* "passed", ... */
const char *h2k_val_boot_name(enum h2k_val_boot b);      /* yes/no/unknown */

/* ---- serial console (serial.c, pure) ---- */

enum h2k_serial_mark {
  H2K_MARK_NONE = 0,
  H2K_MARK_LOGIN,           /* "host login: " */
  H2K_MARK_MULTIUSER,       /* systemd reached multi-user.target */
  H2K_MARK_PANIC,           /* Kernel panic - not syncing */
  H2K_MARK_ALERT,           /* initramfs-tools: "ALERT! ... does not exist" */
  H2K_MARK_ROOTWAIT,        /* "Gave up waiting for root ..." */
  H2K_MARK_INITRAMFS_SHELL, /* "(initramfs)" prompt, "Dropping to a shell" */
  H2K_MARK_EMERGENCY,       /* systemd or dracut emergency mode / shell */
  H2K_MARK_GRUB_RESCUE,
  H2K_MARK_UEFI_SHELL, /* OVMF found nothing to boot: its shell */
};

/* Success markers are LOGIN and MULTIUSER; the others are failures. */
bool h2k_serial_mark_is_boot(enum h2k_serial_mark m);
bool h2k_serial_mark_is_failure(enum h2k_serial_mark m);
const char *h2k_serial_mark_name(enum h2k_serial_mark m);

/* Classify one line (no newline; '\r' and ANSI escapes are tolerated). */
enum h2k_serial_mark h2k_serial_classify_line(const char *line, size_t len);

typedef struct h2k_serial_verdict {
  enum h2k_serial_mark mark; /* the first decisive marker, or NONE */
  char line[160];            /* that line, cleaned */
  char detail[160];          /* for failures: an earlier line naming the cause
                                ("Timed out waiting for device ...") or "" */
  bool any_output;           /* anything printable at all */
} h2k_serial_verdict;

/* Scan a whole serial log (the last line may be incomplete: a login prompt
 * has no newline after it). */
void h2k_serial_scan(const char *text, size_t len, h2k_serial_verdict *v);

/* Copy `line` to out (cap >= 1) without '\r', ANSI escape sequences,
 * control characters or non-ASCII bytes, trimmed; truncated to fit. */
void h2k_serial_clean_line(const char *line, size_t len, char *out, size_t cap);

/* The last `max_lines` non-empty lines, cleaned, each as "  | line\n",
 * cut to at most 100 characters, older lines dropped to fit `cap`. */
void h2k_serial_tail(const char *text, size_t len, int max_lines, char *out,
                     size_t cap);

/* ---- packet capture (pcap.c, pure) ---- */

typedef struct h2k_pcap_stats {
  unsigned packets;       /* records read */
  unsigned from_mac;      /* Ethernet frames with source `mac` */
  unsigned dhcp_from_mac; /* DHCP DISCOVER/REQUEST (UDP 68->67) from it */
  unsigned dhcp_other;    /* DHCP client packets from other MACs */
  bool truncated;         /* the last record was cut short (still written) */
} h2k_pcap_stats;

/* Parse a classic pcap (either byte order, µs or ns timestamps, Ethernet
 * link type, 802.1Q / 802.1ad tags). Returns 0, or -1 when the buffer is
 * not a pcap or not Ethernet (st then holds zeros). Garbage after the
 * header stops the walk without error (QEMU may be writing the file). */
int h2k_pcap_scan(const uint8_t *buf, size_t len, const uint8_t mac[6],
                  h2k_pcap_stats *st);

/* "52:54:00:ab:cd:ef" -> bytes. Returns 0 or -1. */
int h2k_mac_parse(const char *s, uint8_t out[6]);

/* ---- the QEMU command line (qemu_args.c, pure) ---- */

typedef struct h2k_qemu_plan {
  const char *qemu; /* argv[0] */
  const char *name; /* QEMU -name (guest name), may be NULL */
  bool kvm;
  int vcpus;
  uint64_t memory_mb;
  const char *const *disks; /* qcow2 overlays, boot disk first */
  size_t n_disks;
  const char *mac;        /* NIC MAC "52:54:00:xx:xx:xx" */
  const char *serial_log; /* file the serial port writes */
  const char *pcap;       /* packet dump of the user network */
  const char *ovmf_code;  /* UEFI: firmware code (read-only); NULL = BIOS */
  const char *ovmf_vars;  /* UEFI: the job's copy of the variable store */
  bool secure_boot;       /* UEFI with SMM and a secure pflash */
} h2k_qemu_plan;

/* The argv (NULL-terminated, malloc'ed strings), or NULL when out of memory
 * or when the plan lacks a disk, a MAC, the serial log or the pcap. */
char **h2k_qemu_argv(const h2k_qemu_plan *p);
void h2k_strv_free(char **v);

/* A MAC for the validation NIC: 52:54:00 + three bytes of SHA-256 of the
 * VM name, changed until it differs from every MAC in `avoid` (n_avoid
 * strings, NULLs allowed). out: "52:54:00:xx:xx:xx". */
void h2k_validate_mac(const char *vm_name, const char *const *avoid,
                      size_t n_avoid, char out[18]);

/* Memory and vCPUs for the validation boot: memory capped at 2048 MiB (1024
 * when unknown); 1 vCPU under TCG, else the VM's count (1 when unknown)
 * capped at 4. */
void h2k_validate_resources(uint64_t vm_memory_mb, int vm_vcpus, bool kvm,
                            uint64_t *memory_mb, int *vcpus);

/* OVMF code and variable-store templates that exist, searched in the usual
 * places under `root` ("" or NULL for /): when `secure_boot`, first a
 * Secure Boot build (SMM) with Microsoft keys enrolled; else, or when there
 * is none, a plain build (4M before 2M). *code and *vars are malloc'ed.
 * Returns 1 (Secure Boot build), 0 (plain build) or -1 (none found). */
int h2k_find_ovmf(const char *root, bool secure_boot, char **code, char **vars);

/* ---- running the check (boot.c) ---- */

typedef struct h2k_validate_disk {
  const char *path;   /* the converted disk (never written) */
  const char *format; /* "qcow2" or "raw" */
} h2k_validate_disk;

typedef struct h2k_validate_opts {
  const char *qemu;     /* path of qemu-system-x86_64 */
  const char *qemu_img; /* path of qemu-img (creates the overlays) */
  const char *work_dir; /* private directory for overlays, logs, pcap */
  const char *name;     /* VM name (for -name and messages) */
  const h2k_validate_disk *disks;
  size_t n_disks;
  bool uefi, secure_boot;
  const char *ovmf_code, *ovmf_vars; /* UEFI: templates (vars copied) */
  const char *mac;
  bool kvm;
  int vcpus;
  uint64_t memory_mb;
  unsigned timeout_s;  /* for the boot marker */
  unsigned net_wait_s; /* after the boot marker, for DHCP (and the reverse
                          when the guest writes nothing on the serial port) */
  atomic_bool *cancel; /* polled; may be NULL */
} h2k_validate_opts;

/* Boot once and fill `res` (status PASSED or FAILED, with the reason and
 * the serial tail). Returns 0 when the check ran to a verdict, -1 with err
 * set when it could not run (H2K_E_CANCELLED when cancelled, H2K_E_ENV or
 * H2K_E_FAIL for setup failures). QEMU is never left running. The work
 * directory keeps serial.log, net.pcap, qemu.log and the overlays; the
 * caller removes it. */
int h2k_validate_boot(const h2k_validate_opts *o, h2k_validate_result *res,
                      h2k_error *err);

/* Is /dev/kvm usable by this process? */
bool h2k_kvm_usable(void);

/* The first executable `name` in $PATH (malloc'ed), or NULL. */
char *h2k_find_in_path(const char *name);

/* Does the guest-visible first sector of `path` (any format the image
 * engine reads) end with the 0x55AA boot signature (MBR or a GPT's
 * protective MBR)? Returns 1, 0, or -1 with err set. */
int h2k_disk_has_boot_sector(const char *path, h2k_error *err);

/* ---- reports (report.c) ---- */

struct json_object;
struct h2k_buf;

/* The `validation` object of report.json and metadata.json: status,
 * accelerator, firmware, boot (yes/no/unknown), network, boot_seconds,
 * network_seconds, duration_s, mac, reason, serial_log (null when not
 * known). */
struct json_object *h2k_validate_json(const h2k_validate_result *v);

/* The "## Validation" section of report.md. */
void h2k_validate_markdown(const h2k_validate_result *v, struct h2k_buf *md);

#endif
