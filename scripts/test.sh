#!/usr/bin/env bash
# test.sh — runs the whole test suite (Criterion unit tests, the ONNX conformance runner, the
# model checks) through ctest; ends with ctest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ctest --test-dir "$BUILD" --output-on-failure --timeout 1800 -j1 "$@"
