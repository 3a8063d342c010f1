/* systemd-networkd .network and systemd .link files: INI sections with
 * Key=value lines. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "fix/network.h"

typedef struct ini_kv {
  size_t koff, klen, voff, vlen;
} ini_kv;

static bool is_comment(const char *l) {
  l += strspn(l, " \t");
  return !*l || *l == '#' || *l == ';' || *l == '\r';
}

/* "[Section]" -> section name span. */
static bool section_of(const char *l, size_t *off, size_t *len) {
  size_t p = strspn(l, " \t");
  if (l[p] != '[')
    return false;
  const char *e = strchr(l + p, ']');
  if (!e)
    return false;
  *off = p + 1;
  *len = (size_t)(e - l) - *off;
  return true;
}

static bool parse_kv(const char *l, ini_kv *kv) {
  if (is_comment(l))
    return false;
  size_t p = strspn(l, " \t");
  const char *eq = strchr(l + p, '=');
  if (!eq)
    return false;
  size_t ke = (size_t)(eq - l);
  while (ke > p && isspace((unsigned char)l[ke - 1]))
    ke--;
  kv->koff = p;
  kv->klen = ke - p;
  size_t v = (size_t)(eq - l) + 1;
  v += strspn(l + v, " \t");
  size_t ve = strlen(l);
  while (ve > v && isspace((unsigned char)l[ve - 1]))
    ve--;
  kv->voff = v;
  kv->vlen = ve - v;
  return kv->klen > 0;
}

static bool eq(const char *l, size_t off, size_t len, const char *s) {
  return strlen(s) == len && !memcmp(l + off, s, len);
}

/* Per-line section, filled in by a first pass. */
typedef enum sect {
  S_NONE,
  S_MATCH,
  S_LINK,
  S_NETWORK,
  S_ADDRESS,
  S_OTHER
} sect;

typedef struct nd {
  h2k_nt *t;
  sect *s;      /* section of each line */
  bool is_link; /* a .link file */
  long network; /* line of the [Network] header, -1 */
} nd;

static void classify(nd *d) {
  sect cur = S_NONE;
  d->network = -1;
  for (size_t i = 0; i < d->t->n; i++) {
    size_t off, len;
    const char *l = d->t->line[i];
    if (section_of(l, &off, &len)) {
      cur = eq(l, off, len, "Match")     ? S_MATCH
            : eq(l, off, len, "Link")    ? S_LINK
            : eq(l, off, len, "Network") ? S_NETWORK
            : eq(l, off, len, "Address") ? S_ADDRESS
                                         : S_OTHER;
      if (cur == S_NETWORK && d->network < 0)
        d->network = (long)i;
    }
    d->s[i] = cur;
  }
}

static bool key_is(const nd *d, size_t i, const ini_kv *kv, const char *k) {
  return eq(d->t->line[i], kv->koff, kv->klen, k);
}

/* A line of section `s` with key `k`, live, or -1. */
static long find_key(const nd *d, sect s, const char *k) {
  for (size_t i = 0; i < d->t->n; i++) {
    ini_kv kv;
    if (d->s[i] == s && d->t->line[i] && parse_kv(d->t->line[i], &kv) &&
        key_is(d, i, &kv, k))
      return (long)i;
  }
  return -1;
}

static bool match_has_keys(const nd *d) {
  for (size_t i = 0; i < d->t->n; i++) {
    ini_kv kv;
    if (d->s[i] == S_MATCH && d->t->line[i] && parse_kv(d->t->line[i], &kv))
      return true;
  }
  return false;
}

/* The MAC list without source MACs; NULL when nothing is dropped. */
static char *filter_macs(const h2k_net_ctx *ctx, const char *v, size_t vlen,
                         bool *dropped) {
  h2k_buf b = {0};
  *dropped = false;
  for (size_t p = 0; p < vlen;) {
    if (isspace((unsigned char)v[p])) {
      p++;
      continue;
    }
    size_t q = p;
    while (q < vlen && !isspace((unsigned char)v[q]))
      q++;
    if (h2k_net_is_source_mac(ctx, v + p, q - p))
      *dropped = true;
    else
      h2k_buf_printf(&b, "%s%.*s", b.len ? " " : "", (int)(q - p), v + p);
    p = q;
  }
  if (!*dropped) {
    h2k_buf_free(&b);
    return NULL;
  }
  return h2k_buf_steal(&b);
}

/* Conservative: drop MAC matches (then match any Ethernet NIC so the file
 * still applies) and MAC settings. */
static void drop_mac_pinning(nd *d, const h2k_net_ctx *ctx) {
  long last_removed = -1;
  for (size_t i = 0; i < d->t->n; i++) {
    ini_kv kv;
    const char *l = d->t->line[i];
    if (!l || !parse_kv(l, &kv))
      continue;
    bool mac_key =
        ((d->s[i] == S_MATCH || d->s[i] == S_LINK) &&
         key_is(d, i, &kv, "MACAddress")) ||
        (d->s[i] == S_MATCH && key_is(d, i, &kv, "PermanentMACAddress"));
    if (!mac_key)
      continue;
    bool dropped;
    char *rest = filter_macs(ctx, l + kv.voff, kv.vlen, &dropped);
    if (!dropped)
      continue;
    const char *why = d->s[i] == S_MATCH
                          ? "match on VMware MAC removed; the KVM NIC has "
                            "another MAC"
                          : "MACAddress sets the VMware MAC on the KVM NIC";
    if (rest && *rest)
      h2k_nt_set(d->t, i, h2k_net_splice(l, kv.voff, kv.vlen, rest), "%s", why);
    else
      h2k_nt_delete(d->t, i, "%s", why);
    free(rest);
    if (d->s[i] == S_MATCH)
      last_removed = (long)i;
  }
  if (last_removed >= 0 && !match_has_keys(d))
    h2k_nt_insert(d->t, (size_t)last_removed, strdup("Type=ether"),
                  "match any Ethernet NIC instead of the VMware MAC");
}

