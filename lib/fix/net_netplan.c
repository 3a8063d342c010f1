/* Netplan YAML, edited as text: netplan files are small and regular block
 * YAML, so a line/indent model is enough and keeps the file's layout.
 * Paths below are key paths: network/ethernets/<id>/match/macaddress. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "fix/network.h"

typedef struct yline {
  bool node;         /* not blank, not a comment */
  bool item;         /* "- ..." list item */
  int indent;        /* spaces before the key or the dash */
  size_t koff, klen; /* key span (klen 0: none) */
  size_t voff, vlen; /* scalar value span after "key:" (or after "- ") */
  long parent;       /* index of the parent key line, -1 at top level */
} yline;

typedef struct ydoc {
  h2k_nt *t;
  yline *y;
} ydoc;

/* Value span: after the ':' or '-', without a trailing comment. */
static void value_span(const char *s, size_t from, size_t *off, size_t *len) {
  from += strspn(s + from, " \t");
  size_t end = from;
  char quote = 0;
  for (; s[end] && s[end] != '\r'; end++) {
    if (quote) {
      if (s[end] == quote)
        quote = 0;
    } else if (s[end] == '"' || s[end] == '\'') {
      quote = s[end];
    } else if (s[end] == '#' && end > from &&
               isspace((unsigned char)s[end - 1]))
      break;
  }
  while (end > from && isspace((unsigned char)s[end - 1]))
    end--;
  *off = from;
  *len = end - from;
}

static void parse_line(const char *s, yline *y) {
  memset(y, 0, sizeof *y);
  y->parent = -1;
  size_t p = strspn(s, " ");
  if (!s[p] || s[p] == '#' || s[p] == '\r' || s[p] == '\t')
    return;
  y->node = true;
  y->indent = (int)p;
  if (s[p] == '-' && (s[p + 1] == ' ' || !s[p + 1])) {
    y->item = true;
    value_span(s, p + 1, &y->voff, &y->vlen);
    return;
  }
  size_t k = p;
  while (s[k] &&
         !(s[k] == ':' && (s[k + 1] == ' ' || !s[k + 1] || s[k + 1] == '\r')))
    k++;
  if (!s[k])
    return; /* a continuation scalar; not a key */
  y->koff = p;
  y->klen = k - p;
  value_span(s, k + 1, &y->voff, &y->vlen);
}

static void link_parents(ydoc *d) {
  for (size_t i = 0; i < d->t->n; i++) {
    yline *y = &d->y[i];
    if (!y->node)
      continue;
    for (long j = (long)i - 1; j >= 0; j--) {
      const yline *c = &d->y[j];
      if (!c->node || c->item || c->klen == 0)
        continue;
      /* "- x" may sit at the same indent as its "key:" */
      if (c->indent < y->indent ||
          (y->item && c->indent == y->indent && c->vlen == 0)) {
        y->parent = j;
        break;
      }
    }
  }
}

static bool key_is(const ydoc *d, long i, const char *key) {
  const yline *y = &d->y[i];
  const char *s = d->t->line[i] + y->koff;
  size_t kl = y->klen;
  if (kl >= 2 && (s[0] == '"' || s[0] == '\'') && s[kl - 1] == s[0])
    s++, kl -= 2;
  return y->klen && strlen(key) == kl && !memcmp(s, key, kl);
}

/* Line i is at path a/b/<any>/c...: pattern elements, "*" for any. */
static bool at_path(const ydoc *d, long i, const char *const *pat, int n) {
  for (int k = n - 1; k >= 0; k--) {
    if (i < 0 || d->y[i].klen == 0)
      return false;
    if (strcmp(pat[k], "*") != 0 && !key_is(d, i, pat[k]))
      return false;
    i = d->y[i].parent;
  }
  return i < 0;
}

/* The ancestor `up` levels above line i. */
static long ancestor(const ydoc *d, long i, int up) {
  while (up-- > 0 && i >= 0)
    i = d->y[i].parent;
  return i;
}

static bool has_live_child(const ydoc *d, long p) {
  for (size_t i = (size_t)p + 1; i < d->t->n; i++)
    if (d->y[i].node && d->y[i].parent == p && d->t->line[i])
      return true;
  return false;
}

static long child_key(const ydoc *d, long p, const char *key) {
  for (size_t i = (size_t)p + 1; i < d->t->n; i++)
    if (d->y[i].node && d->y[i].parent == p && d->t->line[i] &&
        key_is(d, (long)i, key))
      return (long)i;
  return -1;
}

static const char *val(const ydoc *d, long i) {
  return d->t->line[i] + d->y[i].voff;
}

