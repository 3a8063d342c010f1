#!/bin/bash
# The tool itself reads every source format (the drivers are linked in) and
# its convert/info commands agree with qemu-img.
H2K=$1
. "$(dirname "$0")/lib.sh"

qemu-img create -q -f raw src.raw 48M
qemu-io -f raw -c 'write -P 0x5a 1M 3M' -c 'write -P 0x3c 30M 1M' src.raw >/dev/null
declare -A cmd_of=([vmdk]=local [vhd]=vhd [vhdx]=vhd [img]=raw [qcow2]=local)
qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized src.raw so.vmdk
qemu-img convert -q -f raw -O vmdk -o subformat=monolithicSparse src.raw ms.vmdk
qemu-img convert -q -f raw -O vpc -o subformat=dynamic src.raw dyn.vhd
qemu-img convert -q -f raw -O vhdx src.raw dyn.vhdx
cp src.raw plain.img
for f in so.vmdk ms.vmdk dyn.vhd dyn.vhdx plain.img; do
  ext=${f##*.}
  run "$H2K" info --json "$f"
  expect_rc 0 "info $f"
  want=$(qemu-img info --output=json "$f" | python3 -c 'import json,sys;print(json.load(sys.stdin)["format"])')
  python3 - "$T/.out" "$want" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
layer = d[0] if isinstance(d, list) else d
fmt = layer.get("format") or layer.get("layers", [{}])[0].get("format")
assert fmt == sys.argv[2], (fmt, sys.argv[2], d)
PY
  run "$H2K" "${cmd_of[$ext]}" "$f" -o out
  expect_rc 0 "${cmd_of[$ext]} $f"
  stem=${f%.*}
  qemu-img compare -q src.raw "out/$stem/$stem.qcow2" || fail "$f: output differs"
  run "$H2K" convert "$f" "conv-$stem.qcow2" -c --compress-type zstd
  expect_rc 0 "convert $f"
  qemu-img compare -q src.raw "conv-$stem.qcow2" || fail "convert $f differs"
  qemu-img check -q "conv-$stem.qcow2" || fail "check conv-$stem"
done
pass "info/local/vhd/raw/convert on vmdk, vhd, vhdx and raw"
run "$H2K" convert so.vmdk out.raw -O raw
expect_rc 0 "convert to raw"
cmp src.raw out.raw || fail "raw output differs"
run "$H2K" convert so.vmdk x.raw -O raw -c
expect_rc 2 "compress with raw"
pass "raw output; -c with raw refused"

# Disks inside tarballs: an uncompressed tar is read in place, a compressed
# one is unpacked into the job's private directory and removed afterwards.
tar -cf vhdpack.tar dyn.vhd
tar -cJf rawpack.tar.xz plain.img
run "$H2K" vhd vhdpack.tar -o tout
expect_rc 0 "vhd in tar"
qemu-img compare -q src.raw tout/vhdpack/vhdpack.qcow2 || fail "vhd in tar differs"
run "$H2K" raw rawpack.tar.xz -o tout
expect_rc 0 "raw in tar.xz"
qemu-img compare -q src.raw tout/rawpack/rawpack.qcow2 || fail "raw in tar.xz differs"
[ -z "$(find "$HOME/.cache/hyper2kvm/conversions" -type f -name '*.img' 2>/dev/null)" ] || fail "unpacked disk left behind"
pass "vhd in .tar (in place) and raw in .tar.xz (unpacked, then cleaned up)"

# A file whose type names the command needs no command.
run "$H2K" dyn.vhdx -o implicit
expect_rc 0 "implicit command"
qemu-img compare -q src.raw implicit/dyn/dyn.qcow2 || fail "implicit vhd"
run "$H2K" nosuch.vmdk
expect_rc 2 "missing file is not a command"
pass "hyper2kvm FILE infers the command from the extension"
