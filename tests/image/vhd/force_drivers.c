/* image.c refers to the VHD/VHDX drivers weakly, and a weak reference does
 * not pull an object out of a static library: without this strong
 * reference, programs linked against h2k_internal.a would probe VHD/VHDX
 * images as raw. Linked into the test copy of imgtool. */
#include "image/image.h"

const struct h2k_image_driver *const h2k_vhd_test_drivers[] = {
    &h2k_driver_vpc, &h2k_driver_vhdx};
