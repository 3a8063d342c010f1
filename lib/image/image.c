/* Generic image layer: format probing, backing chains, chain-resolved
 * block status and reads. Drivers describe one layer each (see image.h). */
#include "image/image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PROBE_BYTES 4096
/* How many driver extents h2k_image_block_status merges at most per call. */
#define MAX_MERGE 256

/* Every format reader, in probe order (declared in image.h). */
static const struct h2k_image_driver *const *driver_list(size_t *n) {
  static const struct h2k_image_driver *const list[] = {
      &h2k_driver_raw, &h2k_driver_qcow2, &h2k_driver_vmdk, &h2k_driver_vpc,
      &h2k_driver_vhdx};
  *n = sizeof list / sizeof *list;
  return list;
}

static const struct h2k_image_driver *driver_by_name(const char *name) {
  size_t n;
  const struct h2k_image_driver *const *list = driver_list(&n);
  for (size_t i = 0; i < n; i++)
    if (list[i] && list[i]->name && strcmp(list[i]->name, name) == 0)
      return list[i];
  return NULL;
}

static const struct h2k_image_driver *probe_driver(h2k_file *f,
                                                   h2k_error *err) {
  uint8_t head[PROBE_BYTES];
  size_t len = f->size < PROBE_BYTES ? (size_t)f->size : PROBE_BYTES;
  if (len > 0 && h2k_file_pread(f, head, len, 0, "image header", err) != 0)
    return NULL;
  size_t n;
  const struct h2k_image_driver *const *list = driver_list(&n);
  const struct h2k_image_driver *best = NULL;
  int best_score = 0;
  for (size_t i = 0; i < n; i++) {
    if (!list[i] || !list[i]->probe)
      continue;
    int score = list[i]->probe(head, len, f->path);
    if (score > best_score) {
      best = list[i];
      best_score = score;
    }
  }
  if (!best)
    h2k_err_set(err, H2K_E_INPUT, "IMAGE: cannot tell the format of '%s'",
                f->path);
  return best;
}

/* Identity of one file view in the chain, for loop detection. */
struct chain_id {
  dev_t dev;
  ino_t ino;
  uint64_t base;
};

static int file_identity(h2k_file *f, struct chain_id *id, h2k_error *err) {
  struct stat st;
  if (fstat(f->fd, &st) != 0) {
    h2k_err_errno(err, H2K_E_INPUT, errno, "IMAGE: cannot stat '%s'", f->path);
    return -1;
  }
  id->dev = st.st_dev;
  id->ino = st.st_ino;
  id->base = f->base;
  return 0;
}

static void free_layer(h2k_image *img) {
  if (img->drv && img->priv && img->drv->close)
    img->drv->close(img);
  h2k_file_close(img->file);
  free(img->backing_name);
  free(img->backing_path);
  free(img->backing_format);
  free(img->subformat);
  free(img);
}

static h2k_image *open_layer(h2k_file *f, const char *format, int depth,
                             struct chain_id *ids, h2k_error *err);

/* Open img's parent (img->backing_path), checking depth and loops. */
static int open_backing(h2k_image *img, struct chain_id *ids, h2k_error *err) {
  if (img->depth + 1 >= H2K_MAX_CHAIN_DEPTH) {
    h2k_err_set(err, H2K_E_INPUT,
                "IMAGE: backing chain of '%s' is deeper than %d images",
                img->file->path, H2K_MAX_CHAIN_DEPTH);
    return -1;
  }
  const char *name = img->backing_name ? img->backing_name : "";
  h2k_file *pf = h2k_file_open(img->backing_path, err);
  if (!pf) {
    h2k_err_wrap(err,
                 "IMAGE: backing file '%s' of '%s' (resolved to '%s') "
                 "cannot be opened",
                 name, img->file->path, img->backing_path);
    return -1;
  }
  struct chain_id *pid = &ids[img->depth + 1];
  if (file_identity(pf, pid, err) != 0) {
    h2k_file_close(pf);
    return -1;
  }
  for (int i = 0; i <= img->depth; i++) {
    if (ids[i].dev == pid->dev && ids[i].ino == pid->ino &&
        ids[i].base == pid->base) {
      h2k_err_set(err, H2K_E_INPUT,
                  "IMAGE: backing chain loop: '%s' has backing file '%s' "
                  "which is already part of the chain",
                  img->file->path, img->backing_path);
      h2k_file_close(pf);
      return -1;
    }
  }
  h2k_image *parent =
      open_layer(pf, img->backing_format, img->depth + 1, ids, err);
  h2k_file_close(pf);
  if (!parent) {
    h2k_err_wrap(err, "IMAGE: opening backing file '%s' of '%s'",
                 img->backing_path, img->file->path);
    return -1;
  }
  img->backing = parent;
  if (img->drv->check_parent && img->drv->check_parent(img, parent, err) != 0) {
    h2k_err_wrap(err, "IMAGE: '%s' does not match its backing file '%s'",
                 img->file->path, img->backing_path);
    return -1;
  }
  return 0;
}

