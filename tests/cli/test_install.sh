#!/bin/bash
# make install: the tool, the h2kvmctl alias, the man page, the library with
# its header and pkg-config file; a program builds against the installed lib.
H2K=$1
BUILD=$(realpath "$2")
. "$(dirname "$0")/lib.sh"

meson install -C "$BUILD" --no-rebuild --destdir "$T/root" >/dev/null
prefix=$(meson introspect "$BUILD" --buildoptions | python3 -c 'import json,sys;print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
R="$T/root$prefix"
[ -x "$R/bin/hyper2kvm" ] || fail "hyper2kvm not installed"
[ "$(readlink "$R/bin/h2kvmctl")" = hyper2kvm ] || fail "h2kvmctl alias"
"$R/bin/h2kvmctl" version | grep -q "hyper2kvm" || fail "alias does not run"
[ -f "$R/share/man/man1/hyper2kvm.1" ] || fail "man page"
[ -L "$R/share/man/man1/h2kvmctl.1" ] || fail "man alias"
[ -f "$R/include/hyper2kvm.h" ] || fail "header"
svc="$R/lib/systemd/system/hyper2kvm-cleanup.service"
[ -f "$svc" ] && [ -f "$R/lib/systemd/system/hyper2kvm-cleanup.timer" ] || fail "systemd units"
grep -q "^ExecStart=$prefix/bin/hyper2kvm cleanup " "$svc" || fail "unit ExecStart: $(grep ExecStart "$svc")"
pc=$(find "$R" -name libhyper2kvm.pc | head -1)
[ -n "$pc" ] || fail "pkg-config file"
[ -n "$(find "$R" -name "libhyper2kvm.so*")" ] || fail "library"
cat > app.c <<'C'
#include <hyper2kvm.h>
#include <stdio.h>
int main(void) { printf("%s\n", h2k_version()); return 0; }
C
export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR="$T/root"
# A sanitizer build installs an instrumented library: link the app alike.
san=$(meson introspect "$BUILD" --buildoptions | python3 -c 'import json,sys;print([o["value"] for o in json.load(sys.stdin) if o["name"]=="b_sanitize"][0])')
sanflags=()
[ "$san" = none ] || sanflags=(-fsanitize="$san")
cc "${sanflags[@]}" app.c -o app $(pkg-config --cflags --libs libhyper2kvm) || fail "cannot build against the installed library"
LD_LIBRARY_PATH=$(dirname "$(find "$R" -name 'libhyper2kvm.so' | head -1)") ./app | grep -q '^0\.' || fail "app"
pass "install: tool, alias, man page, library, header, pkg-config"
