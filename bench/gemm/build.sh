#!/bin/sh
# Build bench_gemm against an onnxc build tree: bench/gemm/build.sh [BUILD_DIR] (default /tmp/build-ct)
set -e
B=${1:-/tmp/build-ct}
S=$(cd "$(dirname "$0")/../.." && pwd)
cmake --build "$B" --target onnxc_be onnxc_ir onnxc_rt -j2 >/dev/null
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -I"$S/backend" -I"$S/ir" -I"$S/runtime" "$S/bench/gemm/bench_gemm.c" \
  -o "$B/bench_gemm" -rdynamic "$B/libonnxc_be.a" "$B/libonnxc_ir.a" \
  -Wl,--whole-archive "$B/libonnxc_rt.a" -Wl,--no-whole-archive \
  -L"$(llvm-config-19 --libdir)" -lLLVM-19 -lpthread -lm
echo "$B/bench_gemm"
