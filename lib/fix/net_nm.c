/* NetworkManager keyfiles (.nmconnection): GKeyFile INI with [connection],
 * [ethernet], [vlan], [ipv4], ... sections. Old ifcfg-style profiles are
 * handled by net_ifcfg.c. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "fix/network.h"

typedef enum nm_sect {
  N_NONE,
  N_CONNECTION,
  N_ETHERNET,
  N_VLAN,
  N_IPV4,
  N_IPV6,
  N_OTHER
} nm_sect;

typedef struct nm_kv {
  size_t klen, voff, vlen;
} nm_kv;

static bool parse_kv(const char *l, nm_kv *kv) {
  if (*l == '#' || *l == ';' || *l == '[' || *l == '\0')
    return false;
  const char *eq = strchr(l, '=');
  if (!eq || eq == l)
    return false;
  kv->klen = (size_t)(eq - l);
  kv->voff = kv->klen + 1;
  size_t ve = strlen(l);
  while (ve > kv->voff && isspace((unsigned char)l[ve - 1]))
    ve--;
  kv->vlen = ve - kv->voff;
  return true;
}

static bool key_is(const char *l, const nm_kv *kv, const char *k) {
  return strlen(k) == kv->klen && !memcmp(l, k, kv->klen);
}

static bool val_is(const char *l, const nm_kv *kv, const char *v) {
  return strlen(v) == kv->vlen && !memcmp(l + kv->voff, v, kv->vlen);
}

static nm_sect section(const char *l) {
  static const struct {
    const char *name;
    nm_sect s;
  } names[] = {{"[connection]", N_CONNECTION},
               {"[ethernet]", N_ETHERNET},
               {"[802-3-ethernet]", N_ETHERNET},
               {"[vlan]", N_VLAN},
               {"[ipv4]", N_IPV4},
               {"[ipv6]", N_IPV6}};
  size_t len = strlen(l);
  while (len && isspace((unsigned char)l[len - 1]))
    len--;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i].name) == len && !memcmp(l, names[i].name, len))
      return names[i].s;
  return N_OTHER;
}

typedef struct nm {
  h2k_nt *t;
  nm_sect *s;
  bool slave;    /* a bond/bridge/team port profile */
  bool ethernet; /* type=ethernet */
} nm;

static void classify(nm *d) {
  nm_sect cur = N_NONE;
  for (size_t i = 0; i < d->t->n; i++) {
    const char *l = d->t->line[i];
    nm_kv kv;
    if (l[0] == '[')
      cur = section(l);
    d->s[i] = cur;
    if (cur != N_CONNECTION || !parse_kv(l, &kv))
      continue;
    if (key_is(l, &kv, "master") || key_is(l, &kv, "controller") ||
        key_is(l, &kv, "slave-type") || key_is(l, &kv, "port-type"))
      d->slave = true;
    if (key_is(l, &kv, "type") &&
        (val_is(l, &kv, "ethernet") || val_is(l, &kv, "802-3-ethernet")))
      d->ethernet = true;
  }
}

static long find_key(const nm *d, nm_sect s, const char *k) {
  for (size_t i = 0; i < d->t->n; i++) {
    nm_kv kv;
    if (d->s[i] == s && d->t->line[i] && parse_kv(d->t->line[i], &kv) &&
        key_is(d->t->line[i], &kv, k))
      return (long)i;
  }
  return -1;
}

/* A MAC value, without the trailing ';' old keyfiles write. */
static bool source_mac_value(const h2k_net_ctx *ctx, const char *l,
                             const nm_kv *kv) {
  size_t len = kv->vlen;
  if (len && l[kv->voff + len - 1] == ';')
    len--;
  return h2k_net_is_source_mac(ctx, l + kv->voff, len);
}

static void drop_mac_pinning(nm *d, const h2k_net_ctx *ctx) {
  for (size_t i = 0; i < d->t->n; i++) {
    const char *l = d->t->line[i];
    nm_kv kv;
    if (d->s[i] != N_ETHERNET || !parse_kv(l, &kv))
      continue;
    if (key_is(l, &kv, "mac-address") && source_mac_value(ctx, l, &kv))
      h2k_nt_delete(d->t, i,
                    "profile bound to the VMware NIC's MAC; the KVM "
                    "NIC has another MAC");
    else if (key_is(l, &kv, "cloned-mac-address") &&
             source_mac_value(ctx, l, &kv))
      h2k_nt_delete(d->t, i,
                    "cloned-mac-address sets the VMware MAC on the "
                    "KVM NIC");
  }
}

