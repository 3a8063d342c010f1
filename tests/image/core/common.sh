# Shared helpers for the image-engine tests. Sourced by each test script:
#   test.sh IMGTOOL
# Creates $WORK (removed on exit) and counts checks; every check either
# passes or stops the script with a message.
set -euo pipefail

IMGTOOL=$(realpath "${1:?usage: $0 IMGTOOL}")
[[ -x $IMGTOOL ]] || { echo "imgtool not executable: $IMGTOOL" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/h2k-image-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
CHECKS=0

die() {
  echo "FAIL: $*" >&2
  exit 1
}

pass() {
  CHECKS=$((CHECKS + 1))
}

# qemu-io writes: qio IMG 'write -P 0x11 0 1M' ...
qio() {
  local img=$1
  shift
  local args=()
  for c in "$@"; do args+=(-c "$c"); done
  qemu-io -f qcow2 "${args[@]}" "$img" >/dev/null || die "qemu-io $* on $img"
}

# The output of qemu-img must say the images are identical.
same_image() {
  local a=$1 b=$2 out
  out=$(qemu-img compare "$a" "$b" 2>&1) || die "qemu-img compare $a $b: $out"
  [[ $out == *"Images are identical."* ]] || die "compare $a $b: $out"
  pass
}

# qemu-img check must find neither errors nor leaks.
clean_qcow2() {
  local img=$1 out
  out=$(qemu-img check "$img" 2>&1) || die "qemu-img check $img: $out"
  [[ $out == *"No errors were found on the image."* ]] ||
    die "qemu-img check $img: $out"
  pass
}

# Run imgtool, which must fail (exit 1..127, not a crash) with stderr
# containing $1.
must_fail() {
  local want=$1
  shift
  local rc=0
  "$IMGTOOL" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || rc=$?
  [[ $rc -ne 0 ]] || die "imgtool $* succeeded, expected failure ($want)"
  [[ $rc -lt 128 ]] || die "imgtool $* crashed (exit $rc): $(cat "$WORK/err.txt")"
  ! grep -qE 'Sanitizer|runtime error' "$WORK/err.txt" ||
    die "imgtool $*: sanitizer report: $(cat "$WORK/err.txt")"
  grep -qF -- "$want" "$WORK/err.txt" ||
    die "imgtool $*: error lacks '$want': $(cat "$WORK/err.txt")"
  pass
}

# Overwrite bytes in a file: put_be FILE OFFSET WIDTH VALUE
put_be() {
  local f=$1 off=$2 width=$3 val=$4 hex esc
  hex=$(printf "%0$((width * 2))x" "$val")
  esc=$(sed 's/../\\x&/g' <<<"$hex")
  printf "$esc" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# get_be FILE OFFSET WIDTH -> decimal
get_be() {
  local hex
  hex=$(od -An -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n')
  echo $((16#$hex))
}

finish() {
  echo "ok: $CHECKS checks"
}
