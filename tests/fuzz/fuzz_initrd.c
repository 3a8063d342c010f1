/* libFuzzer harness for the pure initramfs lister: the input is the image
 * (cpio, gzip / zstd / xz / lzma streams, or their concatenation). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/initrd_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *listing = NULL;
  h2k_error err = {0};
  if (h2k_initrd_list(data, size, &listing, &err) == 0) {
    if (!listing)
      abort();
    /* One path per line: the listing ends with a newline when not empty. */
    size_t n = strlen(listing);
    if (n && listing[n - 1] != '\n')
      abort();
  } else if (listing || !err.message[0]) {
    abort();
  }
  free(listing);
  return 0;
}
