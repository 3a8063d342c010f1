#include "inspect/osinfo.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "fix/fstab.h"
#include "guest/devnames.h"

/* os-release IDs → the distro names libguestfs reports (and earlier
 * hyper2kvm reports carried). Unlisted IDs are kept as they are. */
static const char *const distro_names[][2] = {
    {"alpine", "alpinelinux"},
    {"arch", "archlinux"},
    {"kali", "kalilinux"},
    {"ol", "oraclelinux"},
    {"opensuse-leap", "opensuse"},
    {"opensuse-tumbleweed", "opensuse"},
    {"sled", "sles"},
    {"void", "voidlinux"},
};

static char *distro_of_id(const char *id) {
  for (size_t i = 0; i < sizeof distro_names / sizeof *distro_names; i++)
    if (!strcmp(id, distro_names[i][0]))
      return strdup(distro_names[i][1]);
  char *d = strdup(id);
  for (char *p = d; p && *p; p++)
    *p = (char)tolower((unsigned char)*p);
  return d;
}

bool h2k_version_parse(const char *s, int *major, int *minor) {
  if (!s || !isdigit((unsigned char)*s))
    return false;
  char *end;
  long ma = strtol(s, &end, 10), mi = 0;
  if (*end == '.' && isdigit((unsigned char)end[1]))
    mi = strtol(end + 1, &end, 10);
  if (ma < 0 || ma > 100000 || mi < 0 || mi > 100000)
    return false;
  *major = (int)ma;
  *minor = (int)mi;
  return true;
}

/* The value of a KEY=value line, unquoted ("..." or '...'); malloc'ed. */
static char *shell_value(const char *v, size_t n) {
  while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
    n--;
  if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0])
    return strndup(v + 1, n - 2);
  return strndup(v, n);
}

/* Value of `key` in KEY=value text, or NULL. */
static char *key_value(const char *text, const char *key) {
  size_t kl = strlen(key);
  for (const char *line = text; line && *line;) {
    const char *eol = strchr(line, '\n');
    size_t n = eol ? (size_t)(eol - line) : strlen(line);
    while (n && (*line == ' ' || *line == '\t'))
      line++, n--;
    if (n > kl && !strncmp(line, key, kl) && line[kl] == '=')
      return shell_value(line + kl + 1, n - kl - 1);
    line = eol ? eol + 1 : NULL;
  }
  return NULL;
}

bool h2k_os_release_parse(const char *text, h2k_osinfo *out) {
  char *id = text ? key_value(text, "ID") : NULL;
  if (!id || !*id) {
    free(id);
    return false;
  }
  if (!out->distro)
    out->distro = distro_of_id(id);
  free(id);
  char *ver = key_value(text, "VERSION_ID");
  if (!out->major)
    h2k_version_parse(ver, &out->major, &out->minor);
  free(ver);
  if (!out->product_name)
    out->product_name = key_value(text, "PRETTY_NAME");
  return true;
}

/* Release files older than os-release: what their path says, and the
 * words that name the distribution in their first line. */
static const struct {
  const char *path, *word, *distro;
} release_files[] = {
    {"/etc/redhat-release", "CentOS", "centos"},
    {"/etc/redhat-release", "Rocky", "rocky"},
    {"/etc/redhat-release", "AlmaLinux", "almalinux"},
    {"/etc/redhat-release", "Fedora", "fedora"},
    {"/etc/redhat-release", "Oracle", "oraclelinux"},
    {"/etc/redhat-release", "Scientific", "scientificlinux"},
    {"/etc/redhat-release", "Red Hat", "rhel"},
    {"/etc/oracle-release", "", "oraclelinux"},
    {"/etc/SuSE-release", "openSUSE", "opensuse"},
    {"/etc/SuSE-release", "", "sles"},
    {"/etc/debian_version", "", "debian"},
};

/* The first number after " release " (or at the start: debian_version). */
static const char *version_in(const char *line) {
  const char *r = strstr(line, " release ");
  if (r)
    return r + 9;
  for (const char *p = line; *p && *p != '\n'; p++)
    if (isdigit((unsigned char)*p))
      return p;
  return NULL;
}

bool h2k_release_file_parse(const char *path, const char *text,
                            h2k_osinfo *out) {
  if (!path || !text)
    return false;
  for (size_t i = 0; i < sizeof release_files / sizeof *release_files; i++) {
    if (strcmp(path, release_files[i].path) != 0 ||
        !strstr(text, release_files[i].word))
      continue;
    if (!out->distro)
      out->distro = strdup(release_files[i].distro);
    else if (strcmp(out->distro, release_files[i].distro) != 0)
      return false; /* another distribution's leftover file */
    int ma = 0, mi = 0;
    const char *v = version_in(text);
    if (v && h2k_version_parse(v, &ma, &mi) &&
        (!out->major || (ma == out->major && !out->minor))) {
      out->major = ma;
      out->minor = mi;
    }
    if (!out->product_name && strcmp(path, "/etc/debian_version") != 0)
      out->product_name = strndup(text, strcspn(text, "\r\n"));
    return true;
  }
  return false;
}

