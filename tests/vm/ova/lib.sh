# Shared helpers of the OVA / tarball shell tests (sourced).
set -euo pipefail
: "${OVA_PROBE:?OVA_PROBE not set}" "${GEN_OVA:?GEN_OVA not set}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/h2k-ova.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
LOGS="$WORK/logs" # probe outputs, kept apart from the inputs
mkdir "$LOGS"
PASS=0
FAIL=0

ok() { PASS=$((PASS + 1)); echo "ok $PASS - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
check() { # description command...
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
finish() {
  echo "# $PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}

# Two source disks with distinct patterns, as raw and streamOptimized VMDK.
make_disks() {
  qemu-img create -q -f raw "$WORK/d1.raw" 64M
  qemu-io -f raw -c "write -P 0xaa 0 1M" -c "write -P 0x55 10M 3M" \
    -c "write -P 0x11 63M 1M" "$WORK/d1.raw" >/dev/null
  qemu-img create -q -f raw "$WORK/d2.raw" 16M
  qemu-io -f raw -c "write -P 0x77 512 64K" -c "write -P 0x33 8M 2M" \
    "$WORK/d2.raw" >/dev/null
  for i in 1 2; do
    qemu-img convert -f raw -O vmdk -o subformat=streamOptimized \
      "$WORK/d$i.raw" "$WORK/disk$i.vmdk"
  done
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# Everything under $WORK except the unpack directories and the logs, with
# sizes and times, for "nothing was written outside unpack_dir" checks.
snapshot() {
  (cd "$WORK" && find . -mindepth 1 \( -path './unpack*' -o -path ./logs \) -prune -o \
    -printf '%p %s %T@\n' | LC_ALL=C sort)
}

# probe LABEL args...: runs ova_probe; stdout in $LOGS/LABEL.out, stderr
# in $LOGS/LABEL.err, status in $RC.
probe() {
  local prefix=$LOGS/$1
  shift
  RC=0
  "$OVA_PROBE" "$@" >"$prefix.out" 2>"$prefix.err" || RC=$?
}

# dump_matches LABEL N REFERENCE args...: disk N read through the image
# engine equals REFERENCE (qemu-img compare; format $REF_FMT, or raw).
dump_matches() {
  local label=$1 n=$2 ref=$3
  shift 3
  probe "$label.dump$n" --dump "$n" "$LOGS/$label.$n.raw" "$@"
  if [ "$RC" -ne 0 ]; then
    cat "$LOGS/$label.dump$n.err" >&2
    return 1
  fi
  qemu-img compare -q -f raw -F "${REF_FMT:-raw}" "$LOGS/$label.$n.raw" "$ref"
}

fresh_unpack() { # name: a new empty unpack directory
  rm -rf "$WORK/unpack-$1"
  mkdir "$WORK/unpack-$1"
  echo "$WORK/unpack-$1"
}
