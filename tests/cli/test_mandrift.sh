#!/bin/bash
# The man page and --help are generated from the option table: the committed
# man page must be exactly what the generator prints, and --help must list
# every flag the man page documents.
H2K=$1
MANGEN=$(realpath "$2")
MAN=$3
. "$(dirname "$0")/lib.sh"

"$MANGEN" > "$T/generated.1"
if ! diff -u "$MAN" "$T/generated.1" > "$T/diff"; then
  cat "$T/diff" >&2
  fail "man/hyper2kvm.1 drifted from the option table: run 'make man'"
fi
run "$H2K" --help
n=0
for flag in $(grep -oE '^\.B (\\-[a-zA-Z], )?\\-\\-[a-z-]+' "$MAN" | sed -e 's/^\.B //' -e 's/\\-/-/g' -e 's/^-., //'); do
  expect_out "$flag" "--help lists $flag"
  n=$((n + 1))
done
[ "$n" -gt 30 ] || fail "only $n flags found in the man page"
pass "man page and --help in sync ($n flags)"
