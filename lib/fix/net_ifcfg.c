/* RHEL and SUSE ifcfg-* files: KEY=value shell assignments, one file per
 * interface (ifcfg-ens192). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "fix/network.h"

/* One KEY=value line; the value span excludes surrounding quotes. */
typedef struct kv {
  const char *key;
  size_t klen;
  size_t voff, vlen; /* offsets into the line */
} kv;

static bool parse_kv(const char *line, kv *out) {
  const char *p = line + strspn(line, " \t");
  if (*p == '#' || *p == '\0')
    return false;
  size_t kl = strcspn(p, "= \t");
  if (kl == 0 || p[kl] != '=')
    return false;
  out->key = p;
  out->klen = kl;
  size_t voff = (size_t)(p - line) + kl + 1;
  size_t vlen = strcspn(line + voff, "#\r");
  while (vlen &&
         (line[voff + vlen - 1] == ' ' || line[voff + vlen - 1] == '\t'))
    vlen--;
  const char *v = line + voff;
  if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
    voff++;
    vlen -= 2;
  }
  out->voff = voff;
  out->vlen = vlen;
  return true;
}

static bool key_is(const kv *k, const char *name) {
  return strlen(name) == k->klen && !memcmp(k->key, name, k->klen);
}

static bool key_has_prefix(const kv *k, const char *prefix) {
  size_t pl = strlen(prefix);
  return k->klen >= pl && !memcmp(k->key, prefix, pl);
}

static bool value_is(const char *line, const kv *k, const char *v) {
  return strlen(v) == k->vlen && !strncasecmp(line + k->voff, v, k->vlen);
}

/* MAC pinning keys (SUSE LLADDR sets the MAC, like MACADDR on RHEL). */
static bool is_mac_key(const kv *k) {
  return key_is(k, "HWADDR") || key_is(k, "MACADDR") ||
         key_is(k, "MACADDRESS") || key_is(k, "LLADDR");
}

/* Keys whose value lists interface names. */
static bool is_ifname_key(const kv *k) {
  return key_is(k, "DEVICE") || key_is(k, "PHYSDEV") ||
         key_is(k, "ETHERDEVICE") || key_is(k, "VLAN_PHYSDEV") ||
         key_is(k, "BRIDGE_PORTS") || key_has_prefix(k, "BONDING_SLAVE");
}

/* Static addressing keys, commented out when a config moves to DHCP. */
static bool is_static_key(const kv *k) {
  return key_has_prefix(k, "IPADDR") || key_has_prefix(k, "NETMASK") ||
         key_has_prefix(k, "PREFIX") || key_has_prefix(k, "GATEWAY") ||
         key_is(k, "NETWORK") || key_is(k, "BROADCAST");
}

/* Facts about the file gathered in a first pass. */
typedef struct ifcfg_facts {
  char *device;   /* DEVICE= value, else the name from the file name */
  bool member;    /* bond slave, bridge port or not plain Ethernet */
  long bootproto; /* line index of BOOTPROTO=, -1 when absent */
} ifcfg_facts;

static const char *file_ifname(const char *path) {
  const char *base = path ? strrchr(path, '/') : NULL;
  base = base ? base + 1 : path;
  if (!base || strncmp(base, "ifcfg-", 6) != 0 || !base[6])
    return NULL;
  return base + 6;
}

static int gather(const h2k_nt *t, const char *path, ifcfg_facts *f) {
  f->device = NULL;
  f->member = false;
  f->bootproto = -1;
  for (size_t i = 0; i < t->n; i++) {
    const char *l = t->line[i];
    kv k;
    if (!parse_kv(l, &k))
      continue;
    if (key_is(&k, "DEVICE") && !f->device)
      f->device = strndup(l + k.voff, k.vlen);
    else if (key_is(&k, "BOOTPROTO"))
      f->bootproto = (long)i;
    else if (key_is(&k, "MASTER") || key_is(&k, "BRIDGE") ||
             key_is(&k, "TEAM_MASTER") ||
             (key_is(&k, "SLAVE") && value_is(l, &k, "yes")) ||
             (key_is(&k, "BONDING_MASTER") && value_is(l, &k, "yes")))
      f->member = true;
    else if (key_is(&k, "TYPE") && k.vlen && !value_is(l, &k, "Ethernet"))
      f->member = true;
  }
  if (!f->device && file_ifname(path))
    f->device = strdup(file_ifname(path));
  return f->device || !file_ifname(path) ? 0 : -1;
}

static void drop_mac_pinning(h2k_nt *t, const h2k_net_ctx *ctx) {
  for (size_t i = 0; i < t->n; i++) {
    kv k;
    if (!t->line[i] || !parse_kv(t->line[i], &k) || !is_mac_key(&k))
      continue;
    if (h2k_net_is_source_mac(ctx, t->line[i] + k.voff, k.vlen))
      h2k_nt_delete(t, i,
                    "%.*s pins the VMware NIC's MAC; the KVM NIC has "
                    "another one",
                    (int)k.klen, k.key);
  }
}

/* NAME="System ens192" or NAME=ens192: the part that is an interface. */
static bool name_ifpart(const char *line, const kv *k, size_t *off,
                        size_t *len) {
  *off = k->voff;
  *len = k->vlen;
  if (k->vlen > 7 && !memcmp(line + k->voff, "System ", 7)) {
    *off += 7;
    *len -= 7;
  }
  return *len > 0;
}

