#!/bin/bash
# Disk tarballs (vhd / raw / ami commands): a plain disk, a disk in a tar
# (read in place), in a tar.gz or tar.xz (only the disk unpacked), a nested
# tar, metadata members ignored; broken and hostile tarballs refused.
. "$(dirname "$0")/lib.sh"
make_disks
qemu-img convert -f raw -O vpc "$WORK/d1.raw" "$WORK/disk.vhd"
qemu-img convert -f raw -O vhdx "$WORK/d2.raw" "$WORK/disk.vhdx"
cp "$WORK/d1.raw" "$WORK/disk.raw"
cp "$WORK/d2.raw" "$WORK/small.img"

# in_place LABEL SCENARIO DISK_REF REF_FMT FORMAT MEMBERS...: one disk read
# as a byte range of the tarball.
in_place() {
  local label=$1 scenario=$2 ref=$3 fmt=$4 format=$5 tb="$WORK/$1.tar"
  shift 5
  python3 "$GEN_OVA" "$scenario" "$tb" "$@"
  local before tree
  before=$(sha "$tb")
  tree=$(snapshot)
  probe "$label" --tarball "$tb"
  check "$label: opens" [ "$RC" -eq 0 ]
  check "$label: one disk, a range of the tarball" \
    grep -q "^disk 0: path=$tb format=$format offset=[1-9][0-9]* length=[1-9]" "$LOGS/$label.out"
  check "$label: disk matches" env REF_FMT="$fmt" bash -c "$(declare -f probe dump_matches); LOGS=$LOGS OVA_PROBE=$OVA_PROBE dump_matches $label 0 $ref --tarball $tb"
  check "$label: input unchanged" [ "$(sha "$tb")" = "$before" ]
  check "$label: nothing written" [ "$(snapshot)" = "$tree" ]
}

in_place tar-raw tar "$WORK/d1.raw" raw raw "$WORK/disk.raw"
in_place tar-meta tar-meta "$WORK/disk.vhd" vpc vpc "$WORK/disk.vhd"
in_place tar-nested tar-nested "$WORK/disk2.vmdk" vmdk vmdk "$WORK/disk2.vmdk"
in_place tar-two tar "$WORK/d1.raw" raw raw "$WORK/small.img" "$WORK/disk.raw"
check "tar-two: warns that the largest was chosen" \
  grep -q '^warning: .* holds 2 disk images; using the largest, "disk.raw"' "$LOGS/tar-two.out"
check "tar-nested: disk inside the inner tar" \
  python3 - "$WORK/tar-nested.tar" "$LOGS/tar-nested.out" <<'PY'
import re, sys, tarfile
outer = tarfile.open(sys.argv[1])
layer = outer.getmember("layer.tar")
inner = tarfile.open(fileobj=outer.extractfile(layer))
disk = inner.getmember("inner/disk2.vmdk")
want = (layer.offset_data + disk.offset_data, disk.size)
got = re.search(r"offset=(\d+) length=(\d+)", open(sys.argv[2]).read())
sys.exit(0 if (int(got.group(1)), int(got.group(2))) == want else 1)
PY

# unpacked LABEL SCENARIO DISK_REF REF_FMT NAME MEMBERS...: the disk is
# unpacked into the unpack directory, and nothing else is.
unpacked() {
  local label=$1 scenario=$2 ref=$3 fmt=$4 name=$5 tb="$WORK/$1.tarball" dir
  shift 5
  python3 "$GEN_OVA" "$scenario" "$tb" "$@"
  dir=$(fresh_unpack "$label")
  local before tree
  before=$(sha "$tb")
  tree=$(snapshot)
  probe "$label" --tarball --unpack "$dir" "$tb"
  check "$label: opens" [ "$RC" -eq 0 ]
  check "$label: disk unpacked" grep -q "^disk 0: path=$dir/$name " "$LOGS/$label.out"
  check "$label: only the disk unpacked" [ "$(ls -A "$dir")" = "$name" ]
  check "$label: disk matches" env REF_FMT="$fmt" bash -c "$(declare -f probe dump_matches); LOGS=$LOGS OVA_PROBE=$OVA_PROBE dump_matches $label 0 $ref --tarball --unpack $(fresh_unpack "$label-d") $tb"
  check "$label: input unchanged" [ "$(sha "$tb")" = "$before" ]
  check "$label: nothing written outside the unpack dir" [ "$(snapshot)" = "$tree" ]
}

