#!/usr/bin/env bash
# Import cost per model: wall time and peak resident memory of `tcc inspect` (median of 5 runs), against
# the model file's size. usage: bench/import.sh [TCC_BINARY] [MODELS_DIR]
set -euo pipefail
tcc=${1:-build/tcc}
models=${2:-${TCC_MODELS:-../shared/models}}
printf '%-16s %10s %10s %12s %10s\n' model file_MB time_ms peak_RSS_MB RSS/file
# time_ms is the whole process (start, import, inference, printing), measured around /usr/bin/time.
for dir in "$models"/*/; do
  model="$dir/model.onnx"
  [ -f "$model" ] || continue
  size=$(stat -c %s "$model")
  times=() rss=()
  for _ in 1 2 3 4 5; do
    start=$(date +%s%N)
    out=$( { /usr/bin/time -f '%M' "$tcc" inspect "$model" >/dev/null; } 2>&1 | tail -1)
    times+=("$(( ($(date +%s%N) - start) / 1000 ))")
    rss+=("$out")
  done
  t=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
  r=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n 3p)
  awk -v n="$(basename "$dir")" -v s="$size" -v t="$t" -v r="$r" \
    'BEGIN { printf "%-16s %10.1f %10.1f %12.1f %10.3f\n", n, s / 1e6, t / 1000, r / 1024, r * 1024 / s }'
done