static void rename_refs(h2k_nt *t, const h2k_net_map *m) {
  for (size_t i = 0; i < t->n; i++) {
    const char *l = t->line[i];
    kv k;
    if (!l || !parse_kv(l, &k))
      continue;
    char *repl = NULL;
    if (is_ifname_key(&k)) {
      char *val = strndup(l + k.voff, k.vlen);
      char *nv = val ? h2k_net_rename_words(m, val) : NULL;
      if (nv)
        repl = h2k_net_splice(l, k.voff, k.vlen, nv);
      free(val);
      free(nv);
    } else if (key_is(&k, "NAME")) {
      size_t off, len;
      char *to = name_ifpart(l, &k, &off, &len)
                     ? h2k_net_rename(m, l + off, len)
                     : NULL;
      if (to)
        repl = h2k_net_splice(l, off, len, to);
      free(to);
    }
    if (repl)
      h2k_nt_set(t, i, repl, "interface renamed for KVM");
  }
}

/* Aggressive: the NIC this file configures will not exist; configure the
 * target interface with DHCP instead. */
static void move_to_dhcp(h2k_nt *t, const h2k_net_map *m,
                         const ifcfg_facts *f) {
  const char *target = m->ctx->target_ifname;
  for (size_t i = 0; i < t->n; i++) {
    const char *l = t->line[i];
    kv k;
    if (!l || !parse_kv(l, &k))
      continue;
    bool names_dev = (key_is(&k, "DEVICE") || key_is(&k, "NAME")) &&
                     k.vlen == strlen(f->device) &&
                     !memcmp(l + k.voff, f->device, k.vlen);
    if (names_dev)
      h2k_nt_set(t, i, h2k_net_splice(l, k.voff, k.vlen, target),
                 "NIC %s does not exist under KVM; config moved to %s",
                 f->device, target);
    else if (is_static_key(&k))
      h2k_nt_comment(t, i,
                     "static address of missing NIC %s replaced by "
                     "DHCP on %s",
                     f->device, target);
  }
  if (f->bootproto >= 0) {
    size_t i = (size_t)f->bootproto;
    kv k;
    if (parse_kv(t->line[i], &k) && !value_is(t->line[i], &k, "dhcp"))
      h2k_nt_set(t, i, h2k_net_splice(t->line[i], k.voff, k.vlen, "dhcp"),
                 "missing NIC %s: DHCP on %s", f->device, target);
  } else if (t->n > 0) {
    h2k_nt_insert(t, t->n - 1, strdup("BOOTPROTO=dhcp"),
                  "missing NIC %s: DHCP on %s", f->device, target);
  }
}

static char *renamed_path(const char *path, const char *ifname) {
  const char *base = strrchr(path, '/');
  size_t dl = base ? (size_t)(base - path) + 1 : 0;
  return h2k_strdup_printf("%.*sifcfg-%s", (int)dl, path, ifname);
}

/* The interface the file ends up configuring, and its new path if the
 * file name no longer matches it. */
static int new_file_name(const h2k_net_map *m, const char *path,
                         const char *final_dev, h2k_changes *log,
                         char **new_path) {
  const char *fname = file_ifname(path);
  if (!fname || !final_dev || !strcmp(fname, final_dev))
    return 0;
  char *ren = h2k_net_rename(m, fname, strlen(fname));
  bool moved = (ren && !strcmp(ren, final_dev)) ||
               (h2k_net_is_missing(m, fname, strlen(fname)) &&
                !strcmp(final_dev, m->ctx->target_ifname));
  free(ren);
  if (!moved)
    return 0;
  char *np = renamed_path(path, final_dev);
  if (!np)
    return -1;
  if (log)
    h2k_changes_add(log, path, 0, path, np, "file renamed with its interface");
  if (new_path)
    *new_path = np;
  else
    free(np);
  return 0;
}

char *h2k_fix_ifcfg(const char *text, const h2k_net_ctx *ctx, const char *path,
                    char **new_path, h2k_changes *log, h2k_error *err) {
  if (new_path)
    *new_path = NULL;
  h2k_nt t;
  h2k_net_map m;
  if (h2k_nt_begin(&t, &m, text, ctx, path, log, err) < 0)
    return NULL;
  ifcfg_facts f;
  if (gather(&t, path, &f) < 0)
    t.oom = true;
  drop_mac_pinning(&t, ctx);
  char *final_dev = NULL;
  if (f.device) {
    char *ren = h2k_net_rename(&m, f.device, strlen(f.device));
    if (ren) {
      final_dev = ren;
    } else if (!f.member &&
               h2k_net_is_missing(&m, f.device, strlen(f.device))) {
      move_to_dhcp(&t, &m, &f);
      final_dev = strdup(ctx->target_ifname);
    } else {
      final_dev = strdup(f.device);
    }
  }
  rename_refs(&t, &m);
  if (path && new_file_name(&m, path, final_dev, log, new_path) < 0)
    t.oom = true;
  free(final_dev);
  free(f.device);
  char *out = h2k_nt_finish(&t, &m, err);
  if (!out && new_path) {
    free(*new_path);
    *new_path = NULL;
  }
  return out;
}