static void comment_tree(ydoc *d, long i, const char *why) {
  int ind = d->y[i].indent;
  h2k_nt_comment(d->t, (size_t)i, "%s", why);
  for (size_t j = (size_t)i + 1; j < d->t->n; j++) {
    if (!d->y[j].node)
      continue;
    if (d->y[j].indent <= ind &&
        !(d->y[j].item && d->y[j].indent == ind && d->y[i].vlen == 0))
      break;
    h2k_nt_comment(d->t, j, "%s", why);
    d->y[j].node = false;
  }
  d->y[i].node = false;
}

/* ---- MAC pinning --------------------------------------------------------- */

/* `{macaddress: 00:50:56:..}` holding only a source MAC. */
static bool flow_only_mac(const h2k_net_ctx *ctx, const char *v, size_t len) {
  if (len < 2 || v[0] != '{' || v[len - 1] != '}')
    return false;
  const char *p = v + 1, *end = v + len - 1;
  while (p < end && isspace((unsigned char)*p))
    p++;
  if ((size_t)(end - p) < 11 || strncmp(p, "macaddress:", 11) != 0)
    return false;
  p += 11;
  while (p < end && isspace((unsigned char)*p))
    p++;
  const char *q = end;
  while (q > p && isspace((unsigned char)q[-1]))
    q--;
  return memchr(p, ',', (size_t)(q - p)) == NULL &&
         h2k_net_is_source_mac(ctx, p, (size_t)(q - p));
}

static const char *const P_MATCH_MAC[] = {"network", "ethernets", "*", "match",
                                          "macaddress"};
static const char *const P_MATCH[] = {"network", "ethernets", "*", "match"};
static const char *const P_MAC[] = {"network", "ethernets", "*", "macaddress"};
static const char *const P_ENTRY[] = {"network", "ethernets", "*"};
static const char *const P_DRIVER[] = {"network", "ethernets", "*", "match",
                                       "driver"};

/* Remove MAC matches and MAC settings; drop the then-empty match: and the
 * set-name: that only works with a match. */
static void drop_mac_pinning(ydoc *d, const h2k_net_ctx *ctx) {
  h2k_nt *t = d->t;
  for (size_t i = 0; i < t->n; i++) {
    long li = (long)i;
    if (!d->y[i].node || !t->line[i])
      continue;
    long entry = -1;
    if (at_path(d, li, P_MATCH_MAC, 5) &&
        h2k_net_is_source_mac(ctx, val(d, li), d->y[i].vlen)) {
      h2k_nt_delete(t, i,
                    "match on VMware MAC removed; the KVM NIC has "
                    "another MAC");
      entry = ancestor(d, li, 2);
      long match = d->y[i].parent;
      if (!has_live_child(d, match))
        h2k_nt_delete(t, (size_t)match, "match: left empty");
    } else if (at_path(d, li, P_MATCH, 4) &&
               flow_only_mac(ctx, val(d, li), d->y[i].vlen)) {
      h2k_nt_delete(t, i,
                    "match on VMware MAC removed; the KVM NIC has "
                    "another MAC");
      entry = d->y[i].parent;
    } else if (at_path(d, li, P_MAC, 4) &&
               h2k_net_is_source_mac(ctx, val(d, li), d->y[i].vlen)) {
      h2k_nt_delete(t, i, "macaddress sets the VMware MAC on the KVM NIC");
    }
    long sn = entry >= 0 && child_key(d, entry, "match") < 0
                  ? child_key(d, entry, "set-name")
                  : -1;
    if (sn >= 0)
      h2k_nt_delete(t, (size_t)sn, "set-name needs the match that was removed");
  }
}

/* ---- Renames ------------------------------------------------------------- */

typedef struct renames {
  char *from[16], *to[16];
  size_t n;
} renames;

static const char *renamed(const renames *r, const char *s, size_t len) {
  for (size_t i = 0; i < r->n; i++)
    if (strlen(r->from[i]) == len && !memcmp(r->from[i], s, len))
      return r->to[i];
  return NULL;
}

static bool id_char(char c) {
  return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* Rename the ids in [off, off+len) of the line (a scalar or flow list). */
static char *rename_ids(const char *line, size_t off, size_t len,
                        const renames *r) {
  char *cur = NULL;
  size_t p = off, end = off + len;
  while (p < end) {
    const char *s = cur ? cur : line;
    if (!id_char(s[p])) {
      p++;
      continue;
    }
    size_t q = p;
    while (q < end && id_char(s[q]))
      q++;
    const char *to = renamed(r, s + p, q - p);
    if (to) {
      char *next = h2k_net_splice(s, p, q - p, to);
      free(cur);
      if (!next)
        return NULL;
      cur = next;
      end = end - (q - p) + strlen(to);
      q = p + strlen(to);
    }
    p = q;
  }
  return cur;
}

static bool is_vmware_driver(const char *v, size_t len) {
  static const char *const drivers[] = {"vmxnet3", "vmxnet", "e1000", "e1000e",
                                        NULL};
  if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0])
    v++, len -= 2;
  for (const char *const *p = drivers; *p; p++)
    if (strlen(*p) == len && !memcmp(*p, v, len))
      return true;
  return false;
}

