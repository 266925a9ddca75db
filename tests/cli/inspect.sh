#!/usr/bin/env bash
# `tcc inspect` end to end: the bundled sample, the shared models (skipped when absent), and bad input.
# usage: inspect.sh TCC_BINARY MODELS_DIR
set -u
tcc=$1 models=$2

. "$(dirname "$0")/expect.sh"

expect sample-input 0 'image +f32\[batch, 3, 32, 32\]' -- "$tcc" inspect samples/tiny_cnn.onnx
expect sample-output 0 'probs +f32\[batch, 10\]' -- "$tcc" inspect samples/tiny_cnn.onnx
expect sample-coverage 0 'unsupported: none' -- "$tcc" inspect samples/tiny_cnn.onnx
expect sample-params 0 'parameters: 5418 \(21672 bytes\)' -- "$tcc" inspect samples/tiny_cnn.onnx
expect sample-json 0 '"outputs": \[' -- "$tcc" inspect samples/tiny_cnn.onnx --json
expect sample-ir 0 '%probs = softmax\(%logits\) \{axis = 1\} : f32\[batch, 10\]' -- "$tcc" inspect samples/tiny_cnn.onnx --ir
# --plan: one line per kernel "  <index> <kind> <node>", then the counts (docs/cli.md)
plan_format() { # every line is a kernel line or one of the three summary lines, each summary exactly once
  local out rc; out=$("$tcc" inspect samples/tiny_cnn.onnx --plan "$@" 2>&1); rc=$?
  [ "$rc" -eq 0 ] || { echo "$out"; return 1; }
  grep -Evq '^ +[0-9]+ [a-z0-9_+]+ +[^ ]+$|^kernels: [0-9]+$|^peak_activation_bytes: [0-9]+$|^live_bytes_bound: [0-9]+$' <<<"$out" &&
    { echo "unexpected line in:"; echo "$out"; return 1; }
  local kernels; kernels=$(grep -Ec '^ +[0-9]+ ' <<<"$out")
  grep -qx "kernels: $kernels" <<<"$out" || { echo "kernels: line does not count the $kernels kernel lines"; return 1; }
  local peak bound; peak=$(sed -n 's/^peak_activation_bytes: //p' <<<"$out"); bound=$(sed -n 's/^live_bytes_bound: //p' <<<"$out")
  [ "$peak" -ge "$bound" ] && [ "$bound" -gt 0 ] || { echo "peak $peak < bound $bound"; return 1; }
}
expect plan-format 0 '^$' -- plan_format
expect plan-format-generic-unfused 0 '^$' -- plan_format --disable-pass=fusion
expect plan-conv-kind 0 '^ +0 conv2d(\+[a-z]+)* +conv1$' -- "$tcc" inspect samples/tiny_cnn.onnx --plan
expect plan-count 0 '^kernels: [0-9]+$' -- "$tcc" inspect samples/tiny_cnn.onnx --plan
expect plan-unfused 0 '^ +[0-9]+ relu +relu1$' -- "$tcc" inspect samples/tiny_cnn.onnx --plan --disable-pass fusion
expect plan-gemm-normal-form 0 '^ +[0-9]+ matmul(\+[a-z]+)* +fc/matmul$' -- "$tcc" inspect samples/tiny_cnn.onnx --plan
expect plan-gemm-kept 0 '^ +[0-9]+ gemm +fc$' -- "$tcc" inspect samples/tiny_cnn.onnx --plan --disable-pass canonicalize --disable-pass fusion
expect plan-dim 0 '^peak_activation_bytes: [1-9][0-9]*$' -- "$tcc" inspect samples/tiny_cnn.onnx --plan --dim batch=8
expect plan-dump 0 '^// ---- after canonicalize$' -- "$tcc" inspect samples/tiny_cnn.onnx --plan --dump-after=canonicalize
expect plan-dump-unchanged 0 '^// ---- after layout \(unchanged\)$' -- "$tcc" inspect samples/tiny_cnn.onnx --plan --dump-after all
expect plan-dump-disabled 0 '^// ---- after cse \(disabled\)$' -- "$tcc" inspect samples/tiny_cnn.onnx --plan --dump-after all --disable-pass cse
expect plan-time 0 '^pass fusion +[0-9.]+ ms$' -- env TCC_TIME_PASSES=1 "$tcc" inspect samples/tiny_cnn.onnx --plan
expect plan-bad-pass 1 "--disable-pass: no pass named 'frobnicate'" -- "$tcc" inspect samples/tiny_cnn.onnx --plan --disable-pass frobnicate
expect plan-bad-dump 1 "--dump-after: no pass named 'frobnicate'" -- "$tcc" inspect samples/tiny_cnn.onnx --plan --dump-after frobnicate
expect plan-bad-precision 2 'precision must be fp32, fp16 or bf16' -- "$tcc" inspect samples/tiny_cnn.onnx --plan --precision fp8
expect plan-options-need-plan 2 'go with --plan' -- "$tcc" inspect samples/tiny_cnn.onnx -target sm_80
expect missing-file 1 "cannot open 'no/such.onnx'" -- "$tcc" inspect no/such.onnx
expect not-a-model 1 'error: .*(protobuf|ModelProto|malformed)' -- "$tcc" inspect README.md
expect bad-usage 2 'usage: tcc inspect' -- "$tcc" inspect
expect unknown-command 2 "unknown command 'frobnicate'" -- "$tcc" frobnicate

if [ -d "$models/bert_mini" ]; then
  expect bert-input 0 'input_ids +i64\[batch, seq\]' -- "$tcc" inspect "$models/bert_mini/model.onnx"
  expect bert-hidden 0 'hidden +f32\[batch, seq, 256\]' -- "$tcc" inspect "$models/bert_mini/model.onnx"
  expect bert-folded-reshape 0 'reshape\(%"/Split_output_0"\) \{allowzero = 0, shape = dims \[batch, seq, 4, 64\]\}' -- "$tcc" inspect "$models/bert_mini/model.onnx" --ir
  expect resnet-plan 0 '^kernels: ([0-9]|1[0-9]|2[0-5])$' -- "$tcc" inspect "$models/resnet18/model.onnx" --plan
  attention_kernels() { "$tcc" inspect "$models/bert_mini/model.onnx" --plan | grep -Ec '^ +[0-9]+ attention '; }
  expect bert-plan-attention 0 '^4$' -- attention_kernels
  expect resnet-output 0 'logits +f32\[batch, 1000\]' -- "$tcc" inspect "$models/resnet18/model.onnx"
else
  echo "shared models not found at $models: model checks skipped"
fi
finish ""
