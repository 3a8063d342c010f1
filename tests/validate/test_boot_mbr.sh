#!/bin/bash
# VALIDATE with a real QEMU, through the CLI, on tiny boot-sector "guests":
# 23 bytes of 16-bit code in an MBR that write a text to the serial port
# (COM1) and halt. Each boots in seconds, even under TCG, and shows one
# path of the stage end to end:
#   panic   "Kernel panic - not syncing" -> exit 7, boot no, stopped early
#   login   a login prompt, no DHCP      -> exit 7, boot yes, network no
#   silent  nothing on the serial port   -> exit 7 at --boot-timeout, boot
#           unknown; and SIGINT while QEMU runs -> exit 130, QEMU gone
#   uefi    the same disk under OVMF (h2k-validate-image --uefi): the
#           firmware runs from the pflash pair and writes to the serial port
# After every run no QEMU of ours is left, and the outputs are delivered
# (failed validation) or not (cancelled).
# Needs qemu-system-x86_64, qemu-img, qemu-io, python3 and OVMF: a missing
# one is a failure. Usage: test_boot_mbr.sh HYPER2KVM VALIDATE_IMAGE SCHEMA
#   VALIDATE_METADATA_PY
H2K=$1
VIMG=$(realpath "$2")
SCHEMA=$(realpath "$3")
VALIDATE_PY=$(realpath "$4")
source "$(dirname "$0")/../cli/lib.sh"
unset HYPER2KVM_VALIDATE

for t in qemu-system-x86_64 qemu-img qemu-io python3 flock; do
  command -v "$t" >/dev/null || fail "$t missing (scripts/install-deps.sh --guests)"
done
compgen -G '/usr/share/OVMF/OVMF_CODE*.fd' >/dev/null ||
  compgen -G '/usr/share/edk2/ovmf/OVMF_CODE*.fd' >/dev/null ||
  fail "OVMF missing (apt-get install ovmf)"

# one QEMU at a time on this machine (as tests/guests/boot-check.sh)
exec 8>"${H2K_QEMU_LOCK:-/var/tmp/hyper2kvm-qemu.lock}"
flock 8

# mbr NAME TEXT: NAME.qcow2 whose boot sector prints TEXT on COM1 and halts
mbr() {
  local code='\xfa\x31\xc0\x8e\xd8\xfc\xbe\x17\x7c\xba\xf8\x03\xac\x84\xc0\x74\x03\xee\xeb\xf8\xf4\xeb\xfd'
  { printf "$code"; printf '%s\0' "$2"; } >"$T/$1.raw"
  [ "$(stat -c %s "$T/$1.raw")" -le 510 ] || fail "mbr: text too long"
  truncate -s 510 "$T/$1.raw"
  printf '\x55\xaa' >>"$T/$1.raw"
  truncate -s 4M "$T/$1.raw"
  qemu-img convert -f raw -O qcow2 "$T/$1.raw" "$T/$1.qcow2"
}

jload() { # FILE -> J_STATUS J_EXIT V_* (see test_cli_validate.sh)
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
for k in ("status", "boot", "network", "mac", "reason", "serial_log",
          "accelerator", "boot_seconds", "duration_s"):
    out("V_" + k.upper(), v.get(k))
PY
)"
}

no_qemu_left() { # NAME: no QEMU of this VM is running
  if pgrep -f "h2k-validate-$1" >/dev/null; then
    pgrep -af "h2k-validate-$1" >&2
    fail "$1: a QEMU is still running"
  fi
}

