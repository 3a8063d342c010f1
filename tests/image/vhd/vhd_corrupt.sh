#!/bin/bash
# Corrupt VHD/VHDX images: non-zero exit and a message naming the problem.
. "$(dirname "$0")/lib.sh"

fresh_vhd() {
  qemu-img create -q -f vpc "$1" 16M ${2:+-o $2}
  qio vpc "$1" -c 'write -P 0x5a 0 3M'
}
fresh_vhdx() {
  qemu-img create -q -f vhdx -o block_size=1M "$1" 16M
  qio vhdx "$1" -c 'write -P 0x5a 0 3M'
}
u64be() { python3 -c "import struct,sys;d=open('$1','rb').read();print(struct.unpack_from('>Q',d,$2)[0])"; }

# -- VHD --
fresh_vhd trunc.vhd
truncate -s 100000 trunc.vhd
expect_fail "VHD BAT entry" "$IMGTOOL" convert -O raw trunc.vhd o.raw

fresh_vhd tiny.vhd
truncate -s 300 tiny.vhd
expect_fail "too small" "$IMGTOOL" info -f vpc tiny.vhd

fresh_vhd fixed.vhd subformat=fixed
truncate -s 8M fixed.vhd
expect_fail "no VHD footer" "$IMGTOOL" info -f vpc fixed.vhd

fresh_vhd sum.vhd
size=$(stat -c %s sum.vhd)
mkvhd poke sum.vhd $((size - 512 + 40)) ff
mkvhd poke sum.vhd 40 ff
expect_fail "VHD footer checksum mismatch" "$IMGTOOL" info sum.vhd

# Only the trailing footer broken: the copy at offset 0 still works.
fresh_vhd tail.vhd
qemu-img convert -f vpc -O raw tail.vhd tail.want
mkvhd poke tail.vhd $(($(stat -c %s tail.vhd) - 512 + 40)) ff
expect_compare tail.vhd tail.want

fresh_vhd dh.vhd
mkvhd poke dh.vhd $((512 + 100)) ff
expect_fail "dynamic header checksum mismatch" "$IMGTOOL" info dh.vhd

fresh_vhd bat.vhd
bat=$(u64be bat.vhd $((512 + 16)))
mkvhd poke bat.vhd "$bat" 7fffff00
expect_fail "VHD BAT entry 0" "$IMGTOOL" convert -O qcow2 bat.vhd o.qcow2

fresh_vhd big.vhd
mkvhd vhd-set big.vhd size 0x100000000000000
expect_fail "over the limit" "$IMGTOOL" info big.vhd
fresh_vhd batsmall.vhd
mkvhd vhd-set batsmall.vhd size 1T
expect_fail "too few" "$IMGTOOL" info batsmall.vhd

fresh_vhd type.vhd
mkvhd vhd-set type.vhd type 9
expect_fail "unknown VHD disk type 9" "$IMGTOOL" info type.vhd

# -- VHDX --
fresh_vhdx t.vhdx
truncate -s 250000 t.vhdx
expect_fail "region" "$IMGTOOL" info t.vhdx

fresh_vhdx h.vhdx
mkvhd poke h.vhdx $((65536 + 200)) ff
mkvhd poke h.vhdx $((131072 + 200)) ff
expect_fail "VHDX header CRC-32C mismatch" "$IMGTOOL" info h.vhdx

fresh_vhdx r.vhdx
mkvhd poke r.vhdx $((192 * 1024 + 300)) ff
mkvhd poke r.vhdx $((256 * 1024 + 300)) ff
expect_fail "region table CRC-32C mismatch" "$IMGTOOL" info r.vhdx

# BAT entry 0 pointing far past the end (BAT region at 2 MiB for qemu).
fresh_vhdx b.vhdx
mkvhd poke b.vhdx $((2 * 1048576)) 06000000f0ff0000
expect_fail "payload block is outside the file" "$IMGTOOL" convert -O raw b.vhdx o.raw
fresh_vhdx s.vhdx
mkvhd poke s.vhdx $((2 * 1048576)) 0400000000000000
expect_fail "invalid payload block state" "$IMGTOOL" info s.vhdx

# Absurd virtual disk size (metadata items are not checksummed).
fresh_vhdx z.vhdx
moff=$(python3 - <<'PY'
import struct, uuid
d = open("z.vhdx", "rb").read()
meta = 3 << 20
want = uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8").bytes_le
for i in range(struct.unpack_from("<H", d, meta + 10)[0]):
    e = meta + 32 + 32 * i
    if d[e:e + 16] == want:
        print(meta + struct.unpack_from("<I", d, e + 16)[0])
PY
)
mkvhd poke z.vhdx "$moff" 0000000000000001
expect_fail "invalid VHDX virtual disk size" "$IMGTOOL" info z.vhdx
mkvhd poke z.vhdx "$moff" 0000000000400000
expect_fail "too small for" "$IMGTOOL" info z.vhdx
finish