static h2k_image *open_layer(h2k_file *f, const char *format, int depth,
                             struct chain_id *ids, h2k_error *err) {
  const struct h2k_image_driver *drv;
  if (format && *format) {
    drv = driver_by_name(format);
    if (!drv) {
      h2k_err_set(err, H2K_E_INPUT,
                  "IMAGE: unknown or unsupported format '%s' for '%s'", format,
                  f->path);
      return NULL;
    }
  } else {
    drv = probe_driver(f, err);
    if (!drv)
      return NULL;
  }
  if (depth == 0 && file_identity(f, &ids[0], err) != 0)
    return NULL;

  h2k_image *img = calloc(1, sizeof *img);
  if (!img) {
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "IMAGE: opening '%s'", f->path);
    return NULL;
  }
  img->drv = drv;
  img->file = h2k_file_ref(f);
  img->depth = depth;
  if (drv->open(img, err) != 0) {
    h2k_err_wrap(err, "IMAGE: cannot open '%s' as %s", f->path, drv->name);
    free_layer(img);
    return NULL;
  }
  if (img->virtual_size > H2K_MAX_VIRTUAL_SIZE) {
    h2k_err_set(err, H2K_E_INPUT,
                "IMAGE: virtual size %llu of '%s' exceeds the limit of %llu",
                (unsigned long long)img->virtual_size, f->path,
                (unsigned long long)H2K_MAX_VIRTUAL_SIZE);
    free_layer(img);
    return NULL;
  }
  if (img->backing_path && open_backing(img, ids, err) != 0) {
    h2k_image_close(img);
    return NULL;
  }
  return img;
}

h2k_image *h2k_image_open_file(h2k_file *f, const char *format,
                               h2k_error *err) {
  struct chain_id ids[H2K_MAX_CHAIN_DEPTH + 1];
  return open_layer(f, format, 0, ids, err);
}

h2k_image *h2k_image_open(const char *path, const char *format,
                          h2k_error *err) {
  h2k_file *f = h2k_file_open(path, err);
  if (!f)
    return NULL;
  h2k_image *img = h2k_image_open_file(f, format, err);
  h2k_file_close(f);
  return img;
}

h2k_image *h2k_image_open_overlay(const char *path, h2k_image *base,
                                  h2k_error *err) {
  h2k_file *f = h2k_file_open(path, err);
  if (!f)
    return NULL;
  h2k_image *img = calloc(1, sizeof *img);
  if (!img) {
    h2k_file_close(f);
    h2k_err_errno(err, H2K_E_FAIL, ENOMEM, "IMAGE: opening '%s'", path);
    return NULL;
  }
  img->drv = &h2k_driver_qcow2;
  img->file = f; /* takes the reference */
  if (img->drv->open(img, err) != 0) {
    h2k_err_wrap(err, "IMAGE: cannot open overlay '%s'", path);
    free_layer(img);
    return NULL;
  }
  if (!img->backing_name || img->virtual_size != base->virtual_size) {
    h2k_err_set(err, H2K_E_FAIL,
                "IMAGE: '%s' is not an overlay of a %llu-byte disk", path,
                (unsigned long long)base->virtual_size);
    free_layer(img);
    return NULL;
  }
  /* The stored backing name is only what the appliance used (an NBD
   * socket); the base chain is already open. */
  img->backing = base;
  return img;
}

void h2k_image_close(h2k_image *img) {
  while (img) {
    h2k_image *next = img->backing;
    free_layer(img);
    img = next;
  }
}

const char *h2k_image_format(const h2k_image *img) {
  return img->drv->name;
}

uint64_t h2k_image_virtual_size(const h2k_image *img) {
  return img->virtual_size;
}

const h2k_image *h2k_image_backing(const h2k_image *img) {
  return img->backing;
}

const char *h2k_image_path(const h2k_image *img) {
  return img->file->path;
}

