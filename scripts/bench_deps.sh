#!/usr/bin/env bash
# Installs what the benchmarks under bench/ compare against (not needed to build or test tcc):
#   - ONNX Runtime's CPU library with its C API, from the onnxruntime-node npm package (install scripts
#     skipped: only the prebuilt libonnxruntime.so it ships is used), into bench/.deps (git-ignored);
#   - OpenBLAS (libopenblas-dev), the GEMM peer.
# usage: scripts/bench_deps.sh [ONNXRUNTIME_NODE_VERSION]   (default: the version pinned below)
# Prints the path of libonnxruntime.so at the end (bench/models reads it from TCC_ORT_LIB or finds it there).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/bench/.deps"
version=${1:-1.30.0}

if ! dpkg-query -W -f='${Status}' libopenblas-dev 2>/dev/null | grep -q 'install ok installed'; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends libopenblas-dev
fi

command -v npm >/dev/null || { echo "bench_deps: npm is needed (Debian: apt-get install npm)" >&2; exit 1; }
mkdir -p "$deps"
if [ ! -f "$deps/node_modules/onnxruntime-node/package.json" ] ||
   [ "$(node -p "require('$deps/node_modules/onnxruntime-node/package.json').version")" != "$version" ]; then
  (cd "$deps" && npm install --no-save --no-audit --no-fund --ignore-scripts "onnxruntime-node@$version")
fi
lib=$(find "$deps/node_modules/onnxruntime-node" -path '*linux/x64*' -name 'libonnxruntime.so*' -type f | sort | head -1)
[ -n "$lib" ] || { echo "bench_deps: libonnxruntime.so not found under $deps/node_modules/onnxruntime-node" >&2; exit 1; }
echo "$lib"
