#!/usr/bin/env bash
# `tcc inspect` end to end: the bundled sample, the shared models (skipped when absent), and bad input.
# usage: inspect.sh TCC_BINARY MODELS_DIR
set -u
tcc=$1 models=$2
passed=0 failed=0

expect() { # expect NAME EXIT_CODE PATTERN -- command...
  local name=$1 code=$2 pattern=$3
  shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -eq "$code" ] && grep -Eq -- "$pattern" <<<"$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s: exit %s (want %s), pattern /%s/\n%s\n' "$name" "$rc" "$code" "$pattern" "$out" | head -40
  fi
}

expect sample-input 0 'image +f32\[batch, 3, 32, 32\]' -- "$tcc" inspect samples/tiny_cnn.onnx
expect sample-output 0 'probs +f32\[batch, 10\]' -- "$tcc" inspect samples/tiny_cnn.onnx
expect sample-coverage 0 'unsupported: none' -- "$tcc" inspect samples/tiny_cnn.onnx
expect sample-params 0 'parameters: 5418 \(21672 bytes\)' -- "$tcc" inspect samples/tiny_cnn.onnx
expect sample-json 0 '"outputs": \[' -- "$tcc" inspect samples/tiny_cnn.onnx --json
expect sample-ir 0 '%probs = softmax\(%logits\) \{axis = 1\} : f32\[batch, 10\]' -- "$tcc" inspect samples/tiny_cnn.onnx --ir
expect missing-file 1 "cannot open 'no/such.onnx'" -- "$tcc" inspect no/such.onnx
expect not-a-model 1 'error: .*(protobuf|ModelProto|malformed)' -- "$tcc" inspect README.md
expect bad-usage 2 'usage: tcc inspect' -- "$tcc" inspect
expect unknown-command 2 "unknown command 'frobnicate'" -- "$tcc" frobnicate

if [ -d "$models/bert_mini" ]; then
  expect bert-input 0 'input_ids +i64\[batch, seq\]' -- "$tcc" inspect "$models/bert_mini/model.onnx"
  expect bert-hidden 0 'hidden +f32\[batch, seq, 256\]' -- "$tcc" inspect "$models/bert_mini/model.onnx"
  expect bert-folded-reshape 0 'reshape\(%"/Split_output_0"\) \{allowzero = 0, shape = dims \[batch, seq, 4, 64\]\}' -- "$tcc" inspect "$models/bert_mini/model.onnx" --ir
  expect resnet-output 0 'logits +f32\[batch, 1000\]' -- "$tcc" inspect "$models/resnet18/model.onnx"
else
  echo "shared models not found at $models: model checks skipped"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