uint64_t h2k_image_allocated_bytes(const h2k_image *img) {
  if (img->drv->allocated)
    return img->drv->allocated(img);
  struct stat st;
  if (fstat(img->file->fd, &st) != 0)
    return 0;
  /* A view inside a bigger file (OVA member): the view is what we use. */
  if (img->file->base != 0 || (uint64_t)st.st_size != img->file->size)
    return img->file->size;
  return (uint64_t)st.st_blocks * 512;
}

/* Ask one layer's driver, checking the driver kept its promises. */
static int layer_status(h2k_image *img, uint64_t off, uint64_t len,
                        h2k_extent *ext, h2k_error *err) {
  if (img->drv->block_status(img, off, len, ext, err) != 0)
    return -1;
  if (ext->length == 0 || ext->length > len || ext->kind > H2K_EXTENT_UNALLOC) {
    h2k_err_set(err, H2K_E_FAIL,
                "IMAGE: %s driver returned an invalid extent (len %llu, kind "
                "%d) for offset %llu len %llu of '%s'",
                img->drv->name, (unsigned long long)ext->length, (int)ext->kind,
                (unsigned long long)off, (unsigned long long)len,
                img->file->path);
    return -1;
  }
  ext->offset = off;
  return 0;
}

/* One chain-resolved extent (no merging). */
static int resolve_extent(h2k_image *img, uint64_t off, uint64_t len,
                          h2k_extent *ext, h2k_error *err) {
  for (;;) {
    if (layer_status(img, off, len, ext, err) != 0)
      return -1;
    if (ext->kind != H2K_EXTENT_UNALLOC)
      return 0;
    h2k_image *parent = img->backing;
    if (!parent || off >= parent->virtual_size) {
      ext->kind = H2K_EXTENT_ZERO;
      return 0;
    }
    len = ext->length;
    if (len > parent->virtual_size - off)
      len = parent->virtual_size - off;
    img = parent;
  }
}

static int check_range(const h2k_image *img, uint64_t off, uint64_t len,
                       const char *op, h2k_error *err) {
  if (off > img->virtual_size || len > img->virtual_size - off) {
    h2k_err_set(err, H2K_E_FAIL,
                "IMAGE: %s at offset %llu (len %llu) past the virtual size "
                "%llu of '%s'",
                op, (unsigned long long)off, (unsigned long long)len,
                (unsigned long long)img->virtual_size, img->file->path);
    return -1;
  }
  return 0;
}

int h2k_image_block_status(h2k_image *img, uint64_t off, uint64_t len,
                           h2k_extent *ext, h2k_error *err) {
  if (len == 0 || off >= img->virtual_size) {
    h2k_err_set(err, H2K_E_FAIL,
                "IMAGE: block status at offset %llu (len %llu) outside the "
                "virtual size %llu of '%s'",
                (unsigned long long)off, (unsigned long long)len,
                (unsigned long long)img->virtual_size, img->file->path);
    return -1;
  }
  if (len > img->virtual_size - off)
    len = img->virtual_size - off;
  if (resolve_extent(img, off, len, ext, err) != 0)
    return -1;
  for (int i = 0; i < MAX_MERGE && ext->length < len; i++) {
    h2k_extent next;
    if (resolve_extent(img, off + ext->length, len - ext->length, &next, err) !=
        0)
      return -1;
    if (next.kind != ext->kind)
      break;
    ext->length += next.length;
  }
  ext->offset = off;
  return 0;
}

static int read_layer(h2k_image *img, uint64_t off, uint8_t *buf, uint64_t len,
                      h2k_error *err) {
  while (len > 0) {
    h2k_extent ext;
    if (layer_status(img, off, len, &ext, err) != 0)
      return -1;
    size_t n = (size_t)ext.length;
    if (ext.kind == H2K_EXTENT_DATA) {
      if (img->drv->read(img, off, buf, n, err) != 0)
        return -1;
    } else if (ext.kind == H2K_EXTENT_ZERO || !img->backing) {
      memset(buf, 0, n);
    } else {
      uint64_t parent_size = img->backing->virtual_size;
      size_t from_parent = 0;
      if (off < parent_size)
        from_parent = (size_t)(n < parent_size - off ? n : parent_size - off);
      if (from_parent &&
          read_layer(img->backing, off, buf, from_parent, err) != 0)
        return -1;
      memset(buf + from_parent, 0, n - from_parent);
    }
    off += n;
    buf += n;
    len -= n;
  }
  return 0;
}

int h2k_image_read(h2k_image *img, uint64_t off, void *buf, size_t len,
                   h2k_error *err) {
  if (check_range(img, off, len, "read", err) != 0)
    return -1;
  return read_layer(img, off, buf, len, err);
}
