#!/bin/bash
# Hostile and broken OVAs: each refused with H2K_E_INPUT (exit 3) and a
# message naming the member; nothing written outside the unpack directory
# (nor inside it), the input unchanged.
. "$(dirname "$0")/lib.sh"
make_disks

# refused SCENARIO PATTERN [probe args]: the reader refuses the package.
refused() {
  local scenario=$1 pattern=$2 ova="$WORK/$1.ova" dir
  shift 2
  python3 "$GEN_OVA" "$scenario" "$ova" "$WORK/disk1.vmdk" "$WORK/disk2.vmdk"
  dir=$(fresh_unpack "$scenario")
  local before tree
  before=$(sha "$ova")
  tree=$(snapshot)
  probe "$scenario" --unpack "$dir" "$@" "$ova"
  check "$scenario: refused with exit 3" [ "$RC" -eq 3 ]
  if ! grep -q -- "$pattern" "$LOGS/$scenario.err"; then
    echo "# expected /$pattern/ in: $(cat "$LOGS/$scenario.err")"
    not_ok "$scenario: message"
  else
    ok "$scenario: message ($(head -c 160 "$LOGS/$scenario.err"))"
  fi
  check "$scenario: input unchanged" [ "$(sha "$ova")" = "$before" ]
  check "$scenario: nothing written outside the unpack dir" [ "$(snapshot)" = "$tree" ]
  check "$scenario: unpack dir left empty" [ -z "$(ls -A "$dir")" ]
}

refused ova-dotdot 'member "../evil" .* has a ".." component'
refused ova-dotdot-inner 'member "a/../../evil" .* has a ".." component'
refused ova-abs 'member "/abs" .* is an absolute path'
refused ova-symlink 'member "link.vmdk" .* is a symbolic link'
refused ova-hardlink 'member "hard.vmdk" .* is a hard link'
refused ova-device 'member "dev" .* is a character device'
refused ova-fifo 'member "fifo" .* is a FIFO'
refused ova-dup 'member "./disk2.vmdk" .* appears twice'
refused ova-mismatch 'SHA256 of "disk1.vmdk" does not match manifest rhel9.mf: expected [0-9a-f]\{64\}, actual [0-9a-f]\{64\}'
refused ova-missing 'manifest rhel9.mf lists "disk2.vmdk", which is missing'
refused ova-truncated 'member "disk2.vmdk" .* truncated archive'
refused ova-badsum 'bad tar header checksum at offset'
refused ova-two-ovf 'holds 2 .ovf files'
refused ova-no-ovf 'holds no .ovf descriptor'
# A gzip disk whose manifest does not match is refused before unpacking.
python3 "$GEN_OVA" ova-gzip "$WORK/gz-ok.ova" "$WORK/disk1.vmdk"
python3 - "$WORK/gz-ok.ova" "$WORK/ova-gzip-mismatch.ova" <<'PY'
import io, sys, tarfile
src = tarfile.open(sys.argv[1])
with tarfile.open(sys.argv[2], "w", format=tarfile.USTAR_FORMAT) as out:
    for m in src:
        data = src.extractfile(m).read()
        if m.name.endswith(".vmdk"):
            data = data[:-9] + bytes([data[-9] ^ 1]) + data[-8:]
        out.addfile(m, io.BytesIO(data))
PY
dir=$(fresh_unpack gzmm)
probe "gzmm" --unpack "$dir" "$WORK/ova-gzip-mismatch.ova"
check "gzip mismatch: refused" [ "$RC" -eq 3 ]
check "gzip mismatch: nothing unpacked" [ -z "$(ls -A "$dir")" ]

# --no-verify-manifest: the mismatching package is accepted, with a warning.
probe "noverify" --no-verify "$WORK/ova-mismatch.ova"
check "no-verify: accepted" [ "$RC" -eq 0 ]
check "no-verify: manifest skipped" grep -qx "manifest: skipped" "$LOGS/noverify.out"
check "no-verify: warning" grep -q "^warning: manifest rhel9.mf .* not verified" "$LOGS/noverify.out"
check "no-verify: disk still readable" dump_matches noverify 0 "$WORK/d1.raw" --no-verify "$WORK/ova-mismatch.ova"
# ... but unsafe members are refused even then.
probe "noverify-dotdot" --no-verify "$WORK/ova-dotdot.ova"
check "no-verify: unsafe names still refused" [ "$RC" -eq 3 ]

# An extracted OVA whose manifest does not match.
python3 "$GEN_OVA" ova-dir-mismatch "$WORK/extracted-bad" "$WORK/disk1.vmdk" "$WORK/disk2.vmdk"
probe "dirmm" "$WORK/extracted-bad"
check "directory mismatch: refused" [ "$RC" -eq 3 ]
check "directory mismatch: message" grep -q 'SHA256 of "disk1.vmdk" does not match' "$LOGS/dirmm.err"
probe "dirmm-nv" --no-verify "$WORK/extracted-bad"
check "directory mismatch, no-verify: accepted" [ "$RC" -eq 0 ]

# Not an OVA at all.
printf 'not a tar archive at all\n' >"$WORK/junk.ova"
probe "junk" "$WORK/junk.ova"
check "junk: refused with exit 3" [ "$RC" -eq 3 ]
python3 "$GEN_OVA" ova-sha256 "$WORK/plain.ova" "$WORK/disk1.vmdk"
gzip -c "$WORK/plain.ova" >"$WORK/gz.ova"
probe "gzova" "$WORK/gz.ova"
check "gzip-compressed .ova: refused clearly" grep -q "gzip-compressed file, not an OVA tar" "$LOGS/gzova.err"

finish
