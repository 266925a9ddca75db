#!/usr/bin/env bash
# Pass ablation: for each model, compiles it with all graph passes on, then with each pass disabled in turn
# (`tcc compile --disable-pass NAME`), checks each module's outputs against the model's reference
# (test_data_set_0, `tcc run --compare`) and times it on those inputs with `tcc run --bench K` (after a
# warm-up run; on TCC_NUM_THREADS threads, default 2). The timing goes in rounds — each round runs every configuration of
# the model once, K timed runs each — so that load from other processes falls on all of them alike; a
# configuration's latency is the median of its rounds' medians, and its minimum the smallest run. Prints
# per model and configuration the latency and the slowdown against all passes on (> 1: the pass helps);
# a pass whose absence breaks compilation, running or the results is reported as such. When the model does
# not compile with all passes on, the baseline is the pipeline without fusion and every row has fusion off.
#
# usage: bench/ablation.sh [-r ROUNDS] [-k RUNS] [-t TCC] [-d MODELS_DIR] [-T TARGET] [-o WORK_DIR]
#                          [--markdown] [MODEL...]
#   defaults: 5 rounds of 4 runs, build-bench/tcc, $TCC_MODELS or ../shared/models, x86-64-v4, a temporary
#   directory, models resnet18 mobilenet_v2 bert_mini gpt_mini. --markdown adds a table with one column per
#   model, each cell "median ms (slowdown)".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=5
runs=4
tcc=$root/build-bench/tcc
models_dir=${TCC_MODELS:-$root/../shared/models}
target=x86-64-v4
work=
markdown=0
models=()
while [ $# -gt 0 ]; do
  case $1 in
    -r) rounds=$2; shift 2 ;;
    -k) runs=$2; shift 2 ;;
    -t) tcc=$2; shift 2 ;;
    -d) models_dir=$2; shift 2 ;;
    -T) target=$2; shift 2 ;;
    -o) work=$2; shift 2 ;;
    --markdown) markdown=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "ablation.sh: unknown option $1" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