void h2k_osinfo_free(h2k_osinfo *o) {
  free(o->distro);
  free(o->product_name);
  memset(o, 0, sizeof *o);
}

const char *h2k_elf_arch(const uint8_t *h, size_t n) {
  if (!h || n < 20 || memcmp(h, "\177ELF", 4) != 0)
    return NULL;
  bool is64 = h[4] == 2, le = h[5] == 1;
  unsigned m =
      le ? (unsigned)(h[18] | h[19] << 8) : (unsigned)(h[18] << 8 | h[19]);
  switch (m) {
  case 3: /* EM_386 */
    return "i386";
  case 62: /* EM_X86_64 */
    return "x86_64";
  case 40: /* EM_ARM */
    return "arm";
  case 183: /* EM_AARCH64 */
    return "aarch64";
  case 21: /* EM_PPC64 */
    return le ? "ppc64le" : "ppc64";
  case 20: /* EM_PPC */
    return "ppc";
  case 22: /* EM_S390 */
    return is64 ? "s390x" : "s390";
  case 243: /* EM_RISCV */
    return is64 ? "riscv64" : "riscv32";
  case 2: /* EM_SPARC */
  case 43:
    return is64 ? "sparc64" : "sparc";
  case 8: /* EM_MIPS */
    return is64 ? "mips64" : "mips";
  default:
    return NULL;
  }
}

char *h2k_hostname_parse(const char *text, bool sysconfig_style) {
  if (!text)
    return NULL;
  if (sysconfig_style) {
    char *h = key_value(text, "HOSTNAME");
    if (h && !*h) {
      free(h);
      h = NULL;
    }
    return h;
  }
  for (const char *p = text; *p;) {
    p += strspn(p, " \t\r\n");
    if (*p == '#') {
      p += strcspn(p, "\n");
      continue;
    }
    size_t n = strcspn(p, " \t\r\n#");
    return n ? strndup(p, n) : NULL;
  }
  return NULL;
}

/* ---- fstab → mounts ---- */

static bool prefix_is(const char *s, const char *prefix, const char **rest) {
  size_t n = strlen(prefix);
  if (strncmp(s, prefix, n) != 0)
    return false;
  *rest = s + n;
  return true;
}

static const char *by_attr(const h2k_blkdev *devs, size_t n, int attr,
                           const char *want) {
  for (size_t i = 0; i < n; i++) {
    const char *v = attr == 0   ? devs[i].uuid
                    : attr == 1 ? devs[i].label
                                : devs[i].partuuid;
    if (v && (attr == 1 ? !strcmp(v, want) : !strcasecmp(v, want)))
      return devs[i].dev;
  }
  return NULL;
}

static const char *listed_dev(const h2k_blkdev *devs, size_t n,
                              const char *dev) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(devs[i].dev, dev))
      return devs[i].dev;
  return NULL;
}

/* "/dev/mapper/vg--data-root" → "/dev/vg-data/root" (device-mapper doubles
 * the dashes inside names and joins VG and LV with a single one). */
