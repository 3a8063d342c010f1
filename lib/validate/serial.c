/* Serial console markers: did the guest reach a login prompt (or systemd's
 * multi-user target), or did it stop early (kernel panic, initramfs shell,
 * emergency mode, GRUB rescue)? Pure functions over text. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "validate/validate.h"

const char *h2k_val_status_name(enum h2k_val_status st) {
  switch (st) {
  case H2K_VAL_PASSED:
    return "passed";
  case H2K_VAL_FAILED:
    return "failed";
  case H2K_VAL_SKIPPED:
    return "skipped";
  case H2K_VAL_NOT_RUN:
    break;
  }
  return "not-run";
}

const char *h2k_val_boot_name(enum h2k_val_boot b) {
  return b == H2K_VBOOT_YES ? "yes" : b == H2K_VBOOT_NO ? "no" : "unknown";
}

bool h2k_serial_mark_is_boot(enum h2k_serial_mark m) {
  return m == H2K_MARK_LOGIN || m == H2K_MARK_MULTIUSER;
}

bool h2k_serial_mark_is_failure(enum h2k_serial_mark m) {
  return m != H2K_MARK_NONE && !h2k_serial_mark_is_boot(m);
}

const char *h2k_serial_mark_name(enum h2k_serial_mark m) {
  static const char *const names[] = {
      [H2K_MARK_NONE] = "none",
      [H2K_MARK_LOGIN] = "login prompt",
      [H2K_MARK_MULTIUSER] = "systemd multi-user target",
      [H2K_MARK_PANIC] = "kernel panic",
      [H2K_MARK_ALERT] = "initramfs could not find the root device",
      [H2K_MARK_ROOTWAIT] = "initramfs gave up waiting for the root device",
      [H2K_MARK_INITRAMFS_SHELL] = "initramfs emergency shell",
      [H2K_MARK_EMERGENCY] = "emergency mode",
      [H2K_MARK_GRUB_RESCUE] = "GRUB rescue prompt",
      [H2K_MARK_UEFI_SHELL] = "UEFI shell: the firmware found nothing to boot",
  };
  if ((unsigned)m < sizeof names / sizeof *names && names[m])
    return names[m];
  return "none";
}

/* Length of an escape sequence starting at s[0] == ESC (at least 1). */
static size_t escape_len(const char *s, size_t n) {
  if (n < 2)
    return 1;
  if (s[1] == '[') { /* CSI: parameters, then a final byte @..~ */
    size_t i = 2;
    while (i < n && !(s[i] >= '@' && s[i] <= '~'))
      i++;
    return i < n ? i + 1 : n;
  }
  return 2; /* ESC c, ESC 7, ... */
}

void h2k_serial_clean_line(const char *line, size_t len, char *out,
                           size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < len && o + 1 < cap;) {
    unsigned char c = (unsigned char)line[i];
    if (c == 0x1b) {
      i += escape_len(line + i, len - i);
      continue;
    }
    if (c == '\t')
      c = ' ';
    if (c >= 0x20 && c < 0x7f && !(c == ' ' && o == 0))
      out[o++] = (char)c;
    i++;
  }
  while (o > 0 && out[o - 1] == ' ')
    o--;
  if (cap)
    out[o < cap ? o : cap - 1] = '\0';
}

static bool has(const char *s, const char *needle) {
  return strstr(s, needle) != NULL;
}

/* "... login:" at the end of the line, after a blank or at its start. */
static bool is_login_prompt(const char *s) {
  size_t n = strlen(s);
  if (n < 6 || strcmp(s + n - 6, "login:") != 0)
    return false;
  return n == 6 || s[n - 7] == ' ';
}

static enum h2k_serial_mark classify_clean(const char *s) {
  if (is_login_prompt(s))
    return H2K_MARK_LOGIN;
  if (has(s, "Reached target") &&
      (has(s, "Multi-User System") || has(s, "multi-user.target")))
    return H2K_MARK_MULTIUSER;
  if (has(s, "Kernel panic - not syncing"))
    return H2K_MARK_PANIC;
  if (has(s, "ALERT!"))
    return H2K_MARK_ALERT;
  if (has(s, "Gave up waiting for root"))
    return H2K_MARK_ROOTWAIT;
  if (strncmp(s, "(initramfs)", 11) == 0 || has(s, "Dropping to a shell"))
    return H2K_MARK_INITRAMFS_SHELL;
  if (has(s, "You are in emergency mode") ||
      has(s, "Entering emergency mode") ||
      has(s, "Give root password for maintenance") ||
      has(s, "Dracut Emergency Shell") || strncmp(s, "dracut:/#", 9) == 0)
    return H2K_MARK_EMERGENCY;
  if (has(s, "grub rescue>") || has(s, "Entering rescue mode"))
    return H2K_MARK_GRUB_RESCUE;
  /* the shell's prompt, not its banner: a startup.nsh may still boot */
  if (strncmp(s, "Shell>", 6) == 0)
    return H2K_MARK_UEFI_SHELL;
  return H2K_MARK_NONE;
}

