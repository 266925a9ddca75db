#!/usr/bin/env bash
# GPU code generation without a GPU: `tcc compile --emit ptx` for sm_80 and sm_90a of the bundled sample,
# the shared models (also in fp16 for sm_80 and bf16 for sm_90a: the tensor-core template; TF32 for
# sm_80) and the ONNX
# node tests that pass compiled for the CPU (every EVERY-th, 1 = all), each
# PTX file validated by the CUDA toolkit's ptxas for its target; the usage errors of GPU targets. Without
# the toolkit's libdevice (kernels with exp, tanh ... need it) only the usage errors are checked and the
# test is skipped (exit 77); without ptxas the PTX is emitted and only its validation is skipped.
# Running the kernels needs a GPU: tests/gpu/ (docs/gpu-testing.md).
# usage: ptx.sh TCC_BINARY [MODELS_DIR] [NODE_DIR] [EVERY]
set -u
tcc=$1 models=${2:-} node_dir=${3:-} every=${4:-1}
ptxas=$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)
[ -x "$ptxas" ] || { echo "ptx.sh: ptxas not found (no CUDA toolkit): PTX emitted, not validated"; ptxas=; }
libdevice=${TCC_LIBDEVICE:-/usr/local/cuda/nvvm/libdevice/libdevice.10.bc}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/expect.sh"

# emit NAME MODEL TARGET [PRECISION]: PTX emitted (and validated by ptxas when present); tf32: fp32 with
# --allow-tf32
emit() {
  local name=$1 model=$2 target=$3 precision=${4:-fp32} flags=(--precision "${4:-fp32}")
  [ "$precision" = tf32 ] && flags=(--precision fp32 --allow-tf32)
  expect "$name-$target-$precision" 0 "wrote .* \\($target\\)" -- \
    "$tcc" compile "$model" -target "$target" "${flags[@]}" --emit ptx -o "$dir/k.ptx"
  if [ -n "$ptxas" ] && [ -s "$dir/k.ptx" ]; then
    expect "$name-$target-$precision-ptxas" 0 '' -- "$ptxas" -arch="$target" "$dir/k.ptx" -o "$dir/k.cubin"
  fi
  rm -f "$dir/k.ptx" "$dir/k.cubin"
}

expect gpu-list-cpu 2 "'x86-64-v4' in -target sm_80,x86-64-v4 is not a GPU target" -- \
  "$tcc" compile samples/tiny_cnn.onnx -target sm_80,x86-64-v4 -o "$dir/m.so"
expect gpu-list-emit 2 '--emit writes the kernels of one target' -- \
  "$tcc" compile samples/tiny_cnn.onnx -target sm_80,sm_90 --emit ptx -o "$dir/m.ptx"
expect gpu-list-twice 1 "target 'sm_90' is listed twice" -- \
  "$tcc" compile samples/tiny_cnn.onnx -target sm_90,sm_90 -o "$dir/m.so"
expect ptx-for-cpu 2 '--emit ptx needs a GPU target' -- "$tcc" compile samples/tiny_cnn.onnx --emit ptx -o "$dir/m.ptx"
expect unknown-target 2 "unknown target 'sm_70'" -- "$tcc" compile samples/tiny_cnn.onnx -target sm_70 --emit ptx -o "$dir/m.ptx"
expect tf32-for-cpu 2 '--allow-tf32 is for GPU targets' -- \
  "$tcc" compile samples/tiny_cnn.onnx -target x86-64-v3 --allow-tf32 -o "$dir/m.so"
expect no-libdevice 1 'libdevice: cannot read' -- env TCC_LIBDEVICE=/nonexistent.bc \
  "$tcc" compile samples/tiny_cnn.onnx -target sm_90 --emit ptx -o "$dir/m.ptx"

if [ ! -r "$libdevice" ]; then
  finish "ptx.sh: "
  echo "ptx.sh: SKIP: no libdevice at $libdevice (the CUDA toolkit): no PTX emitted"
  [ "$failed" -eq 0 ] && exit 77
  exit 1
fi
# a GPU module for two targets: PTX for each (and cubins with ptxas); without a driver it refuses to run
expect gpu-module 0 'compiled samples/tiny_cnn.onnx for sm_80,sm_90a: 8 kernels' -- \
  "$tcc" compile samples/tiny_cnn.onnx -target sm_80,sm_90a -o "$dir/m.so"
