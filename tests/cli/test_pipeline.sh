#!/bin/bash
# Pipeline behaviour: output layout, reports, JSON events, dry run, failures.
H2K=$1
. "$(dirname "$0")/lib.sh"

make_disk "$T/base.qcow2" 64M
qemu-img create -q -f qcow2 -b "$T/base.qcow2" -F qcow2 "$T/snap1.qcow2"
qemu-io -f qcow2 -c 'write -P 0x11 1536K 1M' "$T/snap1.qcow2" >/dev/null
qemu-img create -q -f qcow2 -b "$T/snap1.qcow2" -F qcow2 "$T/web01.qcow2"
qemu-io -f qcow2 -c 'write -P 0x22 40M 512K' "$T/web01.qcow2" >/dev/null
sha_before=$(sha256sum "$T"/base.qcow2 "$T"/snap1.qcow2 "$T"/web01.qcow2)

# Dry run: runs FETCH..PLAN, prints the plan, writes nothing.
run "$H2K" local "$T/web01.qcow2" -o "$T/out" --dry-run
expect_rc 0 "dry run"
expect_out "dry run, nothing written" "plan printed"
expect_out "3 layer(s)" "plan shows the chain"
[ ! -e "$T/out" ] || fail "dry run created the output dir"
[ ! -e "$HOME/.cache/hyper2kvm" ] || fail "dry run created the conversion dir"
pass "--dry-run writes nothing"

# A real run with JSON events.
run "$H2K" local "$T/web01.qcow2" -o "$T/out" --json --checksum
expect_rc 0 "json run"
python3 - "$T/.out" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = [e["event"] for e in events]
assert names[0] == "job_start", names
stages = [e["stage"] for e in events if e["event"] == "stage_start"]
assert stages == ["fetch", "flatten", "inspect", "plan", "fix", "convert", "validate"], stages
ends = {e["stage"]: e["status"] for e in events if e["event"] == "stage_end"}
assert ends["convert"] == "ok" and ends["inspect"] == "skipped", ends  # HYPER2KVM_INSPECT=false (lib.sh)
assert any(e["event"] == "progress" for e in events)
res = events[-1]
assert res["event"] == "result" and res["status"] == "ok" and res["exit_code"] == 0, res
assert len(res["disks"][0]["sha256"]) == 64
PY
pass "--json events: stages in order, progress, result"

o="$T/out/web01"
for f in web01.qcow2 metadata.json report.json report.md; do
  [ -s "$o/$f" ] || fail "missing $o/$f"
done
! ls -a "$o" | grep -q partial || fail "partial file left"
qemu-img compare -q "$T/web01.qcow2" "$o/web01.qcow2" || fail "content differs"
qemu-img check -q "$o/web01.qcow2" || fail "qemu-img check"
[ "$(sha256sum "$o/web01.qcow2" | cut -d' ' -f1)" = "$(python3 -c "import json;print(json.load(open('$o/metadata.json'))['disks'][0]['sha256'])")" ] \
  || fail "metadata sha256 differs from the file"
python3 - "$o" <<'PY'
import json, sys, os
m = json.load(open(os.path.join(sys.argv[1], "metadata.json")))
assert m["disks"][0]["chain_depth"] == 3, m["disks"][0]
assert m["source"]["kind"] == "local"
assert len(m["source"]["files"]) == 3
r = json.load(open(os.path.join(sys.argv[1], "report.json")))
assert r["status"] == "ok"
assert [s["stage"] for s in r["stages"]] == ["fetch","flatten","inspect","plan","fix","convert","validate"]
assert all("duration_s" in s for s in r["stages"])
PY
grep -q "| convert | ok |" "$o/report.md" || fail "report.md"
python3 "$(dirname "$0")/validate_metadata.py" "$(dirname "$0")/../../docs/metadata.schema.json" "$o/metadata.json" ||
  fail "metadata.json does not match docs/metadata.schema.json"
[ "$sha_before" = "$(sha256sum "$T"/base.qcow2 "$T"/snap1.qcow2 "$T"/web01.qcow2)" ] || fail "source modified"
pass "output layout, reports, chain flattened, sources untouched"

# Deterministic: same input and options give the same bytes.
run "$H2K" local "$T/web01.qcow2" -o "$T/out2" -c --compress-type zstd
run "$H2K" local "$T/web01.qcow2" -o "$T/out3" -c --compress-type zstd --workers 1
cmp "$T/out2/web01/web01.qcow2" "$T/out3/web01/web01.qcow2" || fail "not deterministic"
pass "deterministic output"

# A failure names the stage and leaves nothing that looks complete.
cp "$T/web01.qcow2" "$T/broken.qcow2"
rm "$T/snap1.qcow2"   # chain now broken
run "$H2K" local "$T/broken.qcow2" -o "$T/out4"
expect_rc 3 "broken chain"
expect_err "stage FETCH failed" "names the stage"
[ ! -e "$T/out4/broken/broken.qcow2" ] || fail "complete-looking output after failure"
! ls -a "$T/out4/broken" 2>/dev/null | grep -q partial || fail "partial left"
python3 -c "import json;r=json.load(open('$T/out4/broken/report.json'));assert r['status']=='failed' and r['exit_code']==3,r"
pass "failures name the stage, exit with the class, leave no complete-looking file"
