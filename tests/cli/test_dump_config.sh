#!/bin/bash
# --dump-config: merged values with their sources, precedence CLI > YAML > env.
H2K=$1
. "$(dirname "$0")/lib.sh"

cat > a.yaml <<YAML
compress_level: 4
out_format: raw
checksum: true
YAML
cat > b.yaml <<YAML
compress_level: 5
YAML
export HYPER2KVM_COMPRESS_LEVEL=2 HYPER2KVM_COMPRESS=true HYPER2KVM_CHECKSUM=false
run "$H2K" --config a.yaml --config b.yaml --dump-config --json
expect_rc 0 dump
python3 - "$T/.out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def check(key, value, source):
    got = d[key]
    assert got["value"] == value, (key, got)
    assert got["source"].startswith(source), (key, got)
check("compress_level", "5", "file:b.yaml:1")   # later file wins over earlier and env
check("out_format", "raw", "file:a.yaml:2")
check("checksum", "true", "file:a.yaml:3")      # YAML beats env
check("compress", "true", "env:HYPER2KVM_COMPRESS")  # env beats default
check("fstab_mode", "stabilize-all", "default")
PY
run "$H2K" --config a.yaml --config b.yaml --compress-level 8 --dump-config
expect_out "compress_level:        8" "cli wins"
grep -E '^compress_level: +8 +# cli$' "$T/.out" >/dev/null || fail "cli source shown: $OUT"
pass "precedence and sources"

cat > bad.yaml <<YAML
cmd: local
outpt_dir: /x
YAML
run "$H2K" --config bad.yaml --dump-config
expect_rc 2 "unknown key"
expect_err "bad.yaml:2: unknown key 'outpt_dir'; did you mean output_dir?" "did you mean"
cat > badtype.yaml <<YAML
vm_vcpus: many
YAML
run "$H2K" --config badtype.yaml --dump-config
expect_rc 2 "type error"
expect_err "badtype.yaml:1:11: 'vm_vcpus' expects an integer" "type position"
run "$H2K" --config nonexistent.yaml --dump-config
expect_rc 2 "missing config"
expect_err "cannot load configuration file 'nonexistent.yaml'" "missing config"
pass "config errors"
