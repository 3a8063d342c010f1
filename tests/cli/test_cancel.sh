#!/bin/bash
# SIGINT / SIGTERM in the middle of a conversion: exit 130, no output file
# and no partial file left; a pipeline job reports the interruption.
H2K=$1
. "$(dirname "$0")/lib.sh"

head -c 384M /dev/urandom > big.raw
# wait_progress PID: until the engine has started writing (a .partial exists)
wait_partial() {
  for _ in $(seq 200); do
    if ls -a "$1" 2>/dev/null | grep -q partial; then return 0; fi
    sleep 0.05
  done
  fail "conversion never started"
}

"$H2K" convert big.raw out.qcow2 -c --workers 1 2>err.txt &
pid=$!
wait_partial .
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
[ "$rc" -eq 130 ] || fail "convert after SIGINT: exit $rc, expected 130: $(cat err.txt)"
[ ! -e out.qcow2 ] && [ ! -e out.qcow2.partial ] || fail "convert left output after SIGINT"
grep -q "cancel" err.txt || fail "no cancellation message: $(cat err.txt)"
pass "convert: SIGINT stops it, exit 130, nothing left"

"$H2K" local big.raw -o out -c --workers 1 2>err.txt &
pid=$!
wait_partial out/big
kill -TERM $pid
set +e; wait $pid; rc=$?; set -e
[ "$rc" -eq 130 ] || fail "job after SIGTERM: exit $rc: $(cat err.txt)"
! ls -a out/big | grep -q 'partial\|big.raw.qcow2\|^big.qcow2$' || fail "job left a disk after SIGTERM"
python3 -c "import json;r=json.load(open('out/big/report.json'));assert r['status']=='failed' and r['exit_code']==130,r"
grep -q "stage CONVERT failed" err.txt || fail "stage not named: $(cat err.txt)"
pass "job: SIGTERM stops CONVERT, exit 130, report says failed, no disk left"
