#include "guest/devnames.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static const char *const link_prefixes[] = {"/dev/disk/by-path/",
                                            "/dev/disk/by-id/"};

static bool listed(char **v, size_t n, const char *s, size_t len) {
  for (size_t i = 0; i < n; i++)
    if (strlen(v[i]) == len && !memcmp(v[i], s, len))
      return true;
  return false;
}

void h2k_find_disk_links(const char *text, char ***v, size_t *n) {
  for (size_t k = 0; k < 2; k++) {
    const char *p = text;
    while ((p = strstr(p, link_prefixes[k])) != NULL) {
      size_t len = strcspn(p, " \t\r\n\"',;");
      if (!listed(*v, *n, p, len))
        h2k_strv_push(v, n, strndup(p, len));
      p += len;
    }
  }
}

/* N of a trailing "-partN", or 0 (the whole disk). */
static int part_number(const char *name) {
  const char *p = strstr(name, "-part");
  const char *last = NULL;
  while (p) {
    last = p;
    p = strstr(p + 1, "-part");
  }
  if (!last || !isdigit((unsigned char)last[5]))
    return 0;
  char *end;
  long v = strtol(last + 5, &end, 10);
  return *end == '\0' && v > 0 && v < 1000 ? (int)v : 0;
}

/* The SCSI target T of "...-scsi-H:C:T:L...", or -1. */
static int scsi_target(const char *name) {
  const char *p = strstr(name, "-scsi-");
  unsigned h, c, t, l;
  if (!p || sscanf(p + 6, "%u:%u:%u:%u", &h, &c, &t, &l) != 4 || t > 255)
    return -1;
  return (int)t;
}

static bool is_virtual_block_link(const char *id) {
  static const char *const not_disks[] = {"dm-", "lvm-", "md-"};
  for (size_t i = 0; i < 3; i++)
    if (!strncmp(id, not_disks[i], strlen(not_disks[i])))
      return true;
  return false;
}

static char *disk_name(size_t disk, int part) {
  if (disk >= 26)
    return NULL;
  if (part)
    return h2k_strdup_printf("/dev/sd%c%d", (char)('a' + disk), part);
  return h2k_strdup_printf("/dev/sd%c", (char)('a' + disk));
}

char *h2k_resolve_disk_link(const char *link, size_t n_disks) {
  if (!n_disks)
    return NULL;
  int part = part_number(link);
  if (!strncmp(link, link_prefixes[0], strlen(link_prefixes[0]))) {
    int t = scsi_target(link);
    if (n_disks == 1)
      return disk_name(0, part);
    return t >= 0 && (size_t)t < n_disks ? disk_name((size_t)t, part) : NULL;
  }
  if (!strncmp(link, link_prefixes[1], strlen(link_prefixes[1]))) {
    const char *id = link + strlen(link_prefixes[1]);
    if (is_virtual_block_link(id) || n_disks != 1)
      return NULL;
    return disk_name(0, part);
  }
  return NULL;
}
