#!/usr/bin/env bash
# `tcc compile` into modules and `tcc run MODULE.so` end to end on the bundled sample: results equal to the
# evaluator's, the generated header with the sample application (samples/app.c), external weights, --bench,
# --name, and the errors a user meets (bad target/name/model, wrong inputs, a corrupt module).
# usage: compile.sh TCC_BINARY CC
set -u
tcc=$1 cc=${2:-cc}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

. "$(dirname "$0")/expect.sh"

expect compile 0 'compiled samples/tiny_cnn.onnx for native: [0-9]+ kernels' -- "$tcc" compile samples/tiny_cnn.onnx -o "$dir/tiny_cnn.so"
expect header 0 'int tiny_cnn_run\(tiny_cnn_t \*m' -- cat "$dir/tiny_cnn.h"
expect exports-only-api 0 '^tcc_module_query tiny_cnn_create tiny_cnn_destroy tiny_cnn_input_name tiny_cnn_last_error tiny_cnn_output_name tiny_cnn_run $' -- \
  sh -c "nm -D --defined-only '$dir/tiny_cnn.so' | awk '{print \$3}' | sort | tr '\n' ' '"
expect needs-only-libc 0 '^$' -- sh -c "readelf -d '$dir/tiny_cnn.so' | grep NEEDED | grep -Ev 'lib(c|m|pthread)\.so|ld-linux' || true"
# the module's results are the evaluator's (same seed, same random inputs)
mkdir -p "$dir/ref"
"$tcc" run samples/tiny_cnn.onnx --dim batch=3 --output-dir "$dir/ref" >/dev/null && cp "$dir/ref/probs.pb" "$dir/ref/output_0.pb"
expect module-matches 0 'compare probs: ok' -- "$tcc" run "$dir/tiny_cnn.so" --dim batch=3 --atol 1e-6 --compare "$dir/ref"
expect module-seed-differs 1 'compare probs: FAIL' -- "$tcc" run "$dir/tiny_cnn.so" --dim batch=3 --seed 9 --compare "$dir/ref"
expect run-compile 0 'compare probs: ok' -- "$tcc" run samples/tiny_cnn.onnx --compile --dim batch=3 --atol 1e-6 --compare "$dir/ref"
expect bench 0 'median_ms: [0-9.]+.*min_ms: [0-9.]+' -- sh -c "'$tcc' run '$dir/tiny_cnn.so' --bench 5 | tr '\n' ' '"
expect bench-needs-module 2 'compile' -- "$tcc" run samples/tiny_cnn.onnx --bench 5
cp "$dir/ref/probs.pb" "$dir/wrong.pb"
expect wrong-input 4 "input 'image' \(0\): rank is 2, the model expects 4" -- "$tcc" run "$dir/tiny_cnn.so" --input "image=$dir/wrong.pb"
# external weights: a second file beside the module, mapped at load; missing -> a clear error
mkdir -p "$dir/ext"
expect external 0 'compiled' -- "$tcc" compile samples/tiny_cnn.onnx -o "$dir/ext/net.so" --weights=external --name net
expect external-file 0 '' -- test -s "$dir/ext/net.weights"
expect external-matches 0 'compare probs: ok' -- "$tcc" run "$dir/ext/net.so" --dim batch=3 --atol 1e-6 --compare "$dir/ref"
mv "$dir/ext/net.weights" "$dir/ext/gone"
expect external-missing 4 'net.weights' -- "$tcc" run "$dir/ext/net.so"
# the sample application, linked through the generated header
mkdir -p "$dir/app"
"$tcc" compile samples/tiny_cnn.onnx -o "$dir/app/tiny_cnn.so" >/dev/null
expect app-builds 0 '' -- "$cc" -O2 -std=c17 -Wall -Wextra -Werror -I"$dir/app" samples/app.c "$dir/app/tiny_cnn.so" \
  -Wl,-rpath,"$dir/app" -o "$dir/app/app"
expect app-runs 0 'image 1: class [0-9] \(p = 0\.[0-9]+\).*wrong input refused: .*dim 1 is 4.*median_ms' -- \
  sh -c "'$dir/app/app' | tr '\n' ' '"
# errors
expect bad-target 2 "unknown target 'sm_99'" -- "$tcc" compile samples/tiny_cnn.onnx -target sm_99 -o "$dir/x.so"
expect bad-name 1 "not a C identifier" -- "$tcc" compile samples/tiny_cnn.onnx --name 9lives -o "$dir/x.so"
expect no-out-dir 1 "cannot write into '$dir/none'" -- "$tcc" compile samples/tiny_cnn.onnx -o "$dir/none/x.so"
expect no-model 1 'tcc compile: ' -- "$tcc" compile "$dir/none.onnx" -o "$dir/x.so"
expect usage 2 'usage: tcc compile' -- "$tcc" compile samples/tiny_cnn.onnx
head -c 3000 "$dir/tiny_cnn.so" > "$dir/corrupt.so"
expect corrupt-module 4 'truncated or corrupt' -- "$tcc" run "$dir/corrupt.so"
finish "compile.sh: "
