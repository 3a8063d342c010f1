#!/bin/bash
# VALIDATE through the CLI, without booting anything: --no-validate, a
# missing QEMU, a disk with nothing to boot, a dry run, and the pipeline's
# handling of a passed and a failed verdict, with a fake qemu-system-x86_64
# and qemu-img in PATH (shell scripts that play a guest on the serial log
# and the packet dump). Real boots: test_guest_boot.sh (suite guest).
# Usage: test_cli_validate.sh HYPER2KVM SCHEMA VALIDATE_METADATA_PY
H2K=$1
SCHEMA=$(realpath "$2")
VALIDATE_PY=$(realpath "$3")
source "$(dirname "$0")/../cli/lib.sh"
unset HYPER2KVM_VALIDATE # lib.sh turns validation off for the other tests

command -v python3 >/dev/null || fail "python3 missing"

# jload FILE: the fields the checks read, as shell variables (one python3
# start per file: python3 is slow to start on a busy machine)
jload() {
  eval "$(python3 - "$1" <<'PY'
import json, shlex, sys
d = json.load(open(sys.argv[1]))
v = d.get("validation") or {}
def out(name, val):
    if isinstance(val, bool):
        val = "true" if val else "false"
    print("%s=%s" % (name, shlex.quote("" if val is None else str(val))))
out("J_STATUS", d.get("status"))
out("J_EXIT", d.get("exit_code"))
out("J_STAGE", d["stages"][6]["status"])
out("J_WARNINGS", "\n".join(d.get("warnings", [])))
for k in ("status", "boot", "network", "mac", "reason", "serial_log",
          "accelerator"):
    out("V_" + k.upper(), v.get(k))
PY
)"
}

# a disk whose first sector ends in 0x55AA (an MBR), and a blank one
make_disk "$T/blank.qcow2" 16M
make_disk "$T/boot.qcow2" 16M
qemu-io -f qcow2 -c 'write -P 0x55 510 1' -c 'write -P 0xaa 511 1' "$T/boot.qcow2" >/dev/null

# --- fake tools -------------------------------------------------------------
mkdir -p "$T/fake"
cat >"$T/fake/qemu-system-x86_64" <<'EOF'
#!/bin/bash
serial= pcap= mac=
for a in "$@"; do
  case "$a" in
    file,id=s0,path=*) serial="${a#file,id=s0,path=}" ;;
    filter-dump,*) pcap="${a##*,file=}" ;;
    virtio-net-pci,*) mac="${a#*mac=}"; mac="${mac%%,*}" ;;
  esac
done
printf '%s\n' "$@" >"$FAKE_DIR/args"
echo $$ >"$FAKE_DIR/pid"
case "$FAKE_MODE" in
  alert)
    printf 'Begin: Running /scripts/local-block ... done.\r\nGave up waiting for root file system device.\r\nALERT!  /dev/sda1 does not exist.  Dropping to a shell!\r\n(initramfs) ' >"$serial" ;;
  login-dhcp)
    python3 - "$pcap" "$mac" <<'PY'
import struct, sys
mac = bytes.fromhex(sys.argv[2].replace(":", ""))
bootp = bytearray(300)
bootp[0:3] = b"\x01\x01\x06"
bootp[28:34] = mac
bootp[236:240] = b"\x63\x82\x53\x63"
bootp[240:244] = b"\x35\x01\x01\xff"  # DHCP DISCOVER
udp = struct.pack(">HHHH", 68, 67, 8 + len(bootp), 0) + bootp
ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                 b"\0\0\0\0", b"\xff\xff\xff\xff") + udp
frame = b"\xff" * 6 + mac + b"\x08\x00" + ip
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame)
PY
    printf 'Debian GNU/Linux 12 web01 ttyS0\r\n\r\nweb01 login: ' >"$serial" ;;
esac
exec sleep 600
EOF
cat >"$T/fake/qemu-img" <<'EOF'
#!/bin/bash
for a in "$@"; do last="$a"; done
: >"$last"
EOF
chmod +x "$T/fake/qemu-system-x86_64" "$T/fake/qemu-img"
export FAKE_DIR="$T/fake"
FAKEPATH="$T/fake:$PATH"

# --- --no-validate ------------------------------------------------------------
run "$H2K" local "$T/boot.qcow2" -o "$T/o1" --no-validate
expect_rc 0 "--no-validate"
R="$T/o1/boot/report.json"
jload "$R"
[ "$J_STAGE" = skipped ] || fail "--no-validate: stage not skipped"
[ "$V_STATUS" = skipped ] || fail "--no-validate: validation not skipped"
[[ "$V_REASON" == *--no-validate* ]] || fail "--no-validate: reason"
[ -z "$J_WARNINGS" ] || fail "--no-validate warns: $J_WARNINGS"
grep -q "## Validation" "$T/o1/boot/report.md" || fail "--no-validate: report.md section"
[ ! -e "$T/o1/boot/validate-serial.log" ] || fail "--no-validate: serial log"
pass "--no-validate: VALIDATE skipped, said why, no warning"

# --- qemu-system-x86_64 missing ---------------------------------------------------
mkdir -p "$T/emptybin"
run env PATH="$T/emptybin" "$H2K" local "$T/boot.qcow2" -o "$T/o2" --validate
expect_rc 0 "no qemu"
expect_err "warning" "no qemu: warning on stderr"
expect_err "qemu-system-x86_64 is not installed" "no qemu: names the tool"
R="$T/o2/boot/metadata.json"
jload "$R"
[ "$V_STATUS" = skipped ] || fail "no qemu: not skipped"
[ "$J_STAGE" = skipped ] || fail "no qemu: stage not skipped"
[[ "$J_WARNINGS" == *"qemu-system-x86_64 is not installed"* ]] || fail "no qemu: warnings[]"
[ -f "$T/o2/boot/boot.qcow2" ] || fail "no qemu: disk not delivered"
python3 "$VALIDATE_PY" "$SCHEMA" "$R" >/dev/null || fail "no qemu: metadata schema"
pass "qemu-system-x86_64 missing: SKIPPED with a warning, disk delivered"

