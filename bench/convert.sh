#!/bin/bash
# Benchmark: hyper2kvm convert vs qemu-img convert on the same inputs,
# run alternately, median of RUNS. Prints the time ratio hyper2kvm/qemu-img,
# peak RSS of each, and bytes hyper2kvm left in its conversion directory.
#   bench/convert.sh [BUILD]      env: BENCH_VSIZE_G (8) BENCH_DATA_M (2048)
#                                      BENCH_RUNS (5) BENCH_DIR (/var/tmp/h2k-bench)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
H2K="$ROOT/${1:-build}/src/hyper2kvm"
VSIZE=$(( ${BENCH_VSIZE_G:-8} << 30 ))
DATA=$(( ${BENCH_DATA_M:-2048} << 20 ))
RUNS=${BENCH_RUNS:-5}
D=${BENCH_DIR:-/var/tmp/h2k-bench}
command -v /usr/bin/time >/dev/null || { echo "bench needs GNU time (apt-get install time)" >&2; exit 1; }
mkdir -p "$D"
src="$D/src-${BENCH_VSIZE_G:-8}G-${BENCH_DATA_M:-2048}M.raw"
if [ ! -f "$src" ]; then
  echo "bench: generating $src"
  python3 "$ROOT/bench/mkdisk.py" "$src.tmp" "$VSIZE" "$DATA"
  mv "$src.tmp" "$src"
fi
declare -A inputs=(
  [raw]="$src"
  [vmdk-sparse]="$D/in-sparse.vmdk"
  [vmdk-stream]="$D/in-stream.vmdk"
  [vhdx]="$D/in.vhdx"
)
[ -f "$D/in-sparse.vmdk" ] || qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse "$src" "$D/in-sparse.vmdk"
[ -f "$D/in-stream.vmdk" ] || qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$src" "$D/in-stream.vmdk"
[ -f "$D/in.vhdx" ] || qemu-img convert -f raw -O vhdx "$src" "$D/in.vhdx"

# run_timed OUTVAR_TIME OUTVAR_RSS CMD...: wall seconds and peak RSS (KiB)
run_timed() {
  local tv=$1 rv=$2
  shift 2
  rm -f "$D/out.img"
  /usr/bin/time -f '%e %M' -o "$D/time.txt" "$@" >/dev/null 2>"$D/err.txt" ||
    { cat "$D/err.txt" >&2; exit 1; }
  read -r "$tv" "$rv" < "$D/time.txt"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-12s %-6s %9s %9s %7s %9s %9s %s\n' input mode h2k_s qemu_s ratio h2k_rss qemu_rss conv_dir_bytes
for mode in plain zlib zstd; do
  case $mode in
    plain) h2k_opts=(); q_opts=() ;;
    zlib) h2k_opts=(-c); q_opts=(-c) ;;
    zstd) h2k_opts=(-c --compress-type zstd); q_opts=(-c -o compression_type=zstd) ;;
  esac
  for name in raw vmdk-sparse vmdk-stream vhdx; do
    in=${inputs[$name]}
    ht=() qt=() hr=0 qr=0
    for _ in $(seq "$RUNS"); do
      run_timed t r "$H2K" convert -q "$in" "$D/out.img" "${h2k_opts[@]}"
      ht+=("$t"); [ "$r" -gt "$hr" ] && hr=$r
      run_timed t r qemu-img convert -O qcow2 "${q_opts[@]}" "$in" "$D/out.img"
      qt+=("$t"); [ "$r" -gt "$qr" ] && qr=$r
    done
    mh=$(median "${ht[@]}"); mq=$(median "${qt[@]}")
    # the pipeline's conversion directory holds no image copy for local input
    conv="$D/conv"; rm -rf "$conv" "$D/jobout"
    "$H2K" local "$in" -q --no-inspect --no-validate --keep-temp --conversion-dir "$conv" -o "$D/jobout" --vm-name b "${h2k_opts[@]}" >/dev/null
    cbytes=$(find "$conv" -type f ! -name checkpoint.json ! -name lock ! -name .hyper2kvm-job -printf '%s\n' | awk '{s+=$1} END {print s+0}')
    rm -rf "$D/jobout"
    printf '%-12s %-6s %9s %9s %7.2f %8dM %8dM %s\n' "$name" "$mode" "$mh" "$mq" \
      "$(echo "$mh $mq" | awk '{print ($2 > 0) ? $1 / $2 : 0}')" $((hr / 1024)) $((qr / 1024)) "$cbytes"
  done
done
rm -f "$D/out.img"