CR=$'\r'
mbr panic "[    2.1] VFS: Cannot open root device${CR}
[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs${CR}
"
mbr login "${CR}
Debian GNU/Linux 12 mbr ttyS0${CR}
${CR}
mbr login: "
mbr silent ""
cp "$T/silent.qcow2" "$T/silentc.qcow2"

# --- panic: early failure, exit 7, outputs delivered -----------------------
t0=$(date +%s)
run "$H2K" local "$T/panic.qcow2" -o "$T/out" --validate --boot-timeout 300s
secs=$(($(date +%s) - t0))
expect_rc 7 "panic"
expect_err "kernel panic" "panic: reason"
expect_err "  | [    2.1] Kernel panic - not syncing" "panic: serial tail in the error"
[ "$secs" -lt 120 ] || fail "panic: took $secs s: not stopped early"
O="$T/out/panic"
[ -f "$O/panic.qcow2" ] && [ -f "$O/domain.xml" ] && [ -f "$O/metadata.json" ] ||
  fail "panic: outputs not delivered: $(ls -A "$O")"
jload "$O/metadata.json"
[ "$V_STATUS" = failed ] && [ "$V_BOOT" = no ] && [ "$V_NETWORK" = false ] ||
  fail "panic: validation $V_STATUS boot $V_BOOT network $V_NETWORK"
grep -q "Kernel panic" "$O/validate-serial.log" || fail "panic: serial log"
python3 "$VALIDATE_PY" "$SCHEMA" "$O/metadata.json" >/dev/null || fail "panic: schema"
no_qemu_left panic
pass "panic guest: exit 7 after $secs s, boot no, outputs delivered ($V_ACCELERATOR)"

# --- login without network: boot yes, network no ---------------------------------
t0=$(date +%s)
run "$H2K" local "$T/login.qcow2" -o "$T/out" --validate
secs=$(($(date +%s) - t0))
expect_rc 7 "login"
expect_err "sent no DHCP request" "login: reason"
jload "$T/out/login/report.json"
[ "$J_STATUS" = failed ] && [ "$J_EXIT" = 7 ] || fail "login: report $J_STATUS $J_EXIT"
[ "$V_STATUS" = failed ] && [ "$V_BOOT" = yes ] && [ "$V_NETWORK" = false ] ||
  fail "login: validation $V_STATUS boot $V_BOOT network $V_NETWORK"
[[ "$V_MAC" == 52:54:00:* ]] || fail "login: MAC $V_MAC"
[ "$secs" -ge 30 ] && [ "$secs" -lt 150 ] || fail "login: took $secs s (expected the 30 s network wait)"
no_qemu_left login
pass "login guest: exit 7 after $secs s, boot yes (${V_BOOT_SECONDS%.*} s), network no"

# --- silent: boot unknown at --boot-timeout ----------------------------------------
t0=$(date +%s)
run "$H2K" local "$T/silent.qcow2" -o "$T/out" --validate --boot-timeout 10s
secs=$(($(date +%s) - t0))
expect_rc 7 "silent"
expect_err "no serial output at all" "silent: reason"
jload "$T/out/silent/metadata.json"
[ "$V_BOOT" = unknown ] && [ "$V_NETWORK" = false ] || fail "silent: boot $V_BOOT network $V_NETWORK"
[ "$secs" -ge 10 ] && [ "$secs" -lt 60 ] || fail "silent: took $secs s"
no_qemu_left silent
pass "silent guest: exit 7 at the 10 s timeout, boot unknown, network no"

# --- SIGINT while QEMU runs: exit 130, QEMU stopped, nothing delivered ------------
"$H2K" local "$T/silentc.qcow2" -o "$T/out" --validate --boot-timeout 300s 2>"$T/cancel.err" &
pid=$!
for _ in $(seq 600); do
  pgrep -f "h2k-validate-silentc" >/dev/null && break
  sleep 0.1
done
qpid=$(pgrep -f "h2k-validate-silentc") || fail "cancel: QEMU never started: $(cat "$T/cancel.err")"
sleep 1
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
[ "$rc" = 130 ] || fail "cancel: exit $rc, expected 130: $(cat "$T/cancel.err")"
kill -0 "$qpid" 2>/dev/null && fail "cancel: QEMU $qpid still running"
no_qemu_left silentc
grep -q "cancelled; QEMU (pid $qpid) stopped" "$T/cancel.err" || fail "cancel: message: $(cat "$T/cancel.err")"
[ ! -e "$T/out/silentc/silentc.qcow2" ] || fail "cancel: disk delivered"
jload "$T/out/silentc/report.json"
[ "$J_EXIT" = 130 ] || fail "cancel: report exit $J_EXIT"
pass "SIGINT during the boot: exit 130, QEMU (pid $qpid) stopped, no disk delivered"

# --- UEFI: OVMF from the pflash pair, a copy of the variable store ------------------
# A boot sector means nothing to UEFI: OVMF falls back to its shell, which
# VALIDATE recognises as an early failure.
t0=$(date +%s)
run "$VIMG" "$T/login.qcow2" qcow2 --uefi --name mbr-uefi --timeout 120 \
  --serial-out "$T/uefi.serial"
secs=$(($(date +%s) - t0))
expect_rc 0 "uefi"
expect_out "firmware=uefi" "uefi: firmware"
expect_out "status=failed" "uefi: status"
expect_out "boot=no" "uefi: boot"
expect_out "UEFI shell" "uefi: reason"
grep -aq "BdsDxe" "$T/uefi.serial" || fail "uefi: no OVMF output: $(head -c 600 "$T/uefi.serial")"
[ "$secs" -lt 100 ] || fail "uefi: took $secs s: not stopped at the UEFI shell"
no_qemu_left mbr-uefi
pass "UEFI: OVMF ran and fell back to its shell: boot=no after $secs s"

echo "all boot-sector guest checks passed"
