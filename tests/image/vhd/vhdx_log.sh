#!/bin/bash
# A VHDX with a dirty log (crafted): we replay it in memory; the oracle is
# qemu's own replay (`qemu-img check -r all` on a copy). A log whose active
# sequence is broken is refused with a clear message.
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f vhdx -o block_size=1M d.vhdx 20M
qio vhdx d.vhdx -c 'write -P 0x11 0 6M' -c 'write -P 0x12 12M 1M'
mkvhd vhdx-dirty d.vhdx dirty.vhdx
sum_before=$(sha256sum dirty.vhdx)

cp dirty.vhdx q.vhdx
qemu-img check -q -r all q.vhdx >/dev/null 2>&1 || true
qemu-img convert -f vhdx -O raw q.vhdx want.raw
qemu-img convert -f vhdx -O raw d.vhdx clean.raw
cmp -s want.raw clean.raw && fail "the crafted log changes nothing"

expect_compare dirty.vhdx want.raw
[ "$(sha256sum dirty.vhdx)" = "$sum_before" ] || fail "the source was modified"
ok "source untouched by the replay"

mkvhd vhdx-dirty d.vhdx broken.vhdx --broken
expect_fail "VHDX log" "$IMGTOOL" info broken.vhdx
expect_fail "qemu-img check -r all" "$IMGTOOL" convert -O raw broken.vhdx out.raw
finish
