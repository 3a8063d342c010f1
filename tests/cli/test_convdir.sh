#!/bin/bash
# Conversion directory end to end: default path and mode, precedence of the
# flag / YAML / env, unsafe directories, early free-space failure, cleanup.
H2K=$1
. "$(dirname "$0")/lib.sh"

make_disk "$T/vm.qcow2" 32M

# Default: ~/.cache/hyper2kvm/conversions, created 0700 with its parents.
run "$H2K" local "$T/vm.qcow2" -o "$T/out" --keep-temp
expect_rc 0 "default conversion dir"
d="$HOME/.cache/hyper2kvm/conversions"
[ -d "$d" ] || fail "default conversion dir not created"
[ "$(stat -c %a "$d")" = 700 ] || fail "mode is $(stat -c %a "$d")"
ls -d "$d"/vm.* >/dev/null || fail "no job subdirectory kept with --keep-temp"
[ "$(stat -c %a "$d"/vm.*)" = 700 ] || fail "job dir mode"
pass "default path created 0700"

# Without --keep-temp the job directory is removed on success.
rm -rf "$d"/vm.*
run "$H2K" local "$T/vm.qcow2" -o "$T/out"
expect_rc 0 "second run"
! ls -d "$d"/vm.* 2>/dev/null || fail "job dir left behind"
pass "temporary files removed on success"

# XDG_CACHE_HOME
XDG_CACHE_HOME="$T/xdg" run "$H2K" local "$T/vm.qcow2" -o "$T/out"
expect_rc 0 xdg
[ "$(stat -c %a "$T/xdg/hyper2kvm/conversions")" = 700 ] || fail "xdg dir"
pass "XDG_CACHE_HOME honoured"

# env < YAML < flag
printf 'conversion_dir: %s/from-yaml\n' "$T" > "$T/c.yaml"
HYPER2KVM_CONVERSION_DIR="$T/from-env" run "$H2K" local "$T/vm.qcow2" -o "$T/out"
[ -d "$T/from-env" ] || fail "env conversion dir not used"
HYPER2KVM_CONVERSION_DIR="$T/from-env2" run "$H2K" --config "$T/c.yaml" local "$T/vm.qcow2" -o "$T/out"
[ -d "$T/from-yaml" ] && [ ! -e "$T/from-env2" ] || fail "YAML should beat env"
HYPER2KVM_CONVERSION_DIR="$T/from-env3" run "$H2K" --config "$T/c.yaml" \
  --conversion-dir "$T/from-flag" local "$T/vm.qcow2" -o "$T/out"
expect_rc 0 flag
[ -d "$T/from-flag" ] && [ ! -e "$T/from-env3" ] || fail "flag should win"
pass "flag > YAML > env"

# Unsafe directories are refused before any work.
mkdir -m 777 "$T/open"
chmod 777 "$T/open"
run "$H2K" local "$T/vm.qcow2" -o "$T/out2" --conversion-dir "$T/open"
expect_rc 5 "world-writable"
expect_err "world-writable" "world-writable"
expect_err "--conversion-dir" "hint"
[ ! -e "$T/out2" ] || fail "output written despite refusal"
pass "unsafe conversion dir refused"

# Free space: a tiny tmpfs as output dir fails early, saying how much and where.
mkdir "$T/tiny"
if mount -t tmpfs -o size=1m tmpfs "$T/tiny" 2>/dev/null; then
  run "$H2K" local "$T/vm.qcow2" -o "$T/tiny/out" --conversion-dir "$T/tiny/conv"
  expect_rc 4 "tiny tmpfs"
  expect_err "not enough free space" "tiny tmpfs"
  expect_err "only" "tiny tmpfs says how much is free"
  [ ! -e "$T/tiny/out/vm/vm.qcow2" ] || fail "output on full disk"
  umount "$T/tiny"
  pass "free-space check fails early on a 1 MiB tmpfs"
else
  echo "note: cannot mount tmpfs here; using the injected free-space figure"
fi
HYPER2KVM_TEST_FREE_BYTES=100K run "$H2K" local "$T/vm.qcow2" -o "$T/out3"
expect_rc 4 "injected free space"
expect_err "needs about" "injected"
expect_err "only 100.0 KiB is free" "injected"
expect_err "conversion_dir:" "points elsewhere"
[ ! -e "$T/out3/vm/vm.qcow2" ] || fail "output despite no space"
pass "free-space message names need, free and where to point"

# cleanup removes only stale job directories.
c="$T/cc"
mkdir -m 700 "$c"
for j in old.aaaaaaaaaaaa new.bbbbbbbbbbbb; do
  mkdir -m 700 "$c/$j"
  touch "$c/$j/.hyper2kvm-job" "$c/$j/checkpoint.json"
done
mkdir -m 700 "$c/not-a-job"
touch -d "3 days ago" "$c/old.aaaaaaaaaaaa"/.hyper2kvm-job "$c/old.aaaaaaaaaaaa"/checkpoint.json "$c/old.aaaaaaaaaaaa" "$c/not-a-job"
run "$H2K" cleanup --conversion-dir "$c" --older-than 2d
expect_rc 0 cleanup
[ ! -e "$c/old.aaaaaaaaaaaa" ] || fail "stale job not removed"
[ -d "$c/new.bbbbbbbbbbbb" ] || fail "recent job removed"
[ -d "$c/not-a-job" ] || fail "non-job directory removed"
pass "cleanup --older-than removes only stale job dirs"
