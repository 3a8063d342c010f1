#!/bin/sh
# Print one closing line for `make check` and fail if any part failed.
# Usage: test-summary.sh BUILD ASAN_BUILD
set -eu
build=$1
asan=$2
count() { # count(testlog.json, result)
  [ -f "$1" ] || { echo 0; return; }
  python3 - "$1" "$2" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if line and json.loads(line).get("result") == sys.argv[2]:
        n += 1
print(n)
PY
}
passed=0
failed=0
for log in "$build/meson-logs/testlog.json" "$build/meson-logs/guestlog.json" \
  "$asan/meson-logs/testlog.json"; do
  b=$log
  p=$(count "$log" OK)
  f=$(( $(count "$log" FAIL) + $(count "$log" TIMEOUT) + $(count "$log" ERROR) ))
  s=$(count "$log" SKIP)
  if [ "$s" -ne 0 ]; then
    echo "test-summary: $s skipped test(s) in $b count as failures" >&2
    f=$((f + s))
  fi
  passed=$((passed + p))
  failed=$((failed + f))
done
rc=0
for part in check guest asan fuzz; do
  r=$(cat "$build/.$part-rc" 2>/dev/null || echo 1)
  if [ "$r" -ne 0 ]; then
    echo "test-summary: the '$part' part failed (exit $r)" >&2
    rc=1
    failed=$((failed + 1))
  fi
done
[ "$failed" -eq 0 ] || rc=1
echo "$passed passed, $failed failed"
exit $rc
