/* Debian ifupdown: /etc/network/interfaces and interfaces.d snippets.
 * Stanzas start with iface, mapping, auto, allow-NAME or source; option
 * lines belong to the iface stanza above them. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "fix/network.h"

/* A line split into its first word and the rest. */
typedef struct words {
  const char *kw;
  size_t kwlen;
  size_t rest; /* offset of the text after the keyword and blanks */
} words;

static bool split_words(const char *line, words *w) {
  const char *p = line + strspn(line, " \t");
  if (*p == '\0' || *p == '#')
    return false;
  w->kw = p;
  w->kwlen = strcspn(p, " \t\r");
  w->rest = (size_t)(p - line) + w->kwlen;
  w->rest += strspn(line + w->rest, " \t");
  return true;
}

static bool kw_is(const words *w, const char *s) {
  return strlen(s) == w->kwlen && !memcmp(w->kw, s, w->kwlen);
}

static bool kw_in(const words *w, const char *const *list) {
  for (; *list; list++)
    if (kw_is(w, *list))
      return true;
  return false;
}

static bool is_stanza_start(const words *w) {
  static const char *const starts[] = {"iface",  "mapping",          "auto",
                                       "source", "source-directory", NULL};
  return kw_in(w, starts) || (w->kwlen > 6 && !memcmp(w->kw, "allow-", 6));
}

/* Options whose value is a list of interface names. */
static const char *const member_opts[] = {"bond-slaves",  "bond_slaves",
                                          "slaves",       "bridge_ports",
                                          "bridge-ports", NULL};
static const char *const ifname_opts[] = {"bond-slaves",
                                          "bond_slaves",
                                          "slaves",
                                          "bridge_ports",
                                          "bridge-ports",
                                          "bond-primary",
                                          "bond_primary",
                                          "bond-active-slave",
                                          "vlan-raw-device",
                                          "vlan_raw_device",
                                          "up",
                                          "down",
                                          "pre-up",
                                          "post-up",
                                          "pre-down",
                                          "post-down",
                                          NULL};
static const char *const static_opts[] = {"address",   "netmask", "gateway",
                                          "broadcast", "network", "pointopoint",
                                          NULL};

/* The n-th (0-based) whitespace-separated word of s. */
static bool nth_word(const char *s, int n, size_t *off, size_t *len) {
  size_t p = 0;
  for (int i = 0;; i++) {
    p += strspn(s + p, " \t");
    if (!s[p] || s[p] == '\r')
      return false;
    size_t l = strcspn(s + p, " \t\r");
    if (i == n) {
      *off = p;
      *len = l;
      return true;
    }
    p += l;
  }
}

static bool word_in_list(const char *list, const char *w, size_t wl) {
  for (int i = 0;; i++) {
    size_t off, len;
    if (!nth_word(list, i, &off, &len))
      return false;
    if (len == wl && !memcmp(list + off, w, wl))
      return true;
  }
}

/* Facts from a first pass over the file. */
typedef struct facts {
  char *members;       /* all bond/bridge member names, space-separated */
  bool target_in_text; /* an iface stanza already is (or becomes) target */
  char *missing;       /* aggressive: iface to move to DHCP on target */
} facts;

static void add_members(facts *f, const char *list, bool *oom) {
  char *s = h2k_strdup_printf("%s %s", f->members ? f->members : "", list);
  if (!s)
    *oom = true;
  free(f->members);
  f->members = s;
}

/* Is the iface stanza at line i a bond slave ("bond-master" option)? */
static bool stanza_is_slave(const h2k_nt *t, size_t i) {
  for (size_t j = i + 1; j < t->n; j++) {
    words w;
    if (!t->line[j] || !split_words(t->line[j], &w))
      continue;
    if (is_stanza_start(&w))
      return false;
    if (kw_is(&w, "bond-master") || kw_is(&w, "bond_master"))
      return true;
  }
  return false;
}

static void gather(const h2k_nt *t, const h2k_net_map *m, facts *f) {
  bool oom = false;
  const char *target = m->ctx->target_ifname;
  for (size_t i = 0; i < t->n; i++) {
    words w;
    if (!split_words(t->line[i], &w))
      continue;
    if (kw_in(&w, member_opts))
      add_members(f, t->line[i] + w.rest, &oom);
    size_t off, len;
    if (!kw_is(&w, "iface") || !nth_word(t->line[i] + w.rest, 0, &off, &len))
      continue;
    const char *name = t->line[i] + w.rest + off;
    char *ren = h2k_net_rename(m, name, len);
    if (target && ((ren && !strcmp(ren, target)) ||
                   (len == strlen(target) && !memcmp(name, target, len))))
      f->target_in_text = true;
    free(ren);
  }
  for (size_t i = 0; i < t->n && !f->target_in_text && !f->missing; i++) {
    words w;
    size_t off, len;
    if (!split_words(t->line[i], &w) || !kw_is(&w, "iface") ||
        !nth_word(t->line[i] + w.rest, 0, &off, &len))
      continue;
    const char *name = t->line[i] + w.rest + off;
    if (h2k_net_is_missing(m, name, len) && !stanza_is_slave(t, i) &&
        !(f->members && word_in_list(f->members, name, len)))
      f->missing = strndup(name, len);
  }
  if (oom)
    free(f->members), f->members = NULL;
}

/* A copy of line with the word at [off, off+len) of its rest replaced. */
static char *replace_at(const char *line, size_t off, size_t len,
                        const char *with) {
  return h2k_net_splice(line, off, len, with);
}

