# Shared helpers for the VHD/VHDX shell tests (sourced).
# Env: IMGTOOL (tests/image/imgtool), MKDIFF (mkvhd.py).
set -euo pipefail

: "${IMGTOOL:?IMGTOOL must point at the built imgtool}"
: "${MKDIFF:?MKDIFF must point at mkvhd.py}"
command -v qemu-img >/dev/null || { echo "SKIP: qemu-img missing"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/h2k-vhd.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"

checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); echo "ok $checks - $*"; }
mkvhd() { python3 "$MKDIFF" "$@"; }
qio() { qemu-io -f "$1" "${@:3}" "$2" >/dev/null; }

# convert_check FMT SRC: convert with imgtool to qcow2 (4 threads) and raw, compare both
# with qemu-img against the source read by qemu, check the qcow2.
convert_check() {
  local fmt=$1 src=$2
  "$IMGTOOL" convert -t 4 -O qcow2 "$src" "$src.qcow2" || fail "convert $src to qcow2"
  "$IMGTOOL" convert -O raw "$src" "$src.raw" || fail "convert $src to raw"
  qemu-img compare -q -f "$fmt" -F qcow2 "$src" "$src.qcow2" || fail "$src: qcow2 differs"
  qemu-img compare -q -f "$fmt" -F raw "$src" "$src.raw" || fail "$src: raw differs"
  qemu-img check -q -f qcow2 "$src.qcow2" || fail "$src.qcow2: check not clean"
  ok "$src -> qcow2/raw identical ($fmt)"
}

# expect_compare IMG EXPECTED_RAW: convert IMG (a chain qemu cannot read)
# to qcow2 and raw and compare with the expected flattened raw.
expect_compare() {
  local img=$1 exp=$2
  "$IMGTOOL" convert -t 4 -O qcow2 "$img" "$img.qcow2" || fail "convert $img to qcow2"
  "$IMGTOOL" convert -O raw "$img" "$img.raw" || fail "convert $img to raw"
  qemu-img compare -q -F raw -f qcow2 "$img.qcow2" "$exp" || fail "$img: qcow2 differs from $exp"
  cmp -s "$img.raw" "$exp" || fail "$img: raw differs from $exp"
  qemu-img check -q -f qcow2 "$img.qcow2" || fail "$img.qcow2: check not clean"
  ok "$img flattened as expected"
}

# expect_fail "SUBSTRING" CMD...: CMD must exit non-zero and print SUBSTRING.
expect_fail() {
  local want=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "'$*' succeeded, expected failure with '$want'"
  case "$out" in
    *"$want"*) ok "refused: $want" ;;
    *) fail "'$*' exit $rc, output lacks '$want':
$out" ;;
  esac
}

# info_has IMG "SUBSTRING"
info_has() {
  local out
  out=$("$IMGTOOL" info --json "$1") || fail "info $1"
  case "$out" in
    *"$2"*) ok "info $1 has $2" ;;
    *) fail "info $1 lacks '$2':
$out" ;;
  esac
}

finish() { echo "1..$checks"; }