static char *mapper_to_lv(const char *name) {
  size_t n = strlen(name);
  char *out = malloc(n + 7);
  if (!out)
    return NULL;
  char *o = out + sprintf(out, "/dev/");
  bool split = false;
  for (const char *p = name; *p; p++) {
    if (*p == '-' && p[1] == '-') {
      *o++ = '-';
      p++;
    } else if (*p == '-' && !split) {
      *o++ = '/';
      split = true;
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
  return out;
}

/* "/dev/vdb2", "/dev/hdb2", "/dev/xvdb2" → "/dev/sdb2". */
static char *as_sd(const char *name) {
  static const char *const buses[] = {"vd", "hd", "xvd", "sd"};
  for (size_t i = 0; i < 4; i++) {
    const char *rest;
    if (prefix_is(name, buses[i], &rest) && islower((unsigned char)*rest))
      return h2k_strdup_printf("/dev/sd%s", rest);
  }
  return NULL;
}

/* The appliance device a fstab spec names, or NULL. Malloc'ed. */
static char *resolve_spec(const char *spec, const h2k_blkdev *devs, size_t n,
                          size_t n_disks) {
  static const char *const keyed[][2] = {
      {"UUID=", "/dev/disk/by-uuid/"},
      {"LABEL=", "/dev/disk/by-label/"},
      {"PARTUUID=", "/dev/disk/by-partuuid/"},
  };
  const char *rest;
  for (int k = 0; k < 3; k++)
    if (prefix_is(spec, keyed[k][0], &rest) ||
        prefix_is(spec, keyed[k][1], &rest)) {
      const char *d = by_attr(devs, n, k, rest);
      return d ? strdup(d) : NULL;
    }
  if (prefix_is(spec, "/dev/disk/by-path/", &rest) ||
      prefix_is(spec, "/dev/disk/by-id/", &rest)) {
    char *d = h2k_resolve_disk_link(spec, n_disks);
    if (d && !listed_dev(devs, n, d)) {
      free(d);
      d = NULL;
    }
    return d;
  }
  if (!prefix_is(spec, "/dev/", &rest))
    return NULL;
  char *d = NULL;
  if (listed_dev(devs, n, spec))
    d = strdup(spec);
  else if (prefix_is(spec, "/dev/mapper/", &rest))
    d = mapper_to_lv(rest);
  else
    d = as_sd(rest);
  if (d && !listed_dev(devs, n, d)) {
    free(d);
    d = NULL;
  }
  return d;
}

/* Field `idx` of a fstab line, octal escapes (\040) decoded; malloc'ed. */
static char *field(const char *line, int idx) {
  size_t start, len;
  if (!h2k_field_span(line, idx, &start, &len))
    return NULL;
  char *out = malloc(len + 1), *o = out;
  if (!out)
    return NULL;
  const char *end = line + start + len;
  for (const char *p = line + start; p < end; p++) {
    if (p[0] == '\\' && end - p >= 4 && p[1] >= '0' && p[1] <= '3' &&
        p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
      *o++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
      p += 3;
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
  return out;
}

static bool is_network_fs(const char *type) {
  static const char *const net[] = {"nfs",   "nfs4",      "cifs", "smbfs",
                                    "smb3",  "glusterfs", "ceph", "9p",
                                    "sshfs", "davfs"};
  for (size_t i = 0; i < sizeof net / sizeof *net; i++)
    if (!strcmp(type, net[i]))
      return true;
  return !strncmp(type, "fuse", 4);
}

static bool has_option(const char *opts, const char *want) {
  size_t wl = strlen(want);
  for (const char *p = opts; p && *p;) {
    size_t n = strcspn(p, ",");
    if (n == wl && !strncmp(p, want, n))
      return true;
    p += n + (p[n] == ',');
  }
  return false;
}

static bool push_mount(h2k_mount **m, size_t *n, char *mp, char *dev) {
  h2k_mount *grown = mp && dev ? realloc(*m, (*n + 1) * sizeof **m) : NULL;
  if (!grown) {
    free(mp);
    free(dev);
    return false;
  }
  *m = grown;
  grown[*n].mountpoint = mp;
  grown[*n].device = dev;
  (*n)++;
  return true;
}

static bool mounted_at(const h2k_mount *m, size_t n, const char *mp) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(m[i].mountpoint, mp))
      return true;
  return false;
}

/* Consider one fstab line: add its mount, or its spec to `unres`. */
static bool take_line(const char *line, const h2k_blkdev *devs, size_t n_devs,
                      size_t n_disks, h2k_mount **m, size_t *n, char ***unres,
                      size_t *n_unres) {
  char *spec = field(line, 0), *mp = field(line, 1), *type = field(line, 2),
       *opts = field(line, 3);
  bool ok = true;
  if (spec && mp && type && spec[0] != '#' && mp[0] == '/' &&
      strcmp(mp, "/") != 0 && strcmp(type, "swap") != 0 &&
      strcmp(type, "none") != 0 && !h2k_fstype_is_pseudo(type) &&
      !is_network_fs(type) && !has_option(opts, "bind") &&
      !mounted_at(*m, *n, mp)) {
    char *dev = resolve_spec(spec, devs, n_devs, n_disks);
    if (dev) {
      ok = push_mount(m, n, mp, dev);
      mp = NULL;
    } else {
      ok = h2k_strv_push(unres, n_unres, spec) == 0;
      spec = NULL;
    }
  }
  free(spec);
  free(mp);
  free(type);
  free(opts);
  return ok;
}

static int by_depth(const void *x, const void *y) {
  const h2k_mount *a = x, *b = y;
  size_t la = strlen(a->mountpoint), lb = strlen(b->mountpoint);
  return la < lb ? -1 : la > lb ? 1 : strcmp(a->mountpoint, b->mountpoint);
}

size_t h2k_fstab_mounts(const char *fstab, const h2k_blkdev *devs,
                        size_t n_devs, size_t n_disks, const char *root,
                        h2k_mount **mounts, char ***unresolved,
                        size_t *n_unresolved) {
  h2k_mount *m = NULL;
  size_t n = 0;
  *mounts = NULL;
  if (!push_mount(&m, &n, strdup("/"), strdup(root)))
    return 0;
  for (const char *line = fstab; line && *line;) {
    const char *eol = strchr(line, '\n');
    char *one = eol ? strndup(line, (size_t)(eol - line)) : strdup(line);
    bool ok = one && take_line(one, devs, n_devs, n_disks, &m, &n, unresolved,
                               n_unresolved);
    free(one);
    if (!ok) {
      h2k_mounts_free(m, n);
      return 0;
    }
    line = eol ? eol + 1 : NULL;
  }
  qsort(m, n, sizeof *m, by_depth); /* "/" sorts first: the shortest */
  *mounts = m;
  return n;
}

void h2k_mounts_free(h2k_mount *m, size_t n) {
  for (size_t i = 0; m && i < n; i++) {
    free(m[i].mountpoint);
    free(m[i].device);
  }
  free(m);
}
