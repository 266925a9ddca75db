#!/usr/bin/env bash
# `tcc run` end to end on the bundled sample: random inputs, saved outputs compared back, bad input; and,
# when the ONNX test data is at hand, sequence/optional test files and bfloat16 stored as uint16.
# usage: run.sh TCC_BINARY
set -u
tcc=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

. "$(dirname "$0")/expect.sh"

expect random-inputs 0 'probs: f32\[2, 10\]  min ' -- "$tcc" run samples/tiny_cnn.onnx --dim batch=2
mkdir -p "$dir/set" && "$tcc" run samples/tiny_cnn.onnx --dim batch=3 --output-dir "$dir/set" >/dev/null
expect output-written 0 '' -- test -s "$dir/set/probs.pb"
# The saved output as a reference: same seed, same result; another seed must not match.
cp "$dir/set/probs.pb" "$dir/set/output_0.pb"
expect compare-same 0 'compare probs: ok' -- "$tcc" run samples/tiny_cnn.onnx --dim batch=3 --compare "$dir/set"
expect compare-differs 1 'compare probs: FAIL' -- "$tcc" run samples/tiny_cnn.onnx --dim batch=3 --seed 7 --compare "$dir/set"
cp "$dir/set/probs.pb" "$dir/wrong.pb"
expect wrong-input 4 "input 'image': expected f32\[batch, 3, 32, 32\], got f32\[3, 10\]" -- "$tcc" run samples/tiny_cnn.onnx --input "image=$dir/wrong.pb"
expect bad-usage 2 'usage: tcc run' -- "$tcc" run
# --pipeline: the optimized graph gives the unoptimized graph's results (saved above, same seed)
expect pipeline-same 0 'compare probs: ok' -- "$tcc" run samples/tiny_cnn.onnx --dim batch=3 --pipeline --atol 1e-5 --compare "$dir/set"
expect pipeline-ablation 0 'compare probs: ok' -- "$tcc" run samples/tiny_cnn.onnx --dim batch=3 --pipeline --disable-pass=fusion --disable-pass cse --atol 1e-5 --compare "$dir/set"
expect pipeline-bad-pass 4 "no pass named 'frobnicate'" -- "$tcc" run samples/tiny_cnn.onnx --pipeline --disable-pass frobnicate
expect pipeline-needed 2 'go with --pipeline' -- "$tcc" run samples/tiny_cnn.onnx --precision fp16

node=${TCC_ONNX_TESTS:-../shared/onnx-tests}/node
if [ -d "$node/test_loop16_seq_none" ]; then
  # an OptionalProto input (empty) into a Loop carrying a sequence; a SequenceProto output
  t=$node/test_loop16_seq_none
  expect seq-compare 0 'compare seq_res\[5\]: ok' -- "$tcc" run "$t/model.onnx" --compare "$t/test_data_set_0"
  # an optional holding a sequence, written back by --output-dir and compared again
  t=$node/test_identity_opt
  mkdir -p "$dir/opt" && cp "$t/test_data_set_0/input_0.pb" "$dir/opt/"
  "$tcc" run "$t/model.onnx" --compare "$t/test_data_set_0" --output-dir "$dir/opt" >/dev/null
  cp "$dir/opt/opt_out.pb" "$dir/opt/output_0.pb"
  expect opt-round-trip 0 'opt_out: optional, holding a value' -- "$tcc" run "$t/model.onnx" --compare "$dir/opt"
  expect opt-input 0 'opt_out.value\[0\]: f32\[5\]' -- "$tcc" run "$t/model.onnx" --input "opt_in=$t/test_data_set_0/input_0.pb"
  # bfloat16 stored as uint16 in the input file
  t=$node/test_cast_BFLOAT16_to_FLOAT
  expect bf16-input 0 'compare output: ok' -- "$tcc" run "$t/model.onnx" --compare "$t/test_data_set_0"
else
  echo "note: $node absent (set TCC_ONNX_TESTS): skipping the sequence, optional and bfloat16 file cases"
fi
finish ""
