/* libFuzzer harness for the tar / OVA / tarball readers: the input is
 * written to a private file and opened as an OVA and as a disk tarball
 * (compressed members are refused: no unpack directory is given). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vm/ova.h"

static char path[128];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!path[0]) {
    char dir[] = "/tmp/h2k-fuzz-tar.XXXXXX";
    if (!mkdtemp(dir))
      abort();
    snprintf(path, sizeof path, "%s/in.ova", dir);
  }
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
    abort();
  h2k_error err = {0};
  h2k_ova_opts o = {.verify_manifest = true};
  h2k_vm_free(h2k_ova_open(path, &o, &err));
  h2k_vm_free(h2k_tarball_open(path, NULL, &err));
  return 0;
}