unpacked tar-gz-vhd tar-gz "$WORK/disk.vhd" vpc disk.vhd "$WORK/disk.vhd"
check "tar-gz-vhd: unpacked disk is whole" grep -q "^disk 0: .* offset=0 length=0" "$LOGS/tar-gz-vhd.out"
unpacked tar-xz-vmdk tar-xz "$WORK/disk1.vmdk" vmdk disk1.vmdk "$WORK/disk1.vmdk"
unpacked tar-xz-meta tar-xz-meta "$WORK/disk.vhdx" vhdx disk.vhdx "$WORK/disk.vhdx"
unpacked tar-gz-two tar-gz "$WORK/d1.raw" raw disk.raw "$WORK/small.img" "$WORK/disk.raw"
check "tar-gz-two: warns" grep -q "holds 2 disk images" "$LOGS/tar-gz-two.out"
# A nested tar inside a tar.gz: the inner tar is unpacked, then read in place.
unpacked tar-gz-nested tar-gz-nested "$WORK/disk.vhd" vpc nested.tar "$WORK/disk.vhd"
check "tar-gz-nested: disk is a range of the unpacked tar" \
  grep -q "^disk 0: path=$WORK/unpack-tar-gz-nested/nested.tar format=vpc offset=[1-9]" "$LOGS/tar-gz-nested.out"

# A plain disk is its own model.
probe plain --tarball "$WORK/disk.vhd"
check "plain disk: opens" [ "$RC" -eq 0 ]
check "plain disk: the file itself" grep -q "^disk 0: path=$WORK/disk.vhd format=vpc offset=0 length=0" "$LOGS/plain.out"
check "plain disk: name" grep -qx "name: disk" "$LOGS/plain.out"

# refused SCENARIO PATTERN MEMBERS...: broken or hostile tarballs.
refused() {
  local scenario=$1 pattern=$2 tb="$WORK/$1.tarball" dir
  shift 2
  python3 "$GEN_OVA" "$scenario" "$tb" "$@"
  dir=$(fresh_unpack "$scenario")
  local tree
  tree=$(snapshot)
  probe "$scenario" --tarball --unpack "$dir" "$tb"
  check "$scenario: refused with exit 3" [ "$RC" -eq 3 ]
  if grep -q -- "$pattern" "$LOGS/$scenario.err"; then
    ok "$scenario: message ($(head -c 160 "$LOGS/$scenario.err"))"
  else
    echo "# expected /$pattern/ in: $(cat "$LOGS/$scenario.err")"
    not_ok "$scenario: message"
  fi
  check "$scenario: nothing written" [ "$(snapshot)" = "$tree" ]
  check "$scenario: unpack dir left empty" [ -z "$(ls -A "$dir")" ]
}

refused tar-gz-dotdot 'member "../disk.raw" .* has a ".." component' "$WORK/disk.raw"
refused tar-gz-truncated 'gzip data is truncated' "$WORK/disk.raw"
refused tar-sparse 'member "sparse.raw" .* is a GNU sparse file' "$WORK/disk.raw"
refused tar-nodisk 'holds no disk image .*"metadata.json"' "$WORK/disk.raw"

# A compressed tarball without an unpack directory.
probe nodir --tarball "$WORK/tar-gz-vhd.tarball"
check "tar.gz without unpack dir: refused" [ "$RC" -ne 0 ]
check "tar.gz without unpack dir: says why" grep -q "no unpack directory" "$LOGS/nodir.err"

finish
