#!/usr/bin/env bash
# AArch64 modules, cross-compiled here and run under qemu-aarch64 (docs/cross.md): `tcc compile -target
# aarch64`, the cross-compiled tcc-module-runner (its --signature and a run through `tcc run --runner`),
# results against the evaluator on the bundled sample, a few ONNX node tests, the shared models against
# their PyTorch references, and the sample application (samples/app.c) cross-built against an aarch64 module.
# Skips (exit 77) with the reason when qemu-aarch64, the cross compiler or the aarch64 runner is missing;
# the node tests and models are skipped, with a message, when their data is absent.
# usage: aarch64.sh TCC_BINARY AARCH64_RUNNER [MODELS_DIR] [ONNX_TESTS_DIR]
#   TCC_AARCH64_MODELS="mlp resnet18"  limits the models (default: all seven)
#   QEMU_LD_PREFIX                     the aarch64 sysroot (default /usr/aarch64-linux-gnu)
set -u
tcc=$1 runner_bin=$2 models=${3:-} node_tests=${4:-}
sysroot=${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}
cross_cc=${TCC_CC_AARCH64:-aarch64-linux-gnu-gcc}

skip() { echo "aarch64.sh: SKIP: $*"; exit 77; }
command -v qemu-aarch64 >/dev/null || skip "qemu-aarch64 not found (install the Debian package qemu-user)"
command -v "$cross_cc" >/dev/null || skip "$cross_cc not found (install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)"
[ -d "$sysroot/lib" ] || skip "no aarch64 sysroot at $sysroot (install libc6-dev-arm64-cross, or set QEMU_LD_PREFIX)"
[ -x "$runner_bin" ] || skip "$runner_bin is not built (reconfigure tcc after installing gcc-aarch64-linux-gnu)"

runner="qemu-aarch64 -L $sysroot $runner_bin"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
start=$(date +%s)

. "$(dirname "$0")/expect.sh"

# compile_and_compare NAME MODEL DATA_DIR [tcc run options...]: an aarch64 module, run through the runner
# (exit 0 of `tcc run --compare` means every output is within tolerance); its time unless $quiet is set
quiet=""
compile_and_compare() {
  local name=$1 model=$2 data=$3
  shift 3
  local t0=$SECONDS
  expect "$name-compile" 0 'compiled .* for aarch64' -- "$tcc" compile "$model" -target aarch64 -o "$dir/$name.so"
  [ -f "$dir/$name.so" ] || return
  expect "$name-compare" 0 '^compare .*: ok' -- "$tcc" run "$dir/$name.so" --runner "$runner" --compare "$data" "$@"
  rm -f "$dir/$name.so" "$dir/$name.h"
  [ -z "$quiet" ] && echo "aarch64.sh: $name $((SECONDS - t0)) s"
}

# ---- the bundled sample: module format, signature, results equal to the evaluator's ----
expect compile 0 'compiled samples/tiny_cnn.onnx for aarch64: [0-9]+ kernels' -- \
  "$tcc" compile samples/tiny_cnn.onnx -target aarch64 -o "$dir/tiny_cnn.so"
expect is-aarch64 0 'Machine: +AArch64' -- readelf -h "$dir/tiny_cnn.so"
expect signature 0 '^model tiny_cnn target aarch64 input image f32 \[batch,3,32,32\] output probs f32 \[batch,10\] $' -- \
  sh -c "$runner '$dir/tiny_cnn.so' --signature | tr '\n' ' '"
mkdir -p "$dir/ref"
"$tcc" run samples/tiny_cnn.onnx --dim batch=3 --output-dir "$dir/ref" >/dev/null && cp "$dir/ref/probs.pb" "$dir/ref/output_0.pb"
expect runner-matches 0 'target aarch64 \(through the runner\).*compare probs: ok' -- \
  sh -c "'$tcc' run '$dir/tiny_cnn.so' --runner '$runner' --dim batch=3 --atol 1e-6 --compare '$dir/ref' | tr '\n' ' '"
expect runner-seed-differs 1 'compare probs: FAIL' -- \
  "$tcc" run "$dir/tiny_cnn.so" --runner "$runner" --dim batch=3 --seed 9 --compare "$dir/ref"
expect runner-compile 0 'compare probs: ok' -- \
  "$tcc" run samples/tiny_cnn.onnx --compile -target aarch64 --runner "$runner" --dim batch=3 --atol 1e-6 --compare "$dir/ref"
