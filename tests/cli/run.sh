#!/usr/bin/env bash
# `tcc run` end to end on the bundled sample: random inputs, saved outputs compared back, bad input.
# usage: run.sh TCC_BINARY
set -u
tcc=$1
passed=0 failed=0
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

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
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
