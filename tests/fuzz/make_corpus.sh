#!/bin/sh
# Seed corpus for fuzz_import: copies every small (< 64 KB) model.onnx of the ONNX node tests and the mlp
# model into CORPUS_DIR, one file per test named after it. Missing suites are skipped with a note.
#   tests/fuzz/make_corpus.sh CORPUS_DIR
set -eu
[ $# -eq 1 ] || { echo "usage: $0 CORPUS_DIR" >&2; exit 2; }
mkdir -p "$1"
corpus=$(cd "$1" && pwd)
cd "$(dirname "$0")/../.."   # defaults are relative to the repository root
node_dir=${TCC_ONNX_TESTS:-../shared/onnx-tests}/node
models_dir=${TCC_MODELS:-../shared/models}

count=0
copy_small() { # SRC NAME
  if [ -f "$1" ] && [ "$(wc -c < "$1")" -lt 65536 ]; then
    cp "$1" "$corpus/$2.onnx"
    count=$((count + 1))
  fi
}
if [ -d "$node_dir" ]; then
  for d in "$node_dir"/*/; do
    copy_small "$d/model.onnx" "$(basename "$d")"
  done
else
  echo "make_corpus: no node tests at $node_dir (set TCC_ONNX_TESTS); skipped" >&2
fi
if [ -f "$models_dir/mlp/model.onnx" ]; then
  copy_small "$models_dir/mlp/model.onnx" mlp
else
  echo "make_corpus: no mlp model at $models_dir/mlp (set TCC_MODELS); skipped" >&2
fi
echo "make_corpus: $count seed models in $corpus"
