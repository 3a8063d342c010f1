/* Helpers shared by the fixers: the change log and stable device specs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "fix/fix.h"

void h2k_changes_add(h2k_changes *c, const char *file, int line,
                     const char *before, const char *after,
                     const char *reason_fmt, ...) {
  h2k_change *grown = realloc(c->items, (c->n + 1) * sizeof *grown);
  if (!grown)
    return;
  c->items = grown;
  h2k_change *ch = &c->items[c->n++];
  ch->file = h2k_strdup0(file);
  ch->line = line;
  ch->before = h2k_strdup0(before);
  ch->after = h2k_strdup0(after);
  va_list ap;
  va_start(ap, reason_fmt);
  if (vasprintf(&ch->reason, reason_fmt, ap) < 0)
    ch->reason = NULL;
  va_end(ap);
}

void h2k_changes_free(h2k_changes *c) {
  for (size_t i = 0; i < c->n; i++) {
    free(c->items[i].file);
    free(c->items[i].before);
    free(c->items[i].after);
    free(c->items[i].reason);
  }
  free(c->items);
  c->items = NULL;
  c->n = 0;
}

/* Follow aliases (by-path, by-id names) to a device name, a few hops. */
static const char *resolve_alias(const h2k_devmap *map, const char *dev) {
  for (int hop = 0; hop < 8; hop++) {
    const char *next = NULL;
    for (size_t i = 0; i < map->n_alias && !next; i++)
      if (!strcmp(map->alias[i], dev))
        next = map->target[i];
    if (!next)
      return dev;
    dev = next;
  }
  return dev;
}

char *h2k_stable_spec(const h2k_devmap *map, const char *dev) {
  const char *real = resolve_alias(map, dev);
  for (size_t i = 0; i < map->n_devs; i++) {
    const h2k_blkdev *b = &map->devs[i];
    if (strcmp(b->dev, real) != 0)
      continue;
    if (b->uuid && *b->uuid)
      return h2k_strdup_printf("UUID=%s", b->uuid);
    if (b->partuuid && *b->partuuid)
      return h2k_strdup_printf("PARTUUID=%s", b->partuuid);
    if (b->label && *b->label)
      return h2k_strdup_printf("LABEL=%s", b->label);
    return NULL;
  }
  return NULL;
}

void h2k_blkdevs_free(h2k_blkdev *devs, size_t n) {
  for (size_t i = 0; devs && i < n; i++) {
    free((char *)devs[i].dev);
    free((char *)devs[i].uuid);
    free((char *)devs[i].partuuid);
    free((char *)devs[i].label);
    free((char *)devs[i].fstype);
  }
  free(devs);
}

static char *dup0(const char *s) {
  return s ? strdup(s) : NULL;
}

h2k_blkdev *h2k_blkdevs_copy(const h2k_blkdev *devs, size_t n) {
  h2k_blkdev *c = calloc(n ? n : 1, sizeof *c);
  for (size_t i = 0; c && i < n; i++)
    c[i] = (h2k_blkdev){.dev = dup0(devs[i].dev),
                        .uuid = dup0(devs[i].uuid),
                        .partuuid = dup0(devs[i].partuuid),
                        .label = dup0(devs[i].label),
                        .fstype = dup0(devs[i].fstype)};
  return c;
}
