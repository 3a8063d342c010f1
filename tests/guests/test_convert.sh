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
#   3. metadata.json: "validation" with boot "yes" and network true, status
#      passed, a MAC that is not the source's (the product's VALIDATE stage
#      boots the output on virtio-blk with a new MAC and watches for DHCP;
#      docs/metadata.md)
#   4. (KIND=ova only) independently of the product: tests/guests/boot-check.sh
#      boots the output on virtio-blk with a MAC unlike the source's and sees
#      boot=yes network=yes. Only for ova, to save time: both kinds convert
#      the same disk, and a TCG boot takes minutes.
#   5. the source files' sha256 are unchanged
#   6. the report lists the fixes applied (report.json guest.changes, not
#      empty), among them virtio_console and virtio_rng in the initramfs
#      configuration (the guest's kernel has both as modules)
#   7. (debian12-vmware, ova) `hyper2kvm inspect` on the output finds
#      nothing left to fix
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
RESUME=()
if [ "$GUEST" = debian12-lvm-networkd ] && [ "$KIND" = vmx ]; then
  # This case also proves crash recovery past FIX (costs no extra work): the
  # job is killed right after FIX's checkpoint, then resumed; INSPECT, PLAN
  # and FIX are not redone and CONVERT reads the fixed overlay.
  HYPER2KVM_TEST_KILL_AFTER=fix "$H2K_BIN" "$KIND" "$INPUT" --output-dir "$OUT" \
    --conversion-dir "$CONV" --json --boot-timeout "${BT}s" >"$W/killed.jsonl" 2>"$W/killed.log"
  krc=$?
  if [ "$krc" = 137 ]; then
    ok "killed (SIGKILL) right after FIX, as asked"
  else
    nok "HYPER2KVM_TEST_KILL_AFTER=fix: exit $krc, want 137 (SIGKILL)"
  fi
  RESUME=(--resume)
fi
"$H2K_BIN" "$KIND" "$INPUT" --output-dir "$OUT" --conversion-dir "$CONV" --json \
  --boot-timeout "${BT}s" "${RESUME[@]}" >"$W/events.jsonl" 2>"$W/stderr.log"
rc=$?
if [ ${#RESUME[@]} -gt 0 ]; then
  if python3 - "$OUT/$VM/report.json" <<'PY'
import json, sys
st = {s["stage"]: s["status"] for s in json.load(open(sys.argv[1]))["stages"]}
sys.exit(0 if all(st[x] == "resumed" for x in ("inspect", "plan", "fix"))
         and st["convert"] == "ok" else "stages: %s" % st)
PY
  then ok "--resume: INSPECT, PLAN and FIX reused from the checkpoint"
  else nok "--resume: INSPECT, PLAN and FIX not all 'resumed'"
  fi
fi
secs=$(($(date +%s) - t0))
if [ "$rc" = 0 ]; then
  ok "hyper2kvm $KIND exits 0 ($secs s)"
else
  why=""
  [ "$rc" = 7 ] && why=" (7: VALIDATE failed; the outputs are delivered anyway)"
  nok "hyper2kvm $KIND exits 0: exit status $rc$why after $secs s; last lines of stderr:"
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
python3 - "$VMDIR/metadata.json" "$SRC_MAC" >"$W/validation.txt" 2>&1 <<'PY'
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
# docs/metadata.md: boot is "yes"/"no"/"unknown" (a login prompt or the
# multi-user target seen on the serial console), network a bool (DHCP from
# the NEW mac). This test wants the boot seen, not merely not refuted.
v2 = {k: v.get(k) for k in ("status", "boot", "network", "mac", "accelerator", "boot_seconds", "reason")}
print(json.dumps(v2)[:600])
problems = []
if v.get("boot") not in ("yes", True):
    problems.append("boot is %s, not yes" % json.dumps(v.get("boot")))
if v.get("network") is not True:
    problems.append("network is %s, not true" % json.dumps(v.get("network")))
if v.get("status") not in (None, "passed"):
    problems.append("status is %s" % json.dumps(v.get("status")))
if str(v.get("mac") or "").lower() == sys.argv[2].lower():
    problems.append("validated with the source MAC %s, not a new one" % sys.argv[2])
if problems:
    sys.exit("validation: " + "; ".join(problems) + (" (reason: %s)" % v.get("reason") if v.get("reason") else ""))
PY
if [ $? = 0 ]; then
  ok "metadata.json: validation boot yes and network true (new MAC)"
else
  nok "metadata.json: validation boot yes and network true: $(tail -1 "$W/validation.txt")"
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

# the initramfs config names the optional virtio drivers too (Debian's
# kernel has virtio_console and virtio_rng as modules)
for mod in virtio_console virtio_rng; do
  if grep -q "$mod" "$W/fixes.txt"; then
    ok "the initramfs configuration adds $mod, which the guest's kernel has"
  else
    nok "the initramfs configuration adds $mod: not in the report's changes ($W/fixes.txt)"
  fi
done

# Converting again changes nothing: inspect the output; the plan holds only
# steps whose edits find nothing left to change (ova kind of the VMware-style
# guest only: one appliance launch).
if [ "$GUEST" = debian12-vmware ] && [ "$KIND" = ova ] && [ -s "$DISK" ]; then
  "$H2K_BIN" inspect "$DISK" --json --conversion-dir "$CONV" >"$W/inspect.json" 2>"$W/inspect.log"
  if python3 - "$W/inspect.json" >"$W/inspect.txt" 2>&1 <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["guest"]
i, steps = g["identity"], [s["op"] for s in g["plan"]["steps"]]
bad = [k for k in ("fstab_unstable_names", "cmdline_unstable_names",
                   "vmware_tools", "grub_device_map_stale") if i[k]]
if not all(k["initrd_has_virtio_blk"] for k in i["kernels"] if k["default"]):
    bad.append("initramfs without virtio_blk")
if set(steps) - {"network", "trim"}:
    bad.append("plan %s" % steps)
print("plan on the converted guest: %s" % steps)
sys.exit("; ".join(bad) if bad else 0)
PY
  then ok "inspect on the output: nothing left to fix ($(tail -1 "$W/inspect.txt"))"
  else nok "inspect on the output: $(tail -1 "$W/inspect.txt")"; tail -5 "$W/inspect.log" | sed 's/^/#   /'
  fi
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
