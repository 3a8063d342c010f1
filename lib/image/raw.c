/* raw: the file (view) is the disk. Holes in a sparse file read as zeros. */
#include "image/image.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static int raw_probe(const uint8_t *head, size_t len, const char *path) {
  (void)head;
  (void)len;
  (void)path;
  return 1;
}

/* priv points here when the view lies in a regular file: only then do
 * SEEK_DATA/SEEK_HOLE tell where the holes are. */
static const char regular_file_marker;

static int raw_open(h2k_image *img, h2k_error *err) {
  (void)err;
  h2k_file *f = img->file;
  img->virtual_size = f->size;
  struct stat st;
  if (fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode))
    img->priv = (void *)&regular_file_marker;
  return 0;
}

static int raw_block_status(h2k_image *img, uint64_t off, uint64_t len,
                            h2k_extent *ext, h2k_error *err) {
  (void)err;
  ext->offset = off;
  ext->length = len;
  ext->kind = H2K_EXTENT_DATA;
  if (img->priv != &regular_file_marker)
    return 0;
  h2k_file *f = img->file;
  uint64_t pos = f->base + off; /* in file coordinates */
  off_t data = lseek(f->fd, (off_t)pos, SEEK_DATA);
  if (data < 0) {
    /* ENXIO: no data at or after pos; anything else: can't tell. */
    if (errno == ENXIO)
      ext->kind = H2K_EXTENT_ZERO;
    return 0;
  }
  if ((uint64_t)data > pos) {
    ext->kind = H2K_EXTENT_ZERO;
    if ((uint64_t)data - pos < len)
      ext->length = (uint64_t)data - pos;
    return 0;
  }
  off_t hole = lseek(f->fd, (off_t)pos, SEEK_HOLE);
  if (hole > (off_t)pos && (uint64_t)hole - pos < len)
    ext->length = (uint64_t)hole - pos;
  return 0;
}

static int raw_read(h2k_image *img, uint64_t off, void *buf, size_t len,
                    h2k_error *err) {
  return h2k_file_pread(img->file, buf, len, off, "raw data", err);
}

static void raw_close(h2k_image *img) {
  (void)img;
}

const struct h2k_image_driver h2k_driver_raw = {
    .name = "raw",
    .probe = raw_probe,
    .open = raw_open,
    .block_status = raw_block_status,
    .read = raw_read,
    .close = raw_close,
};
