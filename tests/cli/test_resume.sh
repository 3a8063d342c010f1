#!/bin/bash
# A job killed with SIGKILL between stages resumes with --resume; a changed
# input or option makes --resume refuse.
H2K=$1
. "$(dirname "$0")/lib.sh"

make_disk "$T/vm.qcow2" 64M
conv="$HOME/.cache/hyper2kvm/conversions"

for stage in flatten convert; do
  rm -rf "$T/out" "$conv"
  HYPER2KVM_TEST_KILL_AFTER=$stage run "$H2K" local "$T/vm.qcow2" -o "$T/out"
  [ "$RC" -eq 137 ] || fail "expected SIGKILL (137) after $stage, got $RC"
  ls "$conv"/vm.*/checkpoint.json >/dev/null || fail "no checkpoint after kill"
  python3 - "$conv"/vm.*/checkpoint.json "$stage" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
done = c["completed_stages"]
assert done[-1] == sys.argv[2], done
assert c["inputs"][0]["path"].endswith("vm.qcow2") and c["inputs"][0]["sample_sha256"]
assert c["tool_version"] and c["options_hash"]
PY
  [ ! -e "$T/out/vm/vm.qcow2" ] || fail "killed job left a complete-looking output"
  run "$H2K" local "$T/vm.qcow2" -o "$T/out" --resume
  expect_rc 0 "resume after $stage"
  expect_err "resuming job 'vm' from its checkpoint" "resume message"
  if [ "$stage" = convert ]; then
    expect_err "already converted before the interruption" "convert not redone"
  fi
  qemu-img compare -q "$T/vm.qcow2" "$T/out/vm/vm.qcow2" || fail "resumed output differs"
  ! ls -d "$conv"/vm.* 2>/dev/null || fail "job dir left after success"
  pass "killed after $stage, resumed and completed"
done

# Changed input: refuse with an explanation.
rm -rf "$T/out"
HYPER2KVM_TEST_KILL_AFTER=fetch run "$H2K" local "$T/vm.qcow2" -o "$T/out"
[ "$RC" -eq 137 ] || fail "kill after fetch"
qemu-io -f qcow2 -c 'write -P 0x77 0 64k' "$T/vm.qcow2" >/dev/null
run "$H2K" local "$T/vm.qcow2" -o "$T/out" --resume
expect_rc 8 "changed input"
expect_err "changed since the checkpoint" "explains"
expect_err "run without --resume" "says what to do"
pass "changed input refused"

# Changed option: refuse, naming it.
rm -rf "$conv"
HYPER2KVM_TEST_KILL_AFTER=fetch run "$H2K" local "$T/vm.qcow2" -o "$T/out"
run "$H2K" local "$T/vm.qcow2" -o "$T/out" --resume -c
expect_rc 8 "changed option"
expect_err "compress (was false, now true)" "names the option"
pass "changed options refused"

# enable_recovery in YAML behaves as --resume; a plain run discards.
run "$H2K" local "$T/vm.qcow2" -o "$T/out"
expect_rc 0 "plain run after interrupted one"
expect_err "discarding the checkpoint" "plain run warns and starts over"
HYPER2KVM_TEST_KILL_AFTER=plan run "$H2K" local "$T/vm.qcow2" -o "$T/out"
printf 'enable_recovery: true\n' > "$T/r.yaml"
run "$H2K" --config "$T/r.yaml" local "$T/vm.qcow2" -o "$T/out"
expect_rc 0 "enable_recovery"
expect_err "resuming job" "enable_recovery resumes"
pass "enable_recovery resumes; a plain run starts over"
