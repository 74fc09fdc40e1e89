#!/usr/bin/env bash
# test.sh — runs the whole test suite (Criterion unit tests, the ONNX conformance runner, the
# model checks, ...) through ctest in three configurations, each ending with ctest's summary:
#   1. the normal build ($BUILD, default ./build);
#   2. the build without LLVM (scripts/test-nollvm.sh: tree build-nollvm, -DONNXC_LLVM=OFF), its
#      C emitter checked against the normal build's (a few minutes);
#   3. the same suite under ASan+UBSan, then the concurrency check under TSan
#      (scripts/test-sanitize.sh: trees build-asan and build-tsan).
# Exit non-zero if any fails.  ONNXC_SANITIZE=0 skips the third (for a quick local run; CI runs
# all).  Extra arguments go to the normal and sanitizer ctest runs (e.g. -R unit_).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export ONNXC_NO_CACHE=1 # never the user's cache of compiled code (tests/cache uses a folder of its own)
ctest --test-dir "$BUILD" --output-on-failure --timeout 1800 -j2 "$@"
normal=$?
BUILD="$BUILD" bash scripts/test-nollvm.sh
nollvm=$?
verdict() { [ "$1" = 0 ] && echo passed || echo FAILED; }
if [ "${ONNXC_SANITIZE:-1}" = "0" ]; then
  echo "test.sh: normal configuration $(verdict $normal), without LLVM $(verdict $nollvm);" \
       "sanitizers skipped (ONNXC_SANITIZE=0)"
  [ $normal = 0 ] && [ $nollvm = 0 ]
  exit
fi
bash scripts/test-sanitize.sh "$@"
san=$?
echo "test.sh: normal configuration $(verdict $normal), without LLVM $(verdict $nollvm)," \
     "ASan+UBSan and TSan configuration $(verdict $san)"
[ $normal = 0 ] && [ $nollvm = 0 ] && [ $san = 0 ]
