#!/usr/bin/env bash
# Compiles the shared model suite for a GPU target, for tests/gpu/models_check.py (run where the GPU is):
# OUT/NAME/model.so (tcc compile -target TARGET) and OUT/NAME/test_data_set_0 (the reference data).
#
# usage: tests/gpu/prepare_models.sh OUT [-t TCC] [-T TARGET] [-p PRECISION] [-a] [-m MODELS_DIR] [NAME]...
#   defaults: build/tcc, sm_90, fp32, $TCC_MODELS or ../shared/models, every model there; -a: --allow-tf32
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: tests/gpu/prepare_models.sh OUT [-t TCC] [-T TARGET] [-p PRECISION] [-a] [-m MODELS_DIR] [NAME]...}
shift
tcc=$root/build/tcc
target=sm_90
precision=fp32
models=${TCC_MODELS:-$root/../shared/models}
names=()
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    -t) tcc=$2; shift 2 ;;
    -T) target=$2; shift 2 ;;
    -p) precision=$2; shift 2 ;;
    -a) extra+=(--allow-tf32); shift ;;
    -m) models=$2; shift 2 ;;
    -*) echo "prepare_models.sh: unexpected argument '$1'" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=($(cd "$models" && ls -d */ | tr -d /))
for name in "${names[@]}"; do
  [ -f "$models/$name/model.onnx" ] || continue
  mkdir -p "$out/$name"
  "$tcc" compile "$models/$name/model.onnx" -target "$target" --precision "$precision" ${extra[@]+"${extra[@]}"} -o "$out/$name/model.so" | tail -1
  rm -rf "$out/$name/test_data_set_0"
  cp -r "$models/$name/test_data_set_0" "$out/$name/"
done
