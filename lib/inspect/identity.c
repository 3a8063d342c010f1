#include <stdlib.h>
#include <string.h>

#include "inspect/identity.h"

void h2k_identity_free(h2k_guest_identity *id) {
  if (!id)
    return;
  free(id->distro);
  free(id->product_name);
  free(id->arch);
  free(id->hostname);
  free(id->package_format);
  free(id->package_manager);
  free(id->root_device);
  for (size_t i = 0; i < id->n_kernels; i++) {
    free(id->kernels[i].version);
    free(id->kernels[i].initrd);
  }
  free(id->kernels);
  memset(id, 0, sizeof *id);
}