# --- nothing to boot (no boot sector): QEMU is not started ---------------------
rm -f "$FAKE_DIR/args"
run env PATH="$FAKEPATH" "$H2K" local "$T/blank.qcow2" -o "$T/o3" --validate
expect_rc 0 "blank disk"
expect_err "no boot sector" "blank disk: warning"
[ ! -e "$FAKE_DIR/args" ] || fail "blank disk: qemu was started"
jload "$T/o3/blank/report.json"
[ "$V_STATUS" = skipped ] || fail "blank: status"
pass "a disk without a boot sector: SKIPPED with a warning, QEMU not started"

# --- dry run: VALIDATE does not run ------------------------------------------------
run env PATH="$FAKEPATH" "$H2K" local "$T/boot.qcow2" -o "$T/o4" --validate --dry-run
expect_rc 0 "dry run"
expect_out "validate skipped: dry run" "dry run: validate skipped"
[ ! -e "$FAKE_DIR/args" ] || fail "dry run: qemu was started"
pass "--dry-run: VALIDATE skipped, QEMU not started"

# --- a guest that fails: exit 7, outputs delivered anyway --------------------------
run env PATH="$FAKEPATH" FAKE_MODE=alert "$H2K" local "$T/boot.qcow2" -o "$T/o5" --validate
expect_rc 7 "failed validation"
expect_err "failed validation" "failed: message"
expect_err "/dev/sda1 does not exist" "failed: reason"
expect_err "last serial console lines" "failed: serial tail in the error"
expect_err "  | (initramfs)" "failed: last serial line"
O="$T/o5/boot"
[ -f "$O/boot.qcow2" ] || fail "failed: disk not delivered under its final name"
ls -A "$O" | grep -q partial && fail "failed: partial file left: $(ls -A "$O")"
[ -f "$O/domain.xml" ] || fail "failed: no domain.xml"
[ -f "$O/metadata.json" ] || fail "failed: no metadata.json"
grep -q "ALERT!  /dev/sda1 does not exist" "$O/validate-serial.log" || fail "failed: serial log not kept"
jload "$O/report.json"
[ "$J_STATUS" = failed ] || fail "failed: report status"
[ "$J_EXIT" = 7 ] || fail "failed: report exit code"
[ "$V_STATUS" = failed ] || fail "failed: report validation status"
jload "$O/metadata.json"
[ "$V_STATUS" = failed ] || fail "failed: metadata status"
[ "$V_BOOT" = no ] || fail "failed: boot"
[ "$V_NETWORK" = false ] || fail "failed: network"
[ "$V_SERIAL_LOG" = "$O/validate-serial.log" ] || fail "failed: serial_log path"
[ "$J_STAGE" = failed ] || fail "failed: stage status"
grep -q '^- Status: \*\*failed\*\*' "$O/report.md" || fail "failed: report.md"
python3 "$VALIDATE_PY" "$SCHEMA" "$O/metadata.json" >/dev/null || fail "failed: metadata schema"
pid=$(cat "$FAKE_DIR/pid")
kill -0 "$pid" 2>/dev/null && fail "failed: fake qemu $pid still running"
grep -qx "user,id=n0,restrict=on" "$FAKE_DIR/args" || fail "failed: restrict=on missing"
grep -q "hostfwd" "$FAKE_DIR/args" && fail "failed: hostfwd in the QEMU command line"
CONV="$HOME/.cache/hyper2kvm/conversions"
[ -z "$(ls -A "$CONV" 2>/dev/null)" ] || fail "failed: job directory left: $(ls -A "$CONV")"
pass "a failed validation: exit 7, reason and serial tail, outputs delivered, QEMU stopped"

# --- a guest that passes (the DHCP packet comes from the MAC QEMU was given) ----
run env PATH="$FAKEPATH" FAKE_MODE=login-dhcp "$H2K" local "$T/boot.qcow2" -o "$T/o6" --validate --keep-temp
expect_rc 0 "passed validation"
O="$T/o6/boot"
M="$O/metadata.json"
jload "$M"
[ "$V_STATUS" = passed ] || fail "passed: status: $(cat "$M")"
[ "$V_BOOT" = yes ] || fail "passed: boot"
[ "$V_NETWORK" = true ] || fail "passed: network"
[ "$V_ACCELERATOR" = "$([ -r /dev/kvm ] && [ -w /dev/kvm ] && echo kvm || echo tcg)" ] || fail "passed: accelerator"
grep -q "mac=$V_MAC," "$FAKE_DIR/args" || fail "passed: MAC $V_MAC not given to QEMU"
[ "$J_STAGE" = ok ] || fail "passed: stage status"
python3 "$VALIDATE_PY" "$SCHEMA" "$M" >/dev/null || fail "passed: metadata schema"
job=$(ls -d "$CONV"/boot.* 2>/dev/null | head -1)
[ -n "$job" ] && [ -f "$job/validate/overlay-disk0.qcow2" ] || fail "passed: --keep-temp did not keep the overlay"
pass "a passed validation: exit 0, boot and network yes, --keep-temp keeps the overlay"

echo "all VALIDATE CLI checks passed"
