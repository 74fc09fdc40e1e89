#!/usr/bin/env bash
# test.sh — runs the whole test suite (Criterion unit tests, the ONNX conformance runner, the
# model checks, ...) through ctest in two configurations, each ending with ctest's summary:
#   1. the normal build ($BUILD, default ./build);
#   2. the same suite under ASan+UBSan, then the concurrency check under TSan
#      (scripts/test-sanitize.sh: trees build-asan and build-tsan).
# Exit non-zero if either fails.  ONNXC_SANITIZE=0 skips the second (for a quick local run; CI
# runs both).  Extra arguments go to both ctest runs (e.g. -R unit_).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ctest --test-dir "$BUILD" --output-on-failure --timeout 1800 -j1 "$@"
normal=$?
if [ "${ONNXC_SANITIZE:-1}" = "0" ]; then
  echo "test.sh: normal configuration $([ $normal = 0 ] && echo passed || echo FAILED); sanitizers skipped (ONNXC_SANITIZE=0)"
  exit $normal
fi
bash scripts/test-sanitize.sh "$@"
san=$?
echo "test.sh: normal configuration $([ $normal = 0 ] && echo passed || echo FAILED)," \
     "ASan+UBSan and TSan configuration $([ $san = 0 ] && echo passed || echo FAILED)"
[ $normal = 0 ] && [ $san = 0 ]
