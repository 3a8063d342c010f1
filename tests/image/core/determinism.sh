#!/bin/bash
# Same input and options give byte-identical output, whatever the number of
# threads; --sha256 is the SHA-256 of the output file.
source "$(dirname "$0")/common.sh"
cd "$WORK"

# ~20 MiB of mixed data: compressible patterns, random data, text, zeros,
# spread over many work units.
truncate -s 72M src.raw
qemu-io -f raw -c 'write -P 0x61 0 9M' -c 'write -P 0x62 33M 5M' \
  -c 'write -P 0x63 71M 1M' src.raw >/dev/null
head -c 3M /dev/urandom | dd of=src.raw bs=1M seek=12 conv=notrunc status=none
seq 1 1000000 >seq.txt
dd if=seq.txt of=src.raw bs=1M count=6 seek=50 conv=notrunc status=none
qemu-img convert -c -O qcow2 src.raw src.qcow2

for args in "" "-c" "-c --compress-type zstd" "-s 4096 -c" "-O raw" \
  "-s 2097152 -c --compress-level 1"; do
  for src in src.raw src.qcow2; do
    sums=()
    for t in 1 4 2; do
      rm -f out
      # shellcheck disable=SC2086
      printed=$("$IMGTOOL" convert --sha256 -t "$t" $args "$src" out 2>log) ||
        die "convert $args -t $t: $(cat log)"
      actual=$(sha256sum out | cut -d' ' -f1)
      [[ $printed == "$actual" ]] ||
        die "--sha256 printed $printed, file has $actual"
      pass
      sums+=("$actual")
    done
    for s in "${sums[@]}"; do
      [[ $s == "${sums[0]}" ]] ||
        die "$src $args: outputs differ across runs/threads: ${sums[*]}"
      pass
    done
    same_image "$src" out
  done
done

finish