/* interface-name= of a renamed NIC: dropped (binds to any Ethernet device)
 * or renamed; port profiles are always renamed so they keep their NIC. */
static void fix_ifname_line(nm *d, const h2k_net_map *m, size_t i,
                            const char *to, const char *why) {
  const char *l = d->t->line[i];
  nm_kv kv = {0};
  parse_kv(l, &kv);
  if (m->ctx->use_match_by_driver && !d->slave && d->ethernet)
    h2k_nt_delete(d->t, i, "%s: profile binds to any Ethernet device", why);
  else
    h2k_nt_set(d->t, i, h2k_net_splice(l, kv.voff, kv.vlen, to), "%s", why);
}

static void rename_refs(nm *d, const h2k_net_map *m) {
  for (size_t i = 0; i < d->t->n; i++) {
    const char *l = d->t->line[i];
    nm_kv kv;
    if (!l || !parse_kv(l, &kv))
      continue;
    bool ifname = d->s[i] == N_CONNECTION && key_is(l, &kv, "interface-name");
    bool parent = d->s[i] == N_VLAN && key_is(l, &kv, "parent");
    if (!ifname && !parent)
      continue;
    char *to = h2k_net_rename(m, l + kv.voff, kv.vlen);
    if (to && ifname)
      fix_ifname_line(d, m, i, to, "interface renamed for KVM");
    else if (to)
      h2k_nt_set(d->t, i, h2k_net_splice(l, kv.voff, kv.vlen, to),
                 "VLAN parent follows the renamed interface");
    free(to);
  }
}

/* Aggressive: a profile of a NIC that will not exist -> DHCP on target. */
static void move_missing(nm *d, const h2k_net_map *m) {
  long i = find_key(d, N_CONNECTION, "interface-name");
  nm_kv kv;
  if (i < 0 || d->slave || !d->ethernet || !parse_kv(d->t->line[i], &kv))
    return;
  const char *l = d->t->line[i];
  if (!h2k_net_is_missing(m, l + kv.voff, kv.vlen))
    return;
  char *why = h2k_strdup_printf("NIC %.*s does not exist under KVM",
                                (int)kv.vlen, l + kv.voff);
  fix_ifname_line(d, m, (size_t)i, m->ctx->target_ifname,
                  why ? why : "missing NIC");
  free(why);
  for (size_t j = 0; j < d->t->n; j++) {
    l = d->t->line[j];
    if (d->s[j] != N_IPV4 || !l || !parse_kv(l, &kv))
      continue;
    if (key_is(l, &kv, "method") && val_is(l, &kv, "manual"))
      h2k_nt_set(d->t, j, h2k_net_splice(l, kv.voff, kv.vlen, "auto"),
                 "missing NIC: DHCP on %s", m->ctx->target_ifname);
    else if (!strncmp(l, "address", 7) || key_is(l, &kv, "gateway"))
      h2k_nt_comment(d->t, j,
                     "static address of missing NIC replaced by "
                     "DHCP");
  }
}

char *h2k_fix_nm_keyfile(const char *text, const h2k_net_ctx *ctx,
                         const char *path, h2k_changes *log, h2k_error *err) {
  h2k_nt t;
  h2k_net_map m;
  if (h2k_nt_begin(&t, &m, text, ctx, path, log, err) < 0)
    return NULL;
  nm d = {&t, calloc(t.n ? t.n : 1, sizeof(nm_sect)), false, false};
  if (!d.s) {
    t.oom = true;
    return h2k_nt_finish(&t, &m, err);
  }
  classify(&d);
  drop_mac_pinning(&d, ctx);
  if (ctx->level >= H2K_NET_MODERATE)
    rename_refs(&d, &m);
  move_missing(&d, &m);
  free(d.s);
  return h2k_nt_finish(&t, &m, err);
}
