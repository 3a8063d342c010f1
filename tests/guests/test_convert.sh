#!/bin/bash
# guest-convert: the end-to-end test hyper2kvm is held to. Convert a real
# VMware-style Debian 12 guest (tests/guests/build-guests.sh) and require
# that the result boots and reaches the network on KVM-style hardware.
#
# Usage: test_convert.sh GUEST KIND [H2K_BIN]
#   GUEST    debian12-vmware | debian12-lvm-networkd
#   KIND     ova | vmx  (the hyper2kvm command: `hyper2kvm ova X.ova`,
#            `hyper2kvm vmx X.vmx`)
#   H2K_BIN  the hyper2kvm binary (meson passes it; else $H2K_BIN)
#
# Runs `H2K_BIN KIND INPUT --output-dir OUT --conversion-dir CONV --json`
# (OUT and CONV in a temporary directory) and checks:
#   1. exit status 0
#   2. OUT/<vm>/<vm>.qcow2 exists (<vm> = GUEST, the source's VM name)
#   3. metadata.json: "validation" with boot true and network true (the
#      product's VALIDATE stage boots the output on virtio-blk with a new MAC
#      and watches for DHCP)
#   4. (KIND=ova only) independently of the product: tests/guests/boot-check.sh
#      boots the output on virtio-blk with a MAC unlike the source's and sees
#      boot=yes network=yes. Only for ova, to save time: both kinds convert
#      the same disk, and a TCG boot takes minutes.
#   5. the source files' sha256 are unchanged
#   6. the report lists the fixes applied (report.json guest.changes, not
#      empty)
#
# Guests: taken from the cache (H2K_GUEST_CACHE, see build-guests.sh). When
# they are missing or stale, they are built if H2K_REQUIRE_GUESTS=1 (as
# `make check-guests` sets), else the test is skipped (77).
# Environment: H2K_GUEST_BOOT_TIMEOUT (s, default 600: passed to hyper2kvm
# --boot-timeout and to boot-check.sh), H2K_SKIP_GUEST_TESTS=1 to skip,
# H2K_KEEP_CONVERT=1 to keep the whole work directory.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${H2K_GUEST_CACHE:-$HOME/.cache/hyper2kvm-test-guests}"
BT="${H2K_GUEST_BOOT_TIMEOUT:-600}"

GUEST="${1:-}" KIND="${2:-}"
H2K_BIN="${3:-${H2K_BIN:-}}"
case "$GUEST" in
  debian12-vmware | debian12-lvm-networkd) ;;
  *) echo "usage: test_convert.sh debian12-vmware|debian12-lvm-networkd ova|vmx [H2K_BIN]" >&2; exit 2 ;;
esac
case "$KIND" in
  ova) INPUT="$CACHE/$GUEST/$GUEST.ova" SOURCES=("$INPUT") ;;
  vmx) INPUT="$CACHE/$GUEST/vmx/$GUEST.vmx" SOURCES=("$INPUT" "$CACHE/$GUEST/vmx/$GUEST.vmdk") ;;
  *) echo "test_convert: KIND must be ova or vmx, not '$KIND'" >&2; exit 2 ;;
esac
[ -n "$H2K_BIN" ] && [ -x "$H2K_BIN" ] ||
  { echo "test_convert: hyper2kvm binary not given or not executable: '$H2K_BIN'" >&2; exit 2; }
H2K_BIN="$(readlink -f "$H2K_BIN")"

# the VM's MAC on VMware, and the one the converted VM gets here (KVM range)
case "$GUEST" in
  debian12-vmware) SRC_MAC="00:50:56:8a:3c:01" NEW_MAC="52:54:00:4b:56:01" ;;
  debian12-lvm-networkd) SRC_MAC="00:50:56:8a:3c:02" NEW_MAC="52:54:00:4b:56:02" ;;
esac
VM="$GUEST" # the OVF <Name> and the VMX displayName

