/* libFuzzer harness for one image reader, chosen at build time with
 * -DFUZZ_FORMAT="qcow2" (or vmdk, vpc, vhdx). The input is written to a
 * private temporary file, opened with that format forced, and read through
 * its whole chain (bounded so each run stays fast). Any crash, hang or
 * sanitizer report is a bug; errors returned by the reader are fine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hyper2kvm.h"

#ifndef FUZZ_FORMAT
#error "build with -DFUZZ_FORMAT=\"format\""
#endif

#define READ_CHUNK (256u * 1024)
#define READ_LIMIT (UINT64_C(64) << 20)

static char path[128];

static void write_input(const uint8_t *data, size_t size) {
  if (!path[0]) {
    char dir[] = "/tmp/h2k-fuzz.XXXXXX";
    if (!mkdtemp(dir))
      abort();
    snprintf(path, sizeof path, "%s/disk.img", dir);
  }
  FILE *f = fopen(path, "wb");
  if (!f)
    abort();
  size_t n = size ? fwrite(data, 1, size, f) : 0;
  if (fclose(f) != 0 || n != size)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  write_input(data, size);
  h2k_error err = {0};
  h2k_image *img = h2k_image_open(path, FUZZ_FORMAT, &err);
  if (!img)
    return 0;
  uint64_t vsize = h2k_image_virtual_size(img);
  uint64_t end = vsize < READ_LIMIT ? vsize : READ_LIMIT;
  uint8_t *buf = malloc(READ_CHUNK);
  if (!buf)
    abort();
  for (uint64_t off = 0; off < end; off += READ_CHUNK) {
    size_t n = end - off < READ_CHUNK ? (size_t)(end - off) : READ_CHUNK;
    if (h2k_image_read(img, off, buf, n, &err) != 0)
      break;
  }
  free(buf);
  h2k_image_close(img);
  return 0;
}