expect runner-bench 0 'median_ms: [0-9.]+.*min_ms: [0-9.]+' -- \
  sh -c "'$tcc' run '$dir/tiny_cnn.so' --runner '$runner' --bench 3 | tr '\n' ' '"
mkdir -p "$dir/out"
expect runner-output-dir 0 '' -- "$tcc" run "$dir/tiny_cnn.so" --runner "$runner" --dim batch=3 --output-dir "$dir/out"
expect output-dir-matches 0 'compare probs: ok' -- sh -c "cp '$dir/out/probs.pb' '$dir/out/output_0.pb' &&
  '$tcc' run samples/tiny_cnn.onnx --dim batch=3 --atol 1e-6 --compare '$dir/out'"
# errors: a module of another architecture without --runner; a runner that fails (its stderr shown), a wrong input
expect foreign-without-runner 3 'another architecture' -- "$tcc" run "$dir/tiny_cnn.so"
expect runner-missing 4 "cannot run '$dir/none': No such file" -- "$tcc" run "$dir/tiny_cnn.so" --runner "$dir/none"
expect runner-wrong-input 4 "tcc-module-runner: error: input 'image' \(0\): rank is 2, the model expects 4" -- \
  "$tcc" run "$dir/tiny_cnn.so" --runner "$runner" --input "image=$dir/ref/probs.pb"
expect runner-needs-module 2 '--runner runs compiled modules' -- "$tcc" run samples/tiny_cnn.onnx --runner "$runner"

# ---- the sample application, cross-built against an aarch64 module through its header ----
mkdir -p "$dir/app"
"$tcc" compile samples/tiny_cnn.onnx -target aarch64 -o "$dir/app/tiny_cnn.so" >/dev/null
expect app-builds 0 '' -- "$cross_cc" -O2 -std=c17 -Wall -Wextra -Werror -I"$dir/app" samples/app.c "$dir/app/tiny_cnn.so" \
  -Wl,-rpath,"$dir/app" -o "$dir/app/app"
expect app-is-aarch64 0 'Machine: +AArch64' -- readelf -h "$dir/app/app"
expect app-runs 0 'image 1: class [0-9] \(p = 0\.[0-9]+\).*wrong input refused: .*dim 1 is 4.*median_ms' -- \
  sh -c "qemu-aarch64 -L '$sysroot' '$dir/app/app' | tr '\n' ' '"
echo "aarch64.sh: sample and application $(($(date +%s) - start)) s"

# ---- ONNX node tests: dtypes f32/f64/i64/bool, broadcasting, integer and reduction kernels ----
if [ -n "$node_tests" ] && [ -d "$node_tests" ]; then
  for t in test_add_bcast test_matmul_2d test_conv_with_strides_padding test_softmax_axis_1 test_gather_0 \
           test_cast_FLOAT_to_DOUBLE test_where_example test_argmax_default_axis_example test_equal test_mod_int64_fmod \
           test_layer_normalization_2d_axis0 test_maxpool_2d_pads; do
    if [ -d "$node_tests/$t" ]; then quiet=1 compile_and_compare "$t" "$node_tests/$t/model.onnx" "$node_tests/$t/test_data_set_0"
    else echo "aarch64.sh: node test $t is absent, skipped"; fi
  done
  echo "aarch64.sh: node tests $(($(date +%s) - start)) s since the start"
else
  echo "aarch64.sh: ONNX node tests not found (${node_tests:-no directory given}; set TCC_ONNX_TESTS): skipped"
fi

# ---- the shared models against their PyTorch references ----
if [ -n "$models" ] && [ -d "$models" ]; then
  for m in ${TCC_AARCH64_MODELS:-mlp convnet3x3 squeezenet1_1 mobilenet_v2 resnet18 bert_mini gpt_mini}; do
    if [ -f "$models/$m/model.onnx" ]; then
      compile_and_compare "$m" "$models/$m/model.onnx" "$models/$m/test_data_set_0" --rtol 1e-3 --atol 1e-4
    else
      echo "aarch64.sh: model $m is absent from $models, skipped"
    fi
  done
else
  echo "aarch64.sh: models not found (${models:-no directory given}; set TCC_MODELS): skipped"
fi

echo "aarch64.sh: $(($(date +%s) - start)) s"
finish "aarch64.sh: "
