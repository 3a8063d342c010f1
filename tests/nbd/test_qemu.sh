#!/bin/bash
# lib/nbd against the real client: nbdserve exports an image read by our
# engine, and qemu-img / qemu-io / qemu-nbd read it over NBD. qemu reading the
# source directly (or a generator's expected raw, for chains qemu cannot
# read) is the oracle.
# Env: NBDSERVE (tests/nbd/nbdserve), MKVHD (tests/image/vhd/mkvhd.py).
set -euo pipefail

: "${NBDSERVE:?NBDSERVE must point at the built nbdserve}"
: "${MKVHD:?MKVHD must point at tests/image/vhd/mkvhd.py}"
for tool in qemu-img qemu-io; do
  command -v $tool >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/h2k-nbd.XXXXXX")
SERVERS=()
cleanup() {
  for pid in "${SERVERS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
cd "$T"

checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); echo "ok $checks - $*"; }
qio() { qemu-io -f "$1" "${@:3}" "$2" >/dev/null || fail "qemu-io on $2"; }

# serve NAME [nbdserve args...]: start nbdserve with socket $T/NAME.sock;
# sets PID and URI once the server is listening.
serve() {
  local name=$1
  shift
  "$NBDSERVE" "$@" "$T/$name.sock" >"$name.uri" 2>"$name.log" &
  PID=$!
  SERVERS+=("$PID")
  for _ in $(seq 200); do
    [ -s "$name.uri" ] && break
    kill -0 "$PID" 2>/dev/null || fail "nbdserve $*: $(cat "$name.log")"
    sleep 0.05
  done
  URI=$(cat "$name.uri")
  [ -n "$URI" ] || fail "nbdserve $* did not start"
}

# unserve PID SOCKET: SIGTERM must stop the server cleanly, socket removed.
unserve() {
  local pid=$1 sock=$2 rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "nbdserve exited with status $rc"
  [ ! -e "$sock" ] || fail "socket $sock left behind"
}

# same FMT SRC URI: qemu-img must find SRC (read by qemu) identical to the
# export.
same() {
  local out
  out=$(qemu-img compare -f "$1" "$2" -F raw "$3" 2>&1) ||
    fail "qemu-img compare $2 vs $3: $out"
  case "$out" in
    *"Images are identical."*) ok "$2 ($1) identical over NBD" ;;
    *) fail "compare $2: $out" ;;
  esac
}

# size_is URI BYTES: qemu-img info over NBD reports that virtual size.
size_is() {
  local out
  out=$(qemu-img info --output=json -f raw "$1") || fail "qemu-img info $1"
  case "$out" in
    *"\"virtual-size\": $2,"*) ok "virtual size $2 over NBD" ;;
    *) fail "qemu-img info $1, expected virtual size $2: $out" ;;
  esac
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---- Source images ----

# A raw disk with data, holes, random bytes and an odd tail.
qemu-img create -q -f raw src.raw 9M
qio raw src.raw -c 'write -P 0x11 0 1M' -c 'write -P 0x22 3146240 100k' \
  -c 'write -P 0x33 8M 512'
head -c 1500000 /dev/urandom | dd of=src.raw bs=1 seek=5000000 conv=notrunc \
  status=none

# A qcow2 chain: base <- mid <- top, with overwrites and zeroed ranges.
qemu-img convert -q -f raw -O qcow2 src.raw base.qcow2
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2
qio qcow2 mid.qcow2 -c 'write -P 0x44 512k 1M' -c 'write -z 4M 1M'
qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2
qio qcow2 top.qcow2 -c 'write -P 0x55 1000448 64k' -c 'write -z 0 4k' \
  -c 'write -P 0x66 9436160 1024'

qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized src.raw \
  so.vmdk
qemu-img convert -q -f raw -O vhdx src.raw src.vhdx
qemu-img convert -q -f raw -O vpc -o subformat=dynamic,force_size=on \
  src.raw src.vhd

# ---- Whole images ----

serve raw src.raw
same raw src.raw "$URI"
size_is "$URI" $((9 << 20))
unserve "$PID" raw.sock

serve chain top.qcow2
same qcow2 top.qcow2 "$URI"
# Two clients at once, each comparing the whole disk.
qemu-img compare -q -f qcow2 top.qcow2 -F raw "$URI" &
p1=$!
qemu-img compare -q -f qcow2 top.qcow2 -F raw "$URI" &
p2=$!
wait $p1 || fail "first of two concurrent compares"
wait $p2 || fail "second of two concurrent compares"
ok "two concurrent clients"
if command -v qemu-nbd >/dev/null; then
  out=$(qemu-nbd -L -k "$T/chain.sock" 2>&1) || fail "qemu-nbd -L: $out"
  case "$out" in
    *"size:  $((9 << 20))"* | *"size: $((9 << 20))"*) ok "qemu-nbd -L (NBD_OPT_LIST + NBD_OPT_INFO)" ;;
    *) fail "qemu-nbd -L output: $out" ;;
  esac
