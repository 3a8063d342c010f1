# Shared helpers for the CLI tests. Source after setting H2K (the binary).
set -euo pipefail

H2K=$(realpath "$H2K")
T=$(mktemp -d "${TMPDIR:-/tmp}/h2k-cli.XXXXXX")
cleanup_t() {
  # unmount anything a test mounted under $T, then remove it
  for m in $(awk -v t="$T" '$2 ~ "^"t {print $2}' /proc/mounts 2>/dev/null); do
    umount "$m" 2>/dev/null || true
  done
  rm -rf "$T"
}
trap cleanup_t EXIT
export HOME="$T/home"
mkdir -p "$HOME"
unset XDG_CACHE_HOME HYPER2KVM_CONVERSION_DIR HYPER2KVM_OUTPUT_DIR || true
export NO_COLOR=1
# The CLI tests convert synthetic disks with no operating system: no guest
# inspection/fixes and no boot validation unless a test asks for them
# (tests/guests and tests/validate cover those on real guests).
export HYPER2KVM_INSPECT=false HYPER2KVM_VALIDATE=false
cd "$T"

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# run CMD...: captures stdout/stderr/rc into $OUT $ERR $RC
run() {
  set +e
  "$@" >"$T/.out" 2>"$T/.err"
  RC=$?
  set -e
  OUT=$(cat "$T/.out")
  ERR=$(cat "$T/.err")
}
expect_rc() { [ "$RC" -eq "$1" ] || fail "$2: exit $RC, expected $1; stderr: $ERR"; }
expect_err() { grep -qF -- "$1" "$T/.err" || fail "$2: stderr lacks '$1': $ERR"; }
expect_out() { grep -qF -- "$1" "$T/.out" || fail "$2: stdout lacks '$1': $OUT"; }

# make_disk NAME SIZE: a qcow2 with a recognisable pattern
make_disk() {
  qemu-img create -q -f qcow2 "$1" "$2"
  qemu-io -f qcow2 -c 'write -P 0x5a 1M 2M' -c 'write -P 0xa5 7M 1M' "$1" >/dev/null
}
