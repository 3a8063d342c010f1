# Shared helpers for the VMDK shell tests (sourced).
# Env: IMGTOOL (build/tests/image/imgtool), GEN_VMDK (gen_vmdk.py).
set -euo pipefail
: "${IMGTOOL:?set IMGTOOL to the imgtool binary}"
: "${GEN_VMDK:?set GEN_VMDK to gen_vmdk.py}"
if ! command -v qemu-img >/dev/null || ! command -v qemu-io >/dev/null; then
  echo "SKIP: qemu-img/qemu-io not installed"
  exit 77
fi
export LC_ALL=C
T=$(mktemp -d "${TMPDIR:-/tmp}/vmdk-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
n_ok=0

pass() {
  n_ok=$((n_ok + 1))
  echo "ok $n_ok - $*"
}

die() {
  echo "FAIL - $*" >&2
  exit 1
}

gen() { python3 "$GEN_VMDK" "$@"; }

# qemu-io on a raw file: qio FILE 'write -P 0x5a 1M 64k' ...
qio() {
  local f=$1 fmt=$2
  shift 2
  local args=()
  for c in "$@"; do args+=(-c "$c"); done
  qemu-io -f "$fmt" "${args[@]}" "$f" >/dev/null
}

# Convert IMG with imgtool into a fresh qcow2 and check it is clean.
to_qcow2() {
  local img=$1 out=$2
  rm -f "$out"
  "$IMGTOOL" convert -O qcow2 "$img" "$out" || die "imgtool convert $img failed"
  qemu-img check -q "$out" || die "qemu-img check $out is not clean"
}

# expect_same EXPECTED IMG [EXPECTED_FORMAT]: our conversion of IMG must be
# identical to EXPECTED (raw unless told).
expect_same() {
  local exp=$1 img=$2 fmt=${3:-raw}
  local out="$T/out-$n_ok.qcow2"
  to_qcow2 "$img" "$out"
  qemu-img compare -q -f "$fmt" -F qcow2 "$exp" "$out" ||
    die "conversion of $img differs from $exp"
  rm -f "$out"
  pass "$img converts identical to $exp"
}

# expect_fail IMG SUBSTRING...: converting IMG fails, and the message
# holds every SUBSTRING.
expect_fail() {
  local img=$1
  shift
  local out="$T/fail-$n_ok.qcow2"
  rm -f "$out"
  if "$IMGTOOL" convert -O qcow2 "$img" "$out" 2>"$T/err" >/dev/null; then
    die "converting $img succeeded, a failure was expected"
  fi
  for s in "$@"; do
    grep -qF -- "$s" "$T/err" || die "error for $img lacks '$s': $(cat "$T/err")"
  done
  pass "$img fails: $(tr '\n' ' ' <"$T/err" | head -c 400)"
}

# u32/u64 little-endian reads: rd32 FILE OFFSET
rd32() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
rd64() { od -An -t u8 -j "$2" -N 8 "$1" | tr -d ' '; }
