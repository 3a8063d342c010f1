#!/bin/bash
# guest-inspect-oracle: hyper2kvm's own Linux inspection (lib/guest/find_root.c,
# lib/inspect/osinfo.c, the host-side initramfs lister) must learn exactly
# what libguestfs' guestfs_inspect_os path learns, on every test guest:
#   hyper2kvm inspect GUEST.ova --json --inspector=native      (the default)
#   hyper2kvm inspect GUEST.ova --json --inspector=libguestfs  (the oracle)
# The whole guest identity (distro, version, product, arch, hostname,
# packages, kernels, initramfs contents, root device, storage facts, ...)
# must be equal, and the native run must really have used the native path.
# Needs the guest cache (tests/guests/build-guests.sh); skips (77) without
# it unless H2K_REQUIRE_GUESTS=1.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${H2K_GUEST_CACHE:-$HOME/.cache/hyper2kvm-test-guests}"
H2K_BIN="$(readlink -f "${1:-}")"
[ -x "$H2K_BIN" ] || { echo "usage: $0 HYPER2KVM_BINARY" >&2; exit 2; }

skip() {
  if [ "${H2K_REQUIRE_GUESTS:-0}" = 1 ]; then
    echo "FAIL (required): $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
[ -n "${H2K_SKIP_GUEST_TESTS:-}" ] && skip "H2K_SKIP_GUEST_TESTS is set"
command -v python3 >/dev/null || skip "python3 missing"
"$HERE/build-guests.sh" --check >/dev/null 2>&1 ||
  skip "test guests not built (or stale) in $CACHE (guest-starting-point builds them)"

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
nok() { fail=$((fail + 1)); echo "not ok - $*"; }
W="$(mktemp -d /var/tmp/h2k-inspect-oracle.XXXXXX)"
trap 'if [ "$fail" = 0 ]; then rm -rf "$W"; else echo "# logs kept in $W"; fi' EXIT

for guest in debian12-vmware debian12-lvm-networkd; do
  ova="$CACHE/$guest/$guest.ova"
  for engine in native libguestfs; do
    if "$H2K_BIN" inspect "$ova" --json --inspector="$engine" -v \
        >"$W/$guest-$engine.json" 2>"$W/$guest-$engine.log"; then
      ok "$guest: inspect --inspector=$engine"
    else
      nok "$guest: inspect --inspector=$engine failed (see $W/$guest-$engine.log)"
    fi
  done
  if grep -q "found by hyper2kvm's own inspection" "$W/$guest-native.log"; then
    ok "$guest: the native run found the root itself"
  else
    nok "$guest: the native run did not use the native inspection"
  fi
  if grep -q "found by hyper2kvm's own inspection" "$W/$guest-libguestfs.log"; then
    nok "$guest: --inspector=libguestfs still used the native inspection"
  else
    ok "$guest: the libguestfs run used guestfs_inspect_os"
  fi
  if python3 - "$W/$guest-native.json" "$W/$guest-libguestfs.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["guest"]["identity"] for p in sys.argv[1:3])
diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
for k in diff:
    print("#   %s: native %r, libguestfs %r" % (k, a.get(k), b.get(k)))
# the facts must be there at all, not equal because both are empty
need = ["distro", "version_major", "product_name", "arch", "hostname",
        "package_format", "package_manager", "root_device", "kernels"]
missing = [k for k in need if not a.get(k)]
for k in missing:
    print("#   %s: empty" % k)
sys.exit(1 if diff or missing else 0)
PY
  then
    ok "$guest: native identity == libguestfs identity"
  else
    nok "$guest: the identities differ (above)"
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
