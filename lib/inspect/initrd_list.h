/* List the paths in a Linux initramfs image without running the guest's
 * lsinitramfs / lsinitrd (which INSPECT would otherwise have to run under
 * emulation), e.g. to see whether virtio_blk.ko is in it.
 *
 * The image is read the way the kernel unpacker reads it
 * (Documentation/driver-api/early-userspace/buffer-format.rst): a
 * concatenation of segments, each an uncompressed cpio archive or a
 * compressed stream holding one or more cpio archives, with zero bytes
 * allowed between segments and between archives. Supported: uncompressed
 * cpio (newc "070701" and crc "070702"), gzip, zstd, xz and legacy .lzma.
 * Back-to-back members of one compression (gzip members, zstd frames,
 * skippable frames included, xz streams) form one decompressed stream, as
 * `gzip -dc` / `zstd -dc` / `xz -dc` read them. bzip2, lz4, lzo, odc and old
 * binary cpio are refused by name.
 *
 * Decompressed data is streamed through a small state machine in 64 KiB
 * chunks; file contents are skipped, never stored. */
#ifndef H2K_INSPECT_INITRD_LIST_H
#define H2K_INSPECT_INITRD_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Longest entry name accepted, its terminating NUL included (the kernel's
 * PATH_MAX). */
#define H2K_INITRD_NAME_MAX 4096
/* Refuse images whose listing would grow beyond this (real ones: < 1 MiB). */
#define H2K_INITRD_LISTING_MAX ((size_t)64 << 20)
/* Refuse images that decompress to more than this in total (real ones:
 * 30-500 MiB): bounds the time a decompression bomb takes (a few
 * seconds). */
#define H2K_INITRD_UNPACKED_MAX ((uint64_t)2 << 30)
/* Largest decoder window / dictionary accepted for zstd, xz and lzma. */
#define H2K_INITRD_DECODER_MEM ((uint64_t)256 << 20)

/* List every path of the initramfs image data[0..len) into `*listing`
 * (malloc'ed, NUL-terminated; free() it): one path per line, each ended by
 * '\n', in archive order, the way `lsinitramfs` (`cpio -t
 * --no-absolute-filenames`) prints them: leading "/" and "./" are removed,
 * the archive's root entry prints as "." and the "TRAILER!!!" entries are
 * not listed, e.g. "usr/lib/modules/6.1.0-18-amd64/kernel/drivers/block/
 * virtio_blk.ko". Unlike lsinitramfs, every archive of a compressed segment
 * is listed (the kernel unpacks them all; `cpio -t` stops at the first).
 *
 * Returns 0, or -1 with `err` set (H2K_E_INPUT, H2K_E_FAIL when out of
 * memory) saying what is wrong and at which byte offset: an empty image, an
 * image without any cpio archive, a truncated or corrupt segment, a bad cpio
 * header, an unsupported compression (named) or cpio format, a name longer
 * than H2K_INITRD_NAME_MAX or holding a newline, or non-zero data that is
 * neither cpio nor a known compressed stream: the kernel refuses such
 * trailing junk too ("invalid magic at start of compressed archive"), so it
 * is an error here, wherever it is, even after the last segment. Zero bytes
 * after the last segment are fine. */
int h2k_initrd_list(const uint8_t *data, size_t len, char **listing,
                    h2k_error *err);

#endif
