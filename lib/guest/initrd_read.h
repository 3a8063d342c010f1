/* The paths an initramfs in the guest holds (see initrd_read.c). */
#ifndef H2K_GUEST_INITRD_READ_H
#define H2K_GUEST_INITRD_READ_H

#include "core/error.h"
#include "guest/appliance.h"

/* One path a line, as lsinitramfs prints them. Read on the host; when the
 * image's compression is one the host lister does not read, `guest_cmd`
 * (the guest's lsinitramfs / lsinitrd, or NULL: none) lists it instead.
 * NULL + err when neither can. */
char *h2k_guest_list_initrd(h2k_appliance *a, const char *initrd,
                            const char *guest_cmd, h2k_error *err);

#endif