static bool is_vmware_driver(const char *v, size_t len) {
  return (len == 7 && !memcmp(v, "vmxnet3", 7)) ||
         (len == 5 && !memcmp(v, "e1000", 5)) ||
         (len == 6 && !memcmp(v, "e1000e", 6));
}

/* Moderate: [Match] Name= and [Link] Name= follow the rename. */
static void rename_names(nd *d, const h2k_net_map *m) {
  const h2k_net_ctx *ctx = m->ctx;
  for (size_t i = 0; i < d->t->n; i++) {
    ini_kv kv;
    const char *l = d->t->line[i];
    if (!l || !parse_kv(l, &kv))
      continue;
    if (d->s[i] == S_MATCH && key_is(d, i, &kv, "Driver") &&
        is_vmware_driver(l + kv.voff, kv.vlen)) {
      h2k_nt_set(d->t, i, h2k_net_splice(l, kv.voff, kv.vlen, "virtio_net"),
                 "VMware NIC driver match replaced by virtio_net");
      continue;
    }
    bool match_name = d->s[i] == S_MATCH && key_is(d, i, &kv, "Name");
    bool link_name =
        d->is_link && d->s[i] == S_LINK && key_is(d, i, &kv, "Name");
    if (!match_name && !link_name)
      continue;
    char *val = strndup(l + kv.voff, kv.vlen);
    char *nv = val ? h2k_net_rename_words(m, val) : NULL;
    if (nv && match_name && !d->is_link && ctx->use_match_by_driver)
      h2k_nt_set(d->t, i, h2k_net_splice(l, kv.voff, kv.vlen, "en* eth*"),
                 "%s will be renamed under KVM: match any Ethernet name", val);
    else if (nv)
      h2k_nt_set(d->t, i, h2k_net_splice(l, kv.voff, kv.vlen, nv),
                 "interface renamed for KVM");
    free(val);
    free(nv);
  }
}

static bool is_member(const nd *d) {
  return find_key(d, S_NETWORK, "Bond") >= 0 ||
         find_key(d, S_NETWORK, "Bridge") >= 0 ||
         find_key(d, S_NETWORK, "VRF") >= 0;
}

/* Aggressive: the .network of a NIC that will not exist -> DHCP on the
 * target interface. */
static void move_missing(nd *d, const h2k_net_map *m) {
  const char *target = m->ctx->target_ifname;
  long name = find_key(d, S_MATCH, "Name");
  ini_kv kv;
  if (d->is_link || name < 0 || d->network < 0 || is_member(d) ||
      !parse_kv(d->t->line[name], &kv))
    return;
  const char *l = d->t->line[name];
  if (!h2k_net_is_missing(m, l + kv.voff, kv.vlen))
    return;
  h2k_nt_set(d->t, (size_t)name, h2k_net_splice(l, kv.voff, kv.vlen, target),
             "NIC %.*s does not exist under KVM; DHCP on %s", (int)kv.vlen,
             l + kv.voff, target);
  for (size_t i = 0; i < d->t->n; i++) {
    if (!d->t->line[i] || !parse_kv(d->t->line[i], &kv))
      continue;
    bool addr = (d->s[i] == S_NETWORK && (key_is(d, i, &kv, "Address") ||
                                          key_is(d, i, &kv, "Gateway"))) ||
                (d->s[i] == S_ADDRESS && key_is(d, i, &kv, "Address"));
    if (addr)
      h2k_nt_comment(d->t, i,
                     "static address of missing NIC replaced by "
                     "DHCP");
  }
  long dhcp = find_key(d, S_NETWORK, "DHCP");
  if (dhcp < 0) {
    h2k_nt_insert(d->t, (size_t)d->network, strdup("DHCP=yes"),
                  "missing NIC: DHCP on %s", target);
    return;
  }
  l = d->t->line[dhcp];
  if (parse_kv(l, &kv) && !eq(l, kv.voff, kv.vlen, "yes") &&
      !eq(l, kv.voff, kv.vlen, "ipv4") && !eq(l, kv.voff, kv.vlen, "true"))
    h2k_nt_set(d->t, (size_t)dhcp, h2k_net_splice(l, kv.voff, kv.vlen, "yes"),
               "missing NIC: DHCP on %s", target);
}

char *h2k_fix_networkd(const char *text, const h2k_net_ctx *ctx,
                       const char *path, h2k_changes *log, h2k_error *err) {
  h2k_nt t;
  h2k_net_map m;
  if (h2k_nt_begin(&t, &m, text, ctx, path, log, err) < 0)
    return NULL;
  nd d = {&t, calloc(t.n ? t.n : 1, sizeof(sect)), false, -1};
  if (!d.s) {
    t.oom = true;
    return h2k_nt_finish(&t, &m, err);
  }
  d.is_link = path && h2k_str_ends_with(path, ".link");
  classify(&d);
  drop_mac_pinning(&d, ctx);
  if (ctx->level >= H2K_NET_MODERATE)
    rename_names(&d, &m);
  move_missing(&d, &m);
  free(d.s);
  return h2k_nt_finish(&t, &m, err);
}
