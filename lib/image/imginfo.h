/* `info`: describe an image and its backing chain, as text or JSON. */
#ifndef H2K_IMAGE_IMGINFO_H
#define H2K_IMAGE_IMGINFO_H

#include <stdbool.h>
#include <stdio.h>

#include "image/image.h"

/* Print format, subformat, virtual size, allocated bytes and path of every
 * layer of the chain, top first. JSON output is an array with one object
 * per layer. */
int h2k_image_info_print(h2k_image *img, FILE *out, bool json, h2k_error *err);

#endif