static int indent_of_children(const ydoc *d, long entry) {
  for (size_t i = (size_t)entry + 1; i < d->t->n; i++)
    if (d->y[i].node && d->y[i].parent == entry)
      return d->y[i].indent;
  long up = d->y[entry].parent;
  int unit = up >= 0 ? d->y[entry].indent - d->y[up].indent : 2;
  return d->y[entry].indent + (unit > 0 ? unit : 2);
}

/* Replace the key of line i, keeping the spans in step. */
static void set_key(ydoc *d, size_t i, const char *to, const char *why) {
  yline *y = &d->y[i];
  char *repl = h2k_net_splice(d->t->line[i], y->koff, y->klen, to);
  h2k_nt_set(d->t, i, repl, "%s", why);
  if (!repl)
    return;
  size_t tl = strlen(to);
  y->voff = y->voff + tl - y->klen;
  y->klen = tl;
}

/* Moderate: rename ethernets ids without a match (they are the interface
 * name), or give them a driver match. */
static void rename_entries(ydoc *d, const h2k_net_map *m, renames *r,
                           bool *target_done) {
  h2k_nt *t = d->t;
  const h2k_net_ctx *ctx = m->ctx;
  for (size_t i = 0; i < t->n; i++) {
    long li = (long)i;
    if (!d->y[i].node || !t->line[i])
      continue;
    if (at_path(d, li, P_DRIVER, 5) && ctx->level >= H2K_NET_MODERATE &&
        is_vmware_driver(val(d, li), d->y[i].vlen)) {
      h2k_nt_set(
          t, i,
          h2k_net_splice(t->line[i], d->y[i].voff, d->y[i].vlen, "virtio_net"),
          "VMware NIC driver match replaced by virtio_net");
      continue;
    }
    if (!at_path(d, li, P_ENTRY, 3))
      continue;
    const char *key = t->line[i] + d->y[i].koff;
    if (child_key(d, li, "match") >= 0) {
      /* matched by something else than the MAC: it binds some NIC */
      *target_done = true;
      continue;
    }
    if (ctx->target_ifname && d->y[i].klen == strlen(ctx->target_ifname) &&
        !memcmp(key, ctx->target_ifname, d->y[i].klen))
      *target_done = true;
    char *to = h2k_net_rename(m, key, d->y[i].klen);
    if (!to)
      continue;
    if (ctx->use_match_by_driver) {
      int ci = indent_of_children(d, li);
      int unit = ci - d->y[i].indent;
      h2k_nt_insert(t, i, h2k_strdup_printf("%*smatch:", ci, ""),
                    "%.*s will be renamed under KVM: match the virtio NIC by "
                    "driver",
                    (int)d->y[i].klen, key);
      h2k_nt_insert(t, i,
                    h2k_strdup_printf("%*sdriver: virtio_net", ci + unit, ""),
                    "match the virtio NIC by driver");
      free(to);
      *target_done = true;
      continue;
    }
    if (r->n < 16) {
      r->from[r->n] = strndup(key, d->y[i].klen);
      r->to[r->n] = strdup(to);
      r->n++;
    }
    if (!strcmp(to, ctx->target_ifname))
      *target_done = true;
    set_key(d, i, to, "interface renamed for KVM");
    free(to);
  }
}

/* Bond/bridge member lists, bond primary, VLAN links: follow renamed ids. */
static void rename_refs(ydoc *d, const renames *r) {
  static const char *const lists[][3] = {{"network", "bonds", "*"},
                                         {"network", "bridges", "*"}};
  h2k_nt *t = d->t;
  for (size_t i = 0; i < t->n && r->n; i++) {
    long li = (long)i;
    const yline *y = &d->y[i];
    if (!y->node || !t->line[i] || !y->vlen)
      continue;
    bool ref = false;
    if (y->klen && key_is(d, li, "interfaces"))
      ref = at_path(d, y->parent, lists[0], 3) ||
            at_path(d, y->parent, lists[1], 3);
    else if (y->item && y->parent >= 0 && key_is(d, y->parent, "interfaces"))
      ref = at_path(d, d->y[y->parent].parent, lists[0], 3) ||
            at_path(d, d->y[y->parent].parent, lists[1], 3);
    else if (y->klen && key_is(d, li, "primary")) {
      static const char *const bp[] = {"network", "bonds", "*", "parameters",
                                       "primary"};
      ref = at_path(d, li, bp, 5);
    } else if (y->klen && key_is(d, li, "link")) {
      static const char *const vl[] = {"network", "vlans", "*", "link"};
      ref = at_path(d, li, vl, 4);
    }
    char *repl = ref ? rename_ids(t->line[i], y->voff, y->vlen, r) : NULL;
    if (repl)
      h2k_nt_set(t, i, repl, "reference to renamed interface updated");
  }
}