fi
unserve "$PID" chain.sock

serve vmdk so.vmdk
same vmdk so.vmdk "$URI"
unserve "$PID" vmdk.sock

serve vhdx src.vhdx
same vhdx src.vhdx "$URI"
unserve "$PID" vhdx.sock

serve vhd src.vhd
same vpc src.vhd "$URI"
unserve "$PID" vhd.sock

# A differencing VHDX chain qemu cannot read: the generator's expected raw
# is the oracle.
qemu-img create -q -f vhdx -o block_size=1M dbase.vhdx 20M
qio vhdx dbase.vhdx -c 'write -P 0x11 0 6M' -c 'write -P 0x12 10M 1M'
qemu-img convert -q -f vhdx -O raw dbase.vhdx dbase.raw
python3 "$MKVHD" vhdx-diff dbase.vhdx d1.vhdx --write 1M:8k:0x21 \
  --write 4M:2M:0x22 --zero-block 10 --expect-in dbase.raw --expect-out d1.raw
python3 "$MKVHD" vhdx-diff d1.vhdx d2.vhdx --write 15M:3M:0x32 \
  --write 0:512:0x41 --expect-in d1.raw --expect-out d2.raw
serve vhdxdiff d2.vhdx
same raw d2.raw "$URI"
unserve "$PID" vhdxdiff.sock

# ---- Byte ranges inside a bigger file (a disk read in place in an OVA) ----

head -c 1536 /dev/urandom >ova.bin
cat so.vmdk >>ova.bin
head -c 5000 /dev/urandom >>ova.bin
vmdk_size=$(stat -c %s so.vmdk)
serve ovavmdk --range 1536 "$vmdk_size" ova.bin
same vmdk so.vmdk "$URI"
OVA_PID=$PID OVA_URI=$URI

head -c 512 /dev/urandom >bigraw.bin
cat src.raw >>bigraw.bin
head -c 4096 /dev/urandom >>bigraw.bin
serve rawrange -f raw --range 512 $((9 << 20)) bigraw.bin
same raw src.raw "$URI"
size_is "$URI" $((9 << 20))
unserve "$PID" rawrange.sock

# ---- A qcow2 overlay backed by the export, as INSPECT/FIX use it ----

before=$(sha ova.bin)
qemu-img create -q -f qcow2 -u -b "$OVA_URI" -F raw ov.qcow2 9M
out=$(qemu-img compare -f qcow2 ov.qcow2 -F vmdk so.vmdk 2>&1) ||
  fail "overlay compare: $out"
ok "overlay over NBD reads like the source"
qio qcow2 ov.qcow2 -c 'write -P 0xab 0 64k'
qio qcow2 ov.qcow2 -c 'read -P 0xab 0 64k' -c 'read -P 0x11 64k 960k'
qemu-img convert -q -f qcow2 -O raw ov.qcow2 ov.raw
cmp -s -i 65536 ov.raw src.raw || fail "overlay beyond the write differs"
[ "$(sha ova.bin)" = "$before" ] || fail "source changed by an overlay write"
ok "overlay write landed in the overlay, source unchanged"
# The export itself refuses writes.
if qemu-io -f raw -c 'write -P 0xcd 0 4k' "$OVA_URI" >write.out 2>&1; then
  fail "a write over NBD succeeded: $(cat write.out)"
fi
[ "$(sha ova.bin)" = "$before" ] || fail "source changed by a direct write"
ok "writes over NBD refused"
unserve "$OVA_PID" ovavmdk.sock

# ---- Socket paths ----

mkdir "odd dir%"
serve "odd dir%/s p" src.raw
case "$URI" in
  *"odd%20dir%25/s%20p.sock") ;;
  *) fail "URI not percent-encoded: $URI" ;;
esac
size_is "$URI" $((9 << 20))
unserve "$PID" "odd dir%/s p.sock"

touch taken.sock
if out=$("$NBDSERVE" src.raw "$T/taken.sock" 2>&1); then
  fail "serving on an existing path succeeded"
fi
case "$out" in
  *"already exists"*) ok "existing socket path refused" ;;
  *) fail "existing path: $out" ;;
esac
long="$T/$(printf 'x%.0s' $(seq 120)).sock"
if out=$("$NBDSERVE" src.raw "$long" 2>&1); then
  fail "serving on a $((${#long})) byte path succeeded"
fi
case "$out" in
  *"Unix socket allows"*) ok "over-long socket path refused" ;;
  *) fail "long path: $out" ;;
esac

echo "all $checks checks passed"
