#!/bin/sh
# Builds a fuzz target with clang + libFuzzer + ASan/UBSan in build-fuzz/, seeds a corpus from the ONNX
# node tests, and fuzzes for SECONDS. Exits non-zero when the fuzzer finds a crash, leak, UB or timeout;
# the reproducer is left in build-fuzz/artifacts/ (replay: build-fuzz/tests/fuzz/TARGET FILE).
#   tests/fuzz/run_fuzz.sh SECONDS        (CC=clang-NN to pick the compiler; FUZZ_JOBS=N for N processes;
#                                          FUZZ_TARGET=fuzz_import (models, the default), fuzz_eval (models
#                                          imported and evaluated on small inputs) or fuzz_tensor_io
#                                          (tensor, sequence and optional files))
set -eu
[ $# -eq 1 ] || { echo "usage: $0 SECONDS" >&2; exit 2; }
seconds=$1
cd "$(dirname "$0")/../.."
build=build-fuzz

# A clang whose runtime has libFuzzer (Debian's clang-19 needs libclang-rt-19-dev for it).
if [ -z "${CC:-}" ]; then
  probe=$(mktemp -d)
  echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' > "$probe/f.c"
  for c in clang-19 /usr/lib/llvm-19/bin/clang clang-14 clang; do
    if command -v "$c" > /dev/null 2>&1 &&
       "$c" -fsanitize=fuzzer,address,undefined "$probe/f.c" -o "$probe/f" > /dev/null 2>&1; then
      CC=$c
      break
    fi
  done
  rm -rf "$probe"
  [ -n "${CC:-}" ] || { echo "run_fuzz: no clang with libFuzzer found (install libclang-rt-19-dev)" >&2; exit 1; }
fi
CXX=${CXX:-$(echo "$CC" | sed 's/clang/clang++/')}
echo "run_fuzz: compiler $CC"

# A build dir configured with another compiler must start afresh (CMake would drop the options below).
cached=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
if [ -n "$cached" ] && [ "$cached" != "$(command -v "$CC")" ]; then
  rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
fi
# Optimized, but without NDEBUG: debug-build checks (the IR verifier after import) run on every input.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g" \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DTCC_FUZZ=ON -DTCC_SANITIZE=ON > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
rm -f "$build.configure.log"
target=${FUZZ_TARGET:-fuzz_import}
case $target in fuzz_import|fuzz_eval|fuzz_tensor_io) ;; *) echo "run_fuzz: unknown FUZZ_TARGET $target" >&2; exit 2;; esac
cmake --build "$build" --target "$target" -j "${FUZZ_BUILD_JOBS:-2}"

# Corpus: the seeds plus whatever earlier runs found (libFuzzer adds new inputs to the first directory).
corpus=$build/corpus-$target seeds=$build/seeds-$target
mkdir -p "$corpus" "$seeds" "$build/artifacts"
if [ "$target" != fuzz_tensor_io ]; then
  tests/fuzz/make_corpus.sh "$seeds"
else # the test data files of the node tests: tensors, sequences, optionals
  for f in "${TCC_ONNX_TESTS:-../shared/onnx-tests}"/node/*/test_data_set_0/*.pb; do
    [ -f "$f" ] && [ "$(wc -c < "$f")" -lt 4096 ] && cp "$f" "$seeds/$(basename "$(dirname "$(dirname "$f")")")-$(basename "$f")"
  done
fi
# A dictionary of op types and attribute/metadata keys helps mutations hit real names.
dict=$build/onnx.dict
{
  sed -n 's/^ONNX_OP("[^"]*", *"\([^"]*\)".*/"\1"/p' frontend/onnx_ops.def | sort -u
  for k in location offset length value value_ints value_floats value_float value_int axis axes perm shape \
           ai.onnx ai.onnx.ml then_branch else_branch body; do
    echo "\"$k\""
  done
} > "$dict"

# FUZZ_JOBS=N runs N worker processes (-fork); FUZZ_KEEP_GOING=1 records every crash and keeps fuzzing
# (fork mode) instead of stopping at the first. Either way, any new artifact fails the run.
jobs=${FUZZ_JOBS:-1}
keep=${FUZZ_KEEP_GOING:-0}
# fuzz_eval runs valid but large computations (a 35x47 ConvTranspose takes ~30 s under the sanitizers).
timeout=10
[ "$target" = fuzz_eval ] && timeout=60
set -- "$corpus" "$seeds" -max_total_time="$seconds" -max_len=65536 -timeout="$timeout" -rss_limit_mb=2048 \
  -dict="$dict" -artifact_prefix="$build/artifacts/" -print_final_stats=1
if [ "$jobs" -gt 1 ] || [ "$keep" = 1 ]; then
  set -- "$@" -fork="$jobs"
  [ "$keep" = 1 ] && set -- "$@" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
marker=$build/artifacts/.started
touch "$marker"
rc=0
"$build/tests/fuzz/$target" "$@" || rc=$?
found=$(find "$build/artifacts" -type f -newer "$marker" ! -name .started | sort)
rm -f "$marker"
if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
  echo "run_fuzz: FAILED (fuzzer exit $rc); reproducers:" >&2
  for f in $found; do echo "  $f   (replay: $build/tests/fuzz/$target $f)" >&2; done
  exit 1
fi
echo "run_fuzz: $target: no crash, leak or UB in $seconds s"