/* ---- Aggressive: missing NIC -> DHCP on the target -------------------------
 */

static bool referenced(const ydoc *d, const char *id, size_t len) {
  for (size_t i = 0; i < d->t->n; i++) {
    const yline *y = &d->y[i];
    if (!y->node || !d->t->line[i] || !y->vlen)
      continue;
    bool refkey =
        (y->klen &&
         (key_is(d, (long)i, "interfaces") || key_is(d, (long)i, "link"))) ||
        (y->item && y->parent >= 0 && key_is(d, y->parent, "interfaces"));
    if (!refkey)
      continue;
    const char *v = d->t->line[i] + y->voff;
    for (size_t p = 0; p < y->vlen;) {
      size_t q = p;
      while (q < y->vlen && id_char(v[q]))
        q++;
      if (q - p == len && !memcmp(v + p, id, len))
        return true;
      p = q > p ? q : p + 1;
    }
  }
  return false;
}

static void move_to_dhcp(ydoc *d, long e, const char *target) {
  h2k_nt *t = d->t;
  const char *key = t->line[e] + d->y[e].koff;
  size_t kl = d->y[e].klen;
  char *old = strndup(key, kl);
  char *why = h2k_strdup_printf("NIC %s does not exist under KVM; DHCP on %s",
                                old ? old : "?", target);
  set_key(d, (size_t)e, target, why ? why : "missing NIC");
  free(why);
  static const char *const statics[] = {"addresses", "gateway4", "gateway6",
                                        "routes", NULL};
  for (const char *const *s = statics; *s; s++) {
    long c = child_key(d, e, *s);
    if (c >= 0)
      comment_tree(d, c, "static address of missing NIC replaced by DHCP");
  }
  long dh = child_key(d, e, "dhcp4");
  if (dh >= 0) {
    const char *v = val(d, dh);
    size_t vl = d->y[dh].vlen;
    if (!(vl == 4 && !memcmp(v, "true", 4)) &&
        !(vl == 3 && !memcmp(v, "yes", 3)))
      h2k_nt_set(t, (size_t)dh,
                 h2k_net_splice(t->line[dh], d->y[dh].voff, vl, "true"),
                 "missing NIC: DHCP on %s", target);
  } else {
    h2k_nt_insert(
        t, (size_t)e,
        h2k_strdup_printf("%*sdhcp4: true", indent_of_children(d, e), ""),
        "missing NIC: DHCP on %s", target);
  }
  free(old);
}

static void move_missing(ydoc *d, const h2k_net_map *m) {
  for (size_t i = 0; i < d->t->n; i++) {
    long li = (long)i;
    if (!d->y[i].node || !d->t->line[i] || !at_path(d, li, P_ENTRY, 3) ||
        child_key(d, li, "match") >= 0)
      continue;
    const char *key = d->t->line[i] + d->y[i].koff;
    size_t kl = d->y[i].klen;
    if (h2k_net_is_missing(m, key, kl) && !referenced(d, key, kl)) {
      move_to_dhcp(d, li, m->ctx->target_ifname);
      return;
    }
  }
}

char *h2k_fix_netplan(const char *text, const h2k_net_ctx *ctx,
                      const char *path, h2k_changes *log, h2k_error *err) {
  h2k_nt t;
  h2k_net_map m;
  if (h2k_nt_begin(&t, &m, text, ctx, path, log, err) < 0)
    return NULL;
  ydoc d = {&t, calloc(t.n ? t.n : 1, sizeof(yline))};
  if (!d.y) {
    t.oom = true;
    return h2k_nt_finish(&t, &m, err);
  }
  for (size_t i = 0; i < t.n; i++)
    parse_line(t.line[i], &d.y[i]);
  link_parents(&d);
  drop_mac_pinning(&d, ctx);
  renames r = {0};
  bool target_done = false;
  if (ctx->level >= H2K_NET_MODERATE) {
    rename_entries(&d, &m, &r, &target_done);
    rename_refs(&d, &r);
  }
  if (!target_done)
    move_missing(&d, &m);
  for (size_t i = 0; i < r.n; i++)
    free(r.from[i]), free(r.to[i]);
  free(d.y);
  return h2k_nt_finish(&t, &m, err);
}