/* Replace every word equal to `from` in the words after the keyword. */
static char *replace_word(const char *line, size_t rest, const char *from,
                          const char *to) {
  char *cur = NULL;
  for (int i = 0;; i++) {
    const char *s = cur ? cur : line;
    size_t off, len;
    if (!nth_word(s + rest, i, &off, &len))
      return cur;
    if (len != strlen(from) || memcmp(s + rest + off, from, len))
      continue;
    char *next = replace_at(s, rest + off, len, to);
    free(cur);
    if (!next)
      return NULL;
    cur = next;
  }
}

static void drop_hwaddress(h2k_nt *t, const h2k_net_ctx *ctx, size_t i,
                           const words *w) {
  size_t off, len;
  const char *rest = t->line[i] + w->rest;
  /* "hwaddress ether 00:50:56:..." or "hwaddress 00:50:56:..." */
  if (!nth_word(rest, 0, &off, &len))
    return;
  if (len == 5 && !memcmp(rest + off, "ether", 5) &&
      !nth_word(rest, 1, &off, &len))
    return;
  if (h2k_net_is_source_mac(ctx, rest + off, len))
    h2k_nt_delete(t, i, "hwaddress sets the VMware MAC %.*s on the KVM NIC",
                  (int)len, rest + off);
}

/* Aggressive: the iface line of the missing NIC -> target, DHCP. */
static void move_iface_line(h2k_nt *t, size_t i, const words *w,
                            const char *missing, const char *target) {
  size_t noff, nlen, foff, flen, moff, mlen;
  const char *rest = t->line[i] + w->rest;
  if (!nth_word(rest, 0, &noff, &nlen) || !nth_word(rest, 1, &foff, &flen) ||
      !nth_word(rest, 2, &moff, &mlen))
    return;
  bool v4 = flen == 4 && !memcmp(rest + foff, "inet", 4);
  bool is_static = mlen == 6 && !memcmp(rest + moff, "static", 6);
  const char *method = is_static ? (v4 ? "dhcp" : "auto") : NULL;
  char *a = method ? replace_at(t->line[i], w->rest + moff, mlen, method)
                   : strdup(t->line[i]);
  char *b = a ? replace_at(a, w->rest + noff, nlen, target) : NULL;
  free(a);
  h2k_nt_set(t, i, b, "NIC %s does not exist under KVM; %s on %s", missing,
             is_static ? "DHCP" : "config moved", target);
}

static void fix_line(h2k_nt *t, const h2k_net_map *m, const facts *f, size_t i,
                     const char **stanza_missing) {
  const h2k_net_ctx *ctx = m->ctx;
  words w;
  if (!t->line[i] || !split_words(t->line[i], &w))
    return;
  const char *line = t->line[i];
  if (is_stanza_start(&w)) {
    *stanza_missing = NULL;
    size_t off, len;
    if (kw_is(&w, "iface") && f->missing &&
        nth_word(line + w.rest, 0, &off, &len) && len == strlen(f->missing) &&
        !memcmp(line + w.rest + off, f->missing, len)) {
      *stanza_missing = f->missing;
      move_iface_line(t, i, &w, f->missing, ctx->target_ifname);
      return;
    }
    if (kw_is(&w, "source") || kw_is(&w, "source-directory"))
      return;
    char *repl = NULL;
    if (kw_is(&w, "iface")) {
      char *to = nth_word(line + w.rest, 0, &off, &len)
                     ? h2k_net_rename(m, line + w.rest + off, len)
                     : NULL;
      repl = to ? replace_at(line, w.rest + off, len, to) : NULL;
      free(to);
    } else {
      repl = h2k_net_rename_words(m, line + w.rest);
      char *full =
          repl ? h2k_net_splice(line, w.rest, strlen(line + w.rest), repl)
               : NULL;
      free(repl);
      repl = full;
      if (f->missing) {
        const char *base = repl ? repl : line;
        char *moved =
            replace_word(base, w.rest, f->missing, ctx->target_ifname);
        if (moved) {
          free(repl);
          repl = moved;
        }
      }
    }
    if (repl)
      h2k_nt_set(t, i, repl, "interface renamed for KVM");
    return;
  }
  if (kw_is(&w, "hwaddress")) {
    drop_hwaddress(t, ctx, i, &w);
  } else if (*stanza_missing && kw_in(&w, static_opts)) {
    h2k_nt_comment(t, i, "static address of missing NIC %s replaced by DHCP",
                   *stanza_missing);
  } else if (kw_in(&w, ifname_opts)) {
    char *nv = h2k_net_rename_words(m, line + w.rest);
    if (nv) {
      h2k_nt_set(t, i, h2k_net_splice(line, w.rest, strlen(line + w.rest), nv),
                 "reference to renamed interface updated");
      free(nv);
    }
  }
}

char *h2k_fix_ifupdown(const char *text, const h2k_net_ctx *ctx,
                       const char *path, h2k_changes *log, h2k_error *err) {
  h2k_nt t;
  h2k_net_map m;
  if (h2k_nt_begin(&t, &m, text, ctx, path, log, err) < 0)
    return NULL;
  facts f = {0};
  gather(&t, &m, &f);
  const char *stanza_missing = NULL;
  for (size_t i = 0; i < t.n; i++)
    fix_line(&t, &m, &f, i, &stanza_missing);
  free(f.members);
  free(f.missing);
  return h2k_nt_finish(&t, &m, err);
}
