/* udev persistent-net rules (70-persistent-net.rules). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "fix/network.h"

/* ---- 70-persistent-net.rules -------------------------------------------- */

static bool is_comment_or_blank(const char *s) {
  s += strspn(s, " \t\r");
  return *s == '\0' || *s == '#';
}

/* The MAC of ATTR{address}=="..." (or ATTRS{address}) in a rule line. */
static bool rule_mac(const char *line, const char **mac, size_t *len) {
  const char *p = strstr(line, "{address}==\"");
  if (!p)
    return false;
  p += strlen("{address}==\"");
  const char *q = strchr(p, '"');
  if (!q)
    return false;
  *mac = p;
  *len = (size_t)(q - p);
  return true;
}

/* The NAME="..." assignment ("NAME=" or "NAME:=", not "KERNEL"/"DRIVERS"). */
static bool rule_sets_name(const char *line) {
  for (const char *p = strstr(line, "NAME"); p; p = strstr(p + 1, "NAME")) {
    bool word_start = p == line || !(isalnum((unsigned char)p[-1]) ||
                                     p[-1] == '_' || p[-1] == '{');
    const char *q = p + 4;
    q += strspn(q, " \t");
    if (q[0] == ':')
      q++; /* NAME:= (final assignment) */
    if (word_start && q[0] == '=' && q[1] != '=')
      return true;
  }
  return false;
}

char *h2k_fix_udev_persistent_net(const char *text, const h2k_net_ctx *ctx,
                                  const char *path, h2k_changes *log,
                                  h2k_error *err) {
  h2k_nt t;
  h2k_net_map m;
  if (h2k_nt_begin(&t, &m, text, ctx, path, log, err) < 0)
    return NULL;
  for (size_t i = 0; i < t.n; i++) {
    const char *mac;
    size_t len;
    if (is_comment_or_blank(t.line[i]) || !rule_mac(t.line[i], &mac, &len))
      continue;
    if (!rule_sets_name(t.line[i]) || !h2k_net_is_source_mac(ctx, mac, len))
      continue;
    h2k_nt_comment(&t, i,
                   "udev rule names a NIC by its VMware MAC %.*s; the KVM NIC "
                   "has another MAC",
                   (int)len, mac);
  }
  return h2k_nt_finish(&t, &m, err);
}

bool h2k_udev_rules_empty(const char *text) {
  if (!text)
    return true;
  for (const char *p = text; *p;) {
    const char *nl = strchr(p, '\n');
    size_t l = nl ? (size_t)(nl - p) : strlen(p);
    size_t ws = strspn(p, " \t\r");
    if (ws < l && p[ws] != '#')
      return false;
    p += l + (nl ? 1 : 0);
  }
  return true;
}
