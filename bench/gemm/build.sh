#!/bin/sh
# Build bench_gemm against an onnxc build tree: bench/gemm/build.sh [BUILD_DIR] (default /tmp/build-ct)
set -e
B=${1:-/tmp/build-ct}
S=$(cd "$(dirname "$0")/../.." && pwd)
cmake --build "$B" --target onnxc_be onnxc_passes onnxc_ir onnxc_rt -j2 >/dev/null
# libxsmm (Debian's libxsmm-dev, scripts/setup.sh), when present, is measured on the same sgemm
# shapes beside onnxc's own GEMM (BENCH_XSMM=0 leaves it out)
XSMM_CFLAGS= XSMM_LIBS=
if [ "${BENCH_XSMM:-1}" = 1 ] && pkg-config --exists libxsmmnoblas 2>/dev/null; then
  XSMM_CFLAGS="-DBENCH_XSMM $(pkg-config --cflags libxsmmnoblas)"
  cmake --build "$B" --target onnxc_xsmm -j2 >/dev/null # the provider compiled models call (--gemm libxsmm)
  XSMM_LIBS="$B/rt/libonnxc_xsmm.a -Wl,-u,onnxc_xsmm_sgemm $(pkg-config --libs-only-L libxsmm) -lxsmm -lxsmmnoblas -ldl -lrt" # noblas: no BLAS fallback
fi
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra $XSMM_CFLAGS -I"$S/backend" -I"$S/backend/kb" -I"$S/ir" -I"$S/runtime" "$S/bench/gemm/bench_gemm.c" \
  -o "$B/bench_gemm" -rdynamic "$B/libonnxc_be.a" "$B/libonnxc_passes.a" "$B/libonnxc_ir.a" \
  -Wl,--whole-archive "$B/libonnxc_rt.a" -Wl,--no-whole-archive \
  -L"$(llvm-config-19 --libdir)" -lLLVM-19 $XSMM_LIBS -lpthread -lm
echo "$B/bench_gemm"
