#!/bin/bash
# Every file under examples/ loads.
H2K=$1
EXAMPLES=$2
. "$(dirname "$0")/lib.sh"
n=0
for f in "$EXAMPLES"/*.yaml; do
  run "$H2K" --config "$f" --dump-config
  expect_rc 0 "loading $f"
  n=$((n + 1))
done
[ "$n" -ge 3 ] || fail "expected at least 3 examples, found $n"
pass "$n example files load"
