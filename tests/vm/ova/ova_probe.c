/* Test driver for the OVA and tarball readers: prints the VM model read
 * from an .ova (or extracted directory) or a disk tarball, and can write a
 * disk to a raw file through the image engine, for qemu-img compare.
 *
 *   ova_probe [--tarball] [--no-verify] [--unpack DIR] [--vm NAME]
 *             [--dump N OUT.raw] PATH
 *
 * Exit status: 0, or the h2k error class on failure (message on stderr). */
#include "image/file.h"
#include "image/image.h"
#include "vm/ova.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_vm(const h2k_vm *vm) {
  printf("name: %s\n", vm->name ? vm->name : "");
  printf("manifest: %s\n", vm->manifest ? vm->manifest : "(none)");
  printf("disks: %zu\n", vm->n_disks);
  for (size_t i = 0; i < vm->n_disks; i++) {
    const h2k_vm_disk *d = &vm->disks[i];
    printf("disk %zu: path=%s format=%s offset=%llu length=%llu gzip=%d "
           "chunks=%zu capacity=%llu href=%s\n",
           i, d->path ? d->path : "(none)", d->format ? d->format : "(probe)",
           (unsigned long long)d->range_offset,
           (unsigned long long)d->range_length, d->gzip, d->n_chunks,
           (unsigned long long)d->capacity, d->ovf_href ? d->ovf_href : "");
  }
  for (size_t i = 0; i < vm->n_warnings; i++)
    printf("warning: %s\n", vm->warnings[i]);
}

static int dump_disk(const h2k_vm_disk *d, const char *out, h2k_error *err) {
  h2k_file *f =
      d->range_offset || d->range_length
          ? h2k_file_open_range(d->path, d->range_offset, d->range_length, err)
          : h2k_file_open(d->path, err);
  if (!f)
    return -1;
  h2k_image *img = h2k_image_open_file(f, d->format, err);
  h2k_file_close(f);
  if (!img)
    return -1;
  int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    perror(out);
    h2k_image_close(img);
    return -1;
  }
  const size_t chunk = 1 << 20;
  char *buf = malloc(chunk);
  uint64_t size = h2k_image_virtual_size(img);
  int rc = buf ? 0 : -1;
  for (uint64_t off = 0; rc == 0 && off < size; off += chunk) {
    size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
    rc = h2k_image_read(img, off, buf, n, err);
    if (rc == 0 && pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
      rc = -1;
  }
  if (rc == 0 && ftruncate(fd, (off_t)size) < 0)
    rc = -1;
  printf("dumped: format=%s size=%llu\n", h2k_image_format(img),
         (unsigned long long)size);
  free(buf);
  close(fd);
  h2k_image_close(img);
  return rc;
}

int main(int argc, char **argv) {
  h2k_ova_opts opts = {.verify_manifest = true};
  bool tarball = false;
  long dump_index = -1;
  const char *dump_out = NULL, *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--tarball"))
      tarball = true;
    else if (!strcmp(argv[i], "--no-verify"))
      opts.verify_manifest = false;
    else if (!strcmp(argv[i], "--unpack") && i + 1 < argc)
      opts.unpack_dir = argv[++i];
    else if (!strcmp(argv[i], "--vm") && i + 1 < argc)
      opts.vm_name = argv[++i];
    else if (!strcmp(argv[i], "--dump") && i + 2 < argc) {
      dump_index = strtol(argv[++i], NULL, 10);
      dump_out = argv[++i];
    } else
      path = argv[i];
  }
  if (!path) {
    fprintf(stderr, "usage: ova_probe [--tarball] [--no-verify] [--unpack "
                    "DIR] [--vm NAME] [--dump N OUT] PATH\n");
    return 2;
  }
  h2k_error err = {0};
  h2k_vm *vm = tarball ? h2k_tarball_open(path, opts.unpack_dir, &err)
                       : h2k_ova_open(path, &opts, &err);
  if (!vm) {
    fprintf(stderr, "error: %s\n", h2k_error_text(&err));
    return err.code ? err.code : 1;
  }
  print_vm(vm);
  int rc = 0;
  if (dump_out) {
    if (dump_index < 0 || (size_t)dump_index >= vm->n_disks) {
      fprintf(stderr, "error: no disk %ld\n", dump_index);
      rc = 1;
    } else if (dump_disk(&vm->disks[dump_index], dump_out, &err) < 0) {
      fprintf(stderr, "error: %s\n", h2k_error_text(&err));
      rc = err.code ? err.code : 1;
    }
  }
  h2k_vm_free(vm);
  return rc;
}
