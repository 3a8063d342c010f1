/* image.c refers to the VMDK driver through a weak symbol, which does not
 * pull vmdk.o out of the static library. This strong reference does, for
 * the test build of imgtool. */
#include "image/image.h"

const struct h2k_image_driver *const h2k_test_force_vmdk = &h2k_driver_vmdk;
