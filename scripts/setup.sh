#!/usr/bin/env bash
# Installs the Debian packages tcc builds with. Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  llvm-19-dev libmlir-19-dev mlir-19-tools            # code generation, MLIR export
  clang-19 libclang-rt-19-dev                         # the fuzzer (libFuzzer + sanitizers)
  protobuf-c-compiler libprotobuf-c-dev               # ONNX protobuf
  liblua5.4-dev                                       # scheduling scripts
  libsqlite3-dev                                      # tuning database
  libopenblas-dev                                     # the GEMM peer of bench/sgemm.c
  python3 python3-onnx python3-numpy                  # test-model generators
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user  # AArch64 modules: cross linker, sysroot, emulator (docs/cross.md)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