skip() {
  if [ "${H2K_REQUIRE_GUESTS:-0}" = 1 ]; then
    echo "FAIL (required): $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
[ -n "${H2K_SKIP_GUEST_TESTS:-}" ] && skip "H2K_SKIP_GUEST_TESTS is set"
[ "$(id -u)" = 0 ] || skip "needs root"
for t in qemu-img qemu-system-x86_64 python3 sha256sum; do
  command -v "$t" >/dev/null || skip "$t missing (scripts/install-deps.sh --guests)"
done

# --- the guests ----------------------------------------------------------------
if ! "$HERE/build-guests.sh" --check >/dev/null 2>&1; then
  [ "${H2K_REQUIRE_GUESTS:-0}" = 1 ] ||
    skip "test guests not built (or stale) in $CACHE: run tests/guests/build-guests.sh, or set H2K_REQUIRE_GUESTS=1"
  echo "# building the test guests (build-guests.sh)"
  "$HERE/build-guests.sh" 2>&1 | sed 's/^/# /'
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "not ok - build-guests.sh failed"; echo "0 passed, 1 failed"; exit 1; }
fi
for f in "${SOURCES[@]}"; do
  [ -s "$f" ] || { echo "not ok - source file missing after build: $f"; echo "0 passed, 1 failed"; exit 1; }
done

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
nok() { fail=$((fail + 1)); echo "not ok - $*"; }

W="$(mktemp -d /var/tmp/h2k-convert-test.XXXXXX)"
OUT="$W/out" CONV="$W/conv"
mkdir -p "$OUT" "$CONV"
chmod 700 "$CONV"
finish() {
  if [ "${H2K_KEEP_CONVERT:-0}" = 1 ]; then
    echo "# work directory kept: $W"
  elif [ "$fail" = 0 ]; then
    rm -rf "$W"
  else
    # keep the logs and reports, not the disk images
    find "$W" -type f \( -name '*.qcow2' -o -name '*.raw' -o -name '*.vmdk' -o -name '*.img' \) -delete 2>/dev/null
    echo "# logs kept in $W (disk images removed)"
  fi
}
trap finish EXIT
trap 'exit 130' INT TERM

declare -A SUM0
for f in "${SOURCES[@]}"; do SUM0[$f]="$(sha256sum "$f" | cut -d' ' -f1)"; done

# --- the conversion ------------------------------------------------------------
echo "# $GUEST ($KIND): $H2K_BIN $KIND $INPUT --output-dir $OUT --conversion-dir $CONV --json --boot-timeout ${BT}s"
t0=$(date +%s)
"$H2K_BIN" "$KIND" "$INPUT" --output-dir "$OUT" --conversion-dir "$CONV" --json \
  --boot-timeout "${BT}s" >"$W/events.jsonl" 2>"$W/stderr.log"
rc=$?
secs=$(($(date +%s) - t0))
if [ "$rc" = 0 ]; then
  ok "hyper2kvm $KIND exits 0 ($secs s)"
else
  nok "hyper2kvm $KIND exits 0: exit status $rc after $secs s; last lines of stderr:"
  tail -20 "$W/stderr.log" | sed 's/^/#   /'
  python3 - "$W/events.jsonl" <<'PY' | sed 's/^/#   /'
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("event") in ("result", "stage_end") and (e.get("status") not in (None, "ok") or e.get("error")):
        print(json.dumps(e)[:400])
PY
fi

VMDIR="$OUT/$VM"
DISK="$VMDIR/$VM.qcow2"
if [ -s "$DISK" ]; then
  ok "output disk $VM/$VM.qcow2 exists ($(stat -c %s "$DISK") bytes)"
else
  nok "output disk $VM/$VM.qcow2 exists: not found; $OUT holds: $(cd "$OUT" && find . -maxdepth 2 | sort | tr '\n' ' ')"
fi

# metadata.json: the product's own boot validation
python3 - "$VMDIR/metadata.json" >"$W/validation.txt" 2>&1 <<'PY'
import json, sys
try:
    m = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    sys.exit("metadata.json unreadable: %s" % e)