expect gpu-module-ptx 0 '^2$' -- sh -c "grep -a -c -E '^\.target sm_(80|90a)$' '$dir/m.so'"
expect gpu-module-ptx-alone 0 'TCC_PTXAS=none: the module holds PTX only' -- \
  env TCC_PTXAS=none "$tcc" compile samples/tiny_cnn.onnx -target sm_90 -o "$dir/p.so"
expect gpu-module-no-driver 3 'no CUDA driver: cannot open libtcc-no-driver.so.1' -- \
  env TCC_CUDA_DRIVER=libtcc-no-driver.so.1 "$tcc" run "$dir/m.so"
expect sample-entries 0 '^\.visible \.entry softmax_gpu\(' -- sh -c \
  "'$tcc' compile samples/tiny_cnn.onnx -target sm_90 --emit ptx -o '$dir/s.ptx' >/dev/null && cat '$dir/s.ptx'"
for target in sm_80 sm_90a; do emit sample samples/tiny_cnn.onnx $target; done
# half precision: the tensor-core template (mma.sync, ldmatrix, cp.async) takes the convolutions and
# matrix products, with dynamic shared memory
expect sample-fp16-template 0 '^  kernel .*\(conv2d\+bias\+relu; [0-9]+ threads x 0 blocks \(as many as fit\), [1-9][0-9]* bytes shared[^)]*\)' -- \
  "$tcc" compile samples/tiny_cnn.onnx -target sm_90 --precision fp16 --emit ptx -o "$dir/h.ptx"
expect sample-fp16-mma 0 'mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32' -- cat "$dir/h.ptx"
emit sample samples/tiny_cnn.onnx sm_80 fp16
emit sample samples/tiny_cnn.onnx sm_90a bf16
# sm_90a: the warpgroup path, whose operands the TMA unit copies where their rows are whole 16-byte units
# (the weights of both convolutions: conv1 reads its 3-channel input padded to 8); the batch is symbolic, so each convolution
# gets a kernel per range of rows where its tiles differ, the last for every M from 4097 on
expect sample-tma 0 'kernel conv2_m[0-9]+_gpu .*, TMA copies of conv2.w.NHWC.f16, for M >= 4097\): ' -- \
  "$tcc" compile samples/tiny_cnn.onnx -target sm_90a --precision fp16 --emit ptx -o "$dir/w.ptx"
expect sample-tma-ptx 0 '^[1-9]' -- sh -c "grep -c 'cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes' '$dir/w.ptx'"
# float32: the same template on FMAs (4-float shared loads); with --allow-tf32 on mma.sync in TF32
expect sample-fp32-template 0 '^  kernel .*\(conv2d\+bias\+relu; [0-9]+ threads x 0 blocks \(as many as fit\), [1-9][0-9]* bytes shared[^)]*\)' -- \
  "$tcc" compile samples/tiny_cnn.onnx -target sm_90 --emit ptx -o "$dir/f.ptx"
expect sample-fp32-fma 0 'ld.shared.v4.f32' -- cat "$dir/f.ptx"
expect sample-tf32-mma 0 'mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32' -- \
  sh -c "'$tcc' compile samples/tiny_cnn.onnx -target sm_80 --allow-tf32 --emit ptx -o '$dir/t.ptx' >/dev/null && cat '$dir/t.ptx'"
emit sample samples/tiny_cnn.onnx sm_80 tf32
if [ -n "$models" ] && [ -d "$models" ]; then
  for m in "$models"/*/model.onnx; do
    for target in sm_80 sm_90a; do emit "$(basename "$(dirname "$m")")" "$m" $target; done
    emit "$(basename "$(dirname "$m")")" "$m" sm_80 fp16
    emit "$(basename "$(dirname "$m")")" "$m" sm_90a bf16
    emit "$(basename "$(dirname "$m")")" "$m" sm_80 tf32
  done
else
  echo "ptx.sh: no shared models (../shared/models or TCC_MODELS): skipped them"
fi
if [ -n "$node_dir" ] && [ -d "$node_dir" ]; then
  i=0
  while read -r name; do
    i=$((i + 1))
    [ $(((i - 1) % every)) -eq 0 ] && [ -f "$node_dir/$name/model.onnx" ] || continue
    for target in sm_80 sm_90a; do emit "$name" "$node_dir/$name/model.onnx" $target; done
  done < "$(dirname "$0")/../conformance/node_compiled.pass"
else
  echo "ptx.sh: no ONNX node tests (../shared/onnx-tests or TCC_ONNX_TESTS): skipped them"
fi
finish "ptx.sh: "
