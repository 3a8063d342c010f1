/* A small read-only NBD server over an h2k_image.
 *
 * The INSPECT/FIX stages run a libguestfs appliance (qemu) on a qcow2
 * overlay whose backing file is the source disk. qemu cannot read every
 * source our engine reads (a VMDK inside an OVA at a byte offset, VHD/VHDX
 * differencing chains), so we export the engine's view of the disk over NBD
 * on a Unix socket and point the overlay at `nbd+unix:///?socket=PATH`
 * (format raw).
 *
 * Protocol subset: fixed newstyle handshake (NBD_OPT_GO, NBD_OPT_INFO,
 * NBD_OPT_EXPORT_NAME, NBD_OPT_LIST, NBD_OPT_ABORT; every other option is
 * answered NBD_REP_ERR_UNSUP so clients fall back to simple replies), one
 * export whatever name the client asks for, and the commands READ, FLUSH
 * (no-op) and DISC. Writes, trims and zeroing are refused with EPERM.
 */
#ifndef H2K_NBD_NBD_SERVER_H
#define H2K_NBD_NBD_SERVER_H

#include "core/error.h"
#include "image/image.h"

typedef struct h2k_nbd_server h2k_nbd_server;

/* Serve `img` (not owned; must outlive the server) read-only on a new Unix
 * socket at `socket_path` (created; error if it exists). Serves in
 * background threads (one accepting, one per connection) until stopped;
 * several clients may connect at once. */
h2k_nbd_server *h2k_nbd_serve(h2k_image *img, const char *socket_path,
                              h2k_error *err);

/* "nbd+unix:///?socket=PATH" with PATH absolute and percent-encoded where
 * needed (owned by the server). */
const char *h2k_nbd_uri(const h2k_nbd_server *s);

/* Stop accepting, close every connection, join threads, unlink the socket.
 * Safe on NULL. */
void h2k_nbd_stop(h2k_nbd_server *s);

#endif
