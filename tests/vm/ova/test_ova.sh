#!/bin/bash
# Valid OVAs: read in place (byte ranges into the .ova), manifests in the
# forms ovftool and sha*sum write, gzip and chunked disks unpacked, pax and
# GNU long names, an OVA in a sub-directory of the tar, an extracted OVA.
. "$(dirname "$0")/lib.sh"
make_disks

# in_place LABEL SCENARIO MANIFEST: two disks read in place from the .ova.
in_place() {
  local label=$1 scenario=$2 manifest=$3 ova="$WORK/$1.ova"
  python3 "$GEN_OVA" "$scenario" "$ova" "$WORK/disk1.vmdk" "$WORK/disk2.vmdk"
  local before
  before=$(sha "$ova")
  probe "$label" "$ova"
  check "$label: opens" [ "$RC" -eq 0 ]
  check "$label: manifest $manifest" grep -qx "manifest: $manifest" "$LOGS/$label.out"
  check "$label: two disks" grep -qx "disks: 2" "$LOGS/$label.out"
  check "$label: disks are ranges of the .ova" \
    [ "$(grep -c "^disk [01]: path=$ova format=vmdk offset=[1-9][0-9]* length=[1-9]" "$LOGS/$label.out")" -eq 2 ]
  check "$label: disk 0 matches" dump_matches "$label" 0 "$WORK/d1.raw" "$ova"
  check "$label: disk 1 matches" dump_matches "$label" 1 "$WORK/d2.raw" "$ova"
  check "$label: input unchanged" [ "$(sha "$ova")" = "$before" ]
}

in_place sha256 ova-sha256 verified
in_place sha1 ova-sha1 verified
in_place spaced ova-spaced verified
in_place sha256sum ova-sum verified
in_place pax ova-pax verified
in_place gnu ova-gnu verified
in_place subdir ova-subdir verified
in_place nomf ova-nomf absent
check "nomf: warns about the missing manifest" \
  grep -q "^warning: .*has no manifest" "$LOGS/nomf.out"

# The member offsets are the ones python's tarfile reports.
check "sha256: offsets agree with tarfile" python3 - "$WORK/sha256.ova" "$LOGS/sha256.out" <<'PY'
import re, sys, tarfile
want = {m.name: (m.offset_data, m.size) for m in tarfile.open(sys.argv[1])}
for line in open(sys.argv[2]):
    m = re.match(r"disk \d+: .*offset=(\d+) length=(\d+) .*href=(\S+)", line)
    if m and want[m.group(3)] != (int(m.group(1)), int(m.group(2))):
        sys.exit("%s: %s != %s" % (m.group(3), m.groups()[:2], want[m.group(3)]))
PY

# unpacked LABEL SCENARIO: disks unpacked into the unpack directory.
unpacked() {
  local label=$1 scenario=$2 ova="$WORK/$1.ova" dir
  dir=$(fresh_unpack "$label")
  python3 "$GEN_OVA" "$scenario" "$ova" "$WORK/disk1.vmdk" "$WORK/disk2.vmdk"
  local before
  before=$(sha "$ova")
  probe "$label" --unpack "$dir" "$ova"
  check "$label: opens" [ "$RC" -eq 0 ]
  check "$label: manifest verified" grep -qx "manifest: verified" "$LOGS/$label.out"
  check "$label: disks unpacked into the unpack dir" \
    [ "$(grep -c "^disk [01]: path=$dir/disk[12].vmdk format=vmdk offset=0 length=0 gzip=0 chunks=0" "$LOGS/$label.out")" -eq 2 ]
  check "$label: unpacked disk 1 is the VMDK" cmp -s "$dir/disk1.vmdk" "$WORK/disk1.vmdk"
  check "$label: disk 0 matches" dump_matches "$label" 0 "$WORK/d1.raw" --unpack "$(fresh_unpack "$label-0")" "$ova"
  check "$label: disk 1 matches" dump_matches "$label" 1 "$WORK/d2.raw" --unpack "$(fresh_unpack "$label-1")" "$ova"
  check "$label: input unchanged" [ "$(sha "$ova")" = "$before" ]
}

unpacked gzip ova-gzip
unpacked chunked ova-chunked
unpacked chunked-gzip ova-chunked-gzip

# A gzip disk without an unpack directory is refused clearly.
probe "gzip-nodir" "$WORK/gzip.ova"
check "gzip without unpack dir: refused" [ "$RC" -ne 0 ]
check "gzip without unpack dir: says why" grep -q "no unpack directory" "$LOGS/gzip-nodir.err"

# An OVA extracted into a directory: plain files, nothing written there.
python3 "$GEN_OVA" ova-dir "$WORK/extracted" "$WORK/disk1.vmdk" "$WORK/disk2.vmdk"
listing=$(ls -la --time-style=+%s "$WORK/extracted")
probe "dir" "$WORK/extracted"
check "directory: opens" [ "$RC" -eq 0 ]
check "directory: manifest verified" grep -qx "manifest: verified" "$LOGS/dir.out"
check "directory: disks are the plain files" \
  grep -q "^disk 1: path=$WORK/extracted/disk2.vmdk format=vmdk offset=0 length=0" "$LOGS/dir.out"
check "directory: disk 0 matches" dump_matches dir 0 "$WORK/d1.raw" "$WORK/extracted"
check "directory: nothing written into it" [ "$(ls -la --time-style=+%s "$WORK/extracted")" = "$listing" ]

# The model itself comes from the OVF.
check "model: name from the OVF" grep -qx "name: rhel9" "$LOGS/sha256.out"
check "model: capacity from the OVF" grep -q "^disk 0: .*capacity=67108864 " "$LOGS/sha256.out"

finish
