/* libFuzzer harness for the VMDK reader: the input is a monolithic VMDK
 * (hosted sparse / streamOptimized, COWD, or a text descriptor). It is
 * written to a private temporary directory (so extent and parent names
 * resolve to files that do not exist there), opened as VMDK and read
 * through the whole chain, up to a bound that keeps each run fast. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hyper2kvm.h"

#define READ_CHUNK (256u * 1024)
#define READ_LIMIT (UINT64_C(64) << 20)

static char dir[64];
static char path[96];

static void cleanup(void) {
  unlink(path);
  rmdir(dir);
}

static int write_input(const uint8_t *data, size_t size) {
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/fuzz_vmdk.XXXXXX");
    if (!mkdtemp(dir))
      abort();
    snprintf(path, sizeof path, "%s/disk.vmdk", dir);
    atexit(cleanup);
  }
  FILE *f = fopen(path, "wb");
  if (!f)
    abort();
  size_t n = size ? fwrite(data, 1, size, f) : 0;
  if (fclose(f) != 0 || n != size)
    abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  write_input(data, size);
  h2k_error err = {0};
  h2k_image *img = h2k_image_open(path, "vmdk", &err);
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
  /* A read crossing the end must fail, not crash. */
  h2k_image_read(img, vsize ? vsize - 1 : 0, buf, 2, &err);
  free(buf);
  h2k_image_close(img);
  return 0;
}