enum h2k_serial_mark h2k_serial_classify_line(const char *line, size_t len) {
  char clean[512];
  h2k_serial_clean_line(line, len, clean, sizeof clean);
  return classify_clean(clean);
}

/* A line that names the cause of a later emergency shell. */
static bool is_cause_line(const char *s) {
  return has(s, "does not exist") || has(s, "Timed out waiting for device") ||
         has(s, "Failed to mount") || has(s, "Dependency failed for") ||
         has(s, "Unable to mount root") || has(s, "Could not boot") ||
         has(s, "BdsDxe: failed to load");
}

/* Anything visible, escape sequences (screen clearing) aside? */
static bool any_printable(const char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    if (s[i] == 0x1b) {
      i += escape_len(s + i, n - i);
      continue;
    }
    if (isgraph((unsigned char)s[i]))
      return true;
    i++;
  }
  return false;
}

/* Record marker `m` found on `clean`. Returns true when the scan is done:
 * a boot marker ends it; after a failure marker it goes on only to find an
 * initramfs "ALERT!" line, which names the missing device. */
static bool take(h2k_serial_verdict *v, enum h2k_serial_mark m,
                 const char *clean) {
  if (v->mark != H2K_MARK_NONE && m != H2K_MARK_ALERT)
    return false;
  v->mark = m;
  snprintf(v->line, sizeof v->line, "%s", clean);
  if (h2k_serial_mark_is_boot(m) || is_cause_line(clean))
    v->detail[0] = '\0';
  return h2k_serial_mark_is_boot(m) || m == H2K_MARK_ALERT;
}

void h2k_serial_scan(const char *text, size_t len, h2k_serial_verdict *v) {
  memset(v, 0, sizeof *v);
  v->any_output = any_printable(text, len);
  char clean[512];
  for (size_t pos = 0; pos < len;) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
    h2k_serial_clean_line(text + pos, n, clean, sizeof clean);
    pos += n + 1;
    enum h2k_serial_mark m = classify_clean(clean);
    if (m != H2K_MARK_NONE && take(v, m, clean))
      return;
    if (v->mark == H2K_MARK_NONE && is_cause_line(clean))
      snprintf(v->detail, sizeof v->detail, "%s", clean);
  }
  if (v->mark == H2K_MARK_NONE)
    v->detail[0] = '\0';
}

/* Start of the line that ends just before `end` (exclusive). */
static size_t line_start(const char *text, size_t end) {
  size_t s = end;
  while (s > 0 && text[s - 1] != '\n')
    s--;
  return s;
}

void h2k_serial_tail(const char *text, size_t len, int max_lines, char *out,
                     size_t cap) {
  if (!cap)
    return;
  out[0] = '\0';
  char lines[64][101];
  int n = 0;
  if (max_lines > 64)
    max_lines = 64;
  /* walk backwards, collecting the newest non-empty lines */
  size_t end = len;
  while (n < max_lines && end > 0) {
    size_t s = line_start(text, end);
    h2k_serial_clean_line(text + s, end - s, lines[n], sizeof lines[n]);
    if (lines[n][0])
      n++;
    end = s > 0 ? s - 1 : 0;
  }
  /* keep the newest lines that fit, print them oldest first */
  size_t need = 0;
  int keep = 0;
  while (keep < n && need + strlen(lines[keep]) + 5 < cap)
    need += strlen(lines[keep++]) + 5;
  size_t o = 0;
  for (int i = keep - 1; i >= 0; i--) {
    int w = snprintf(out + o, cap - o, "  | %s\n", lines[i]);
    if (w < 0 || (size_t)w >= cap - o)
      break;
    o += (size_t)w;
  }
}