[ ${#models[@]} -gt 0 ] || models=(resnet18 mobilenet_v2 bert_mini gpt_mini)
[ -x "$tcc" ] || { echo "ablation.sh: no tcc at $tcc (build it, or give -t)" >&2; exit 2; }
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/tcc-ablation-XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
export TCC_NUM_THREADS=${TCC_NUM_THREADS:-2}

# The pipeline's passes (passes/pipeline.c, docs/passes.md), in order.
passes=(canonicalize constant_folding dce cse fold_batch_norm sink_transposes layout precision fusion memory_planning)

# build MODEL TAG FLAGS...: compiles and checks $work/MODEL.TAG.so; prints nothing and returns 0 when it is
# good, else prints why.
build() {
  local model=$1 tag=$2
  shift 2
  local so=$work/$model.$tag.so log=$work/$model.$tag.log out rc
  if ! "$tcc" compile "$models_dir/$model/model.onnx" -target "$target" -o "$so" "$@" >"$log" 2>&1; then
    echo "compile fails: $(grep -v '^$' "$log" | tail -1 | sed 's/^tcc compile: //' | cut -c1-100)"
    return 1
  fi
  out=$("$tcc" run "$so" --compare "$models_dir/$model/test_data_set_0" --atol 1e-4 --rtol 1e-3 2>&1)
  rc=$?
  echo "$out" >>"$log"
  if [ $rc -eq 1 ]; then
    echo "wrong results: $(echo "$out" | grep -m1 '^compare .*: FAIL' | cut -c1-100)"
    return 1
  elif [ $rc -ne 0 ]; then
    echo "run fails: $(echo "$out" | grep -v '^$' | tail -1 | cut -c1-100)"
    return 1
  fi
}

median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "machine: $(lscpu | sed -n 's/^Model name: *//p')$(grep -q ' avx512f' /proc/cpuinfo && echo ' (AVX-512)'), $(nproc) cores; date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "tcc: $tcc, target $target, TCC_NUM_THREADS=$TCC_NUM_THREADS; $rounds rounds of tcc run --bench $runs per configuration"
rows=()
for model in "${models[@]}"; do
  base_flags=()
  if ! why=$(build "$model" base); then
    echo "$model: all passes: $why; baseline without fusion" >&2
    rows+=("$model|all passes|-|-|$why")
    base_flags=(--disable-pass fusion)
    if ! why=$(build "$model" base "${base_flags[@]}"); then
      rows+=("$model|all passes but fusion|-|-|$why")
      continue
    fi
  fi
  # The configurations in pipeline order: their tags and row names; failed[tag] says why one does not build.
  tags=(base) names=("all passes${base_flags:+ but fusion}")
  declare -A failed=()
  for pass in "${passes[@]}"; do
    if [ ${#base_flags[@]} -gt 0 ] && [ "$pass" = fusion ]; then continue; fi
    tags+=("no_$pass") names+=("-$pass")
    if ! why=$(build "$model" "no_$pass" "${base_flags[@]}" --disable-pass "$pass"); then
      failed[no_$pass]=$why
      echo "$model: -$pass: $why" >&2
    fi
  done
  for ((r = 1; r <= rounds; r++)); do
    for tag in "${tags[@]}"; do
      [ -z "${failed[$tag]:-}" ] || continue
      out=$("$tcc" run "$work/$model.$tag.so" --compare "$models_dir/$model/test_data_set_0" --atol 1e-4 --rtol 1e-3 \
        --bench "$runs" 2>&1) || { echo "$model $tag: $out" >&2; continue; }
      echo "$out" | sed -n 's/^median_ms: //p' >>"$work/$model.$tag.medians"
      echo "$out" | sed -n 's/^min_ms: //p' >>"$work/$model.$tag.mins"
    done
    echo "$model: round $r of $rounds done" >&2
  done
  base_ms=
  for i in "${!tags[@]}"; do
    tag=${tags[$i]}
    [ -z "${failed[$tag]:-}" ] || { rows+=("$model|${names[$i]}|-|-|${failed[$tag]}"); continue; }
    [ -s "$work/$model.$tag.medians" ] || { rows+=("$model|${names[$i]}|-|-|timing runs failed"); continue; }
    ms=$(median <"$work/$model.$tag.medians")
    min=$(sort -g "$work/$model.$tag.mins" | head -1)
    [ -n "$base_ms" ] || base_ms=$ms
    rows+=("$model|${names[$i]}|$(printf '%.3f' "$ms")|$(printf '%.3f' "$min")|$(awk -v a="$ms" -v b="$base_ms" 'BEGIN { printf "%.2f", a / b }')")
  done
  rm -f "$work/$model".*.so "$work/$model".*.h
done

echo "load average at the end (1, 5, 15 min; other processes share the cores): $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n%-14s %-26s %12s %12s  %s\n' model configuration median_ms min_ms "slowdown (median / all passes)"
for row in "${rows[@]}"; do
  IFS='|' read -r m c ms min ratio <<<"$row"
  printf '%-14s %-26s %12s %12s  %s\n' "$m" "$c" "$ms" "$min" "$ratio"
done
if [ $markdown -eq 1 ]; then
  # One row per configuration, one column per model: "median ms (slowdown)" or what failed.
  printf '%s\n' "${rows[@]}" | awk -F'|' '
    !($1 in seen_model) { seen_model[$1] = 1; models[++nm] = $1 }
    !($2 in seen_conf) { seen_conf[$2] = 1; confs[++nc] = $2 }
    { cell[$1, $2] = $3 == "-" ? $5 : $3 " (" $5 ")" }
    END {
      printf "\n| configuration |"; for (i = 1; i <= nm; i++) printf " %s |", models[i]; printf "\n| --- |"
      for (i = 1; i <= nm; i++) printf " --- |"; printf "\n"
      for (j = 1; j <= nc; j++) {
        printf "| %s |", confs[j]
        for (i = 1; i <= nm; i++) printf " %s |", ((models[i], confs[j]) in cell) ? cell[models[i], confs[j]] : ""
        printf "\n"
      }
    }'
fi
