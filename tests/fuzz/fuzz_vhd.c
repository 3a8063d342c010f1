/* libFuzzer harness for the VHD reader: the input becomes a memfd, opened
 * with the "vpc" format forced; every extent's status is asked and DATA
 * extents are read (bounded), then the image is closed. Reader errors are
 * expected; crashes, hangs and sanitizer reports are bugs.
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude \
 *     -Ilib tests/fuzz/fuzz_vhd.c build/libh2k_internal.a -lz -lzstd \
 *     -lcrypto -lyaml -ljson-c -lxml2 -lm -lpthread -o fuzz_vhd
 */
#ifndef FUZZ_VHD_FORMAT
#define FUZZ_VHD_FORMAT "vpc"
#define FUZZ_VHD_DRIVER h2k_driver_vpc
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/image.h"

#define READ_LIMIT (UINT64_C(32) << 20) /* bytes read per input */
#define STATUS_LIMIT 100000             /* extents walked per input */
#define CHUNK (UINT64_C(1) << 20)

/* A strong reference, so static links keep the driver (image.c refers to it
 * weakly). */
const struct h2k_image_driver *const fuzz_vhd_driver = &FUZZ_VHD_DRIVER;

static void read_all(h2k_image *img) {
  static uint8_t buf[CHUNK];
  uint64_t size = h2k_image_virtual_size(img), read = 0;
  h2k_error err = {0};
  uint64_t off = 0;
  for (int n = 0; off < size && n < STATUS_LIMIT && read < READ_LIMIT; n++) {
    h2k_extent ext;
    if (h2k_image_block_status(img, off, size - off, &ext, &err) != 0)
      return;
    if (ext.kind == H2K_EXTENT_DATA) {
      uint64_t len = ext.length < CHUNK ? ext.length : CHUNK;
      if (h2k_image_read(img, off, buf, len, &err) != 0)
        return;
      read += len;
    }
    off += ext.length;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = memfd_create("fuzz-" FUZZ_VHD_FORMAT, MFD_CLOEXEC);
  if (fd < 0)
    abort();
  if (size && write(fd, data, size) != (ssize_t)size)
    abort();
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  h2k_error err = {0};
  h2k_image *img = h2k_image_open(path, FUZZ_VHD_FORMAT, &err);
  if (img) {
    read_all(img);
    h2k_image_close(img);
  }
  close(fd);
  return 0;
}