v = m.get("validation")
if not isinstance(v, dict):
    st = [s for s in m.get("stages", []) if s.get("stage") == "validate"]
    sys.exit('no "validation" object in metadata.json (VALIDATE stage: %s)'
             % (json.dumps(st[0]) if st else "absent"))
problems = [k for k in ("boot", "network") if v.get(k) is not True]
print(json.dumps(v)[:600])
if problems:
    sys.exit("validation.%s is not true" % " and validation.".join(problems))
PY
if [ $? = 0 ]; then
  ok "metadata.json: validation.boot and validation.network are true"
else
  nok "metadata.json: validation.boot and validation.network are true: $(tail -1 "$W/validation.txt")"
  head -1 "$W/validation.txt" | grep -q '^{' && sed -n 1p "$W/validation.txt" | sed 's/^/#   validation: /'
fi

# An independent boot, not trusting the product's VALIDATE: virtio-blk, a NIC
# with a MAC the source never had, user networking (restrict=on). For the ova
# kind only, to save time (the vmx kind converts the same disk).
if [ "$KIND" = ova ]; then
  if [ -s "$DISK" ]; then
    t0=$(date +%s)
    res="$(BOOTCHECK_LOG="$W/boot-virtio.serial.log" \
      "$HERE/boot-check.sh" "$DISK" qcow2 virtio "$BT" "$NEW_MAC" 2>"$W/boot-check.log" | tail -1)"
    secs=$(($(date +%s) - t0))
    grep -v '^ *|' "$W/boot-check.log" | sed 's/^/# /'
    if [ "$res" = "boot=yes network=yes" ]; then
      ok "boot-check: the output boots on virtio-blk and asks for DHCP with MAC $NEW_MAC ($secs s)"
    else
      nok "boot-check on virtio-blk, MAC $NEW_MAC (source had $SRC_MAC): got '$res', want 'boot=yes network=yes' ($secs s); serial log: $W/boot-virtio.serial.log"
      grep '^ *|' "$W/boot-check.log" | sed 's/^/# /'
    fi
  else
    nok "boot-check on virtio-blk: no output disk to boot"
  fi
else
  echo "# boot-check skipped for KIND=vmx (done for ova: same disk, saves a TCG boot)"
fi

# the sources are never modified
changed=""
for f in "${SOURCES[@]}"; do
  [ "$(sha256sum "$f" | cut -d' ' -f1)" = "${SUM0[$f]}" ] || changed="$changed $f"
done
if [ -z "$changed" ]; then
  ok "source files unchanged (sha256 of ${#SOURCES[@]} file(s))"
else
  nok "source files unchanged: modified:$changed"
  # a damaged cache must not pass for a good one: rebuild it next time
  rm -f "$CACHE/$GUEST/build.sha256"
  echo "# $CACHE/$GUEST/build.sha256 removed: the guest is rebuilt on the next run"
fi

# the report lists the fixes applied
python3 - "$VMDIR/report.json" "$VMDIR/metadata.json" >"$W/fixes.txt" 2>&1 <<'PY'
import json, sys
found, where = None, None
for path in sys.argv[1:]:
    try:
        d = json.load(open(path))
    except (OSError, ValueError):
        continue
    g = d.get("guest")
    if isinstance(g, dict) and isinstance(g.get("changes"), list):
        found, where = g["changes"], path.rsplit("/", 1)[-1]
        break
if found is None:
    sys.exit("no guest.changes list in report.json (nor in metadata.json)")
if not found:
    sys.exit("%s: guest.changes is empty: no fix applied" % where)
for c in found:
    print("%s%s: %s" % (c.get("file"), (" line %s" % c["line"]) if c.get("line") else "", c.get("reason")))
print("%d change(s) in %s" % (len(found), where))
PY
if [ $? = 0 ]; then
  ok "the report lists the fixes applied: $(tail -1 "$W/fixes.txt")"
  sed '$d' "$W/fixes.txt" | sed 's/^/#   /'
else
  nok "the report lists the fixes applied: $(tail -1 "$W/fixes.txt")"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
