#!/usr/bin/env bash
# Prepares the ONNX node tests for the GPU check (tests/gpu/node_ptx_check.py, run where there is a GPU):
# every test of tests/conformance/node_compiled.pass (those that pass compiled for the CPU) is compiled
# with `tcc compile --emit ptx -target TARGET`; each one whose plan is a single kernel without symbolic
# sizes goes into OUT/NAME with its model, its test_data_set_0, the PTX and the compile output (which names
# the kernel entry and its parameters). The PTX is checked with ptxas first when the CUDA toolkit is there.
#
# usage: tests/gpu/prepare_node_ptx.sh OUT [-t TCC] [-T TARGET] [-d NODE_DIR]
#   defaults: build/tcc, sm_90, $TCC_ONNX_TESTS/node or ../shared/onnx-tests/node
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: tests/gpu/prepare_node_ptx.sh OUT [-t TCC] [-T TARGET] [-d NODE_DIR]}
shift
tcc=$root/build/tcc
target=sm_90
node_dir=${TCC_ONNX_TESTS:+$TCC_ONNX_TESTS/node}
node_dir=${node_dir:-$root/../shared/onnx-tests/node}
while [ $# -gt 0 ]; do
  case $1 in
    -t) tcc=$2; shift 2 ;;
    -T) target=$2; shift 2 ;;
    -d) node_dir=$2; shift 2 ;;
    *) echo "prepare_node_ptx.sh: unexpected argument '$1'" >&2; exit 2 ;;
  esac
done
ptxas=$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)
[ -x "$ptxas" ] || ptxas=
mkdir -p "$out"
taken=0 several=0 failed=0 rejected=0
while read -r name; do
  [ -d "$node_dir/$name" ] || continue
  dir=$out/$name
  mkdir -p "$dir"
  if ! "$tcc" compile "$node_dir/$name/model.onnx" -target "$target" --emit ptx -o "$dir/kernel.ptx" > "$dir/plan.txt" 2>&1; then
    echo "compile failed: $name: $(tail -1 "$dir/plan.txt")"
    failed=$((failed + 1)); rm -rf "$dir"; continue
  fi
  if ! grep -q '^plan: 1 kernels' "$dir/plan.txt" || grep -q '^syms\[' "$dir/plan.txt"; then
    several=$((several + 1)); rm -rf "$dir"; continue
  fi
  if [ -n "$ptxas" ] && ! "$ptxas" -arch="$target" "$dir/kernel.ptx" -o /dev/null 2> "$dir/ptxas.log"; then
    echo "ptxas rejected: $name: $(head -1 "$dir/ptxas.log")"
    rejected=$((rejected + 1)); rm -rf "$dir"; continue
  fi
  cp "$node_dir/$name/model.onnx" "$dir/"
  cp -r "$node_dir/$name/test_data_set_0" "$dir/"
  taken=$((taken + 1))
done < "$root/tests/conformance/node_compiled.pass"
echo "prepared $taken tests in $out (target $target); not taken: $several with several kernels or symbolic sizes," \
     "$failed that did not compile, $rejected rejected by ptxas${ptxas:+ ($ptxas)}"
[ $failed -eq 0 ] && [ $rejected -eq 0 ]
