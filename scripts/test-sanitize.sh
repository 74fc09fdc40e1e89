#!/usr/bin/env bash
# test-sanitize.sh — the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (tree build-asan, -DONNXC_SANITIZE=ON), then the concurrency test under ThreadSanitizer (tree
# build-tsan, -DONNXC_TSAN=ON).  Extra arguments go to the ASan ctest (e.g. -R unit_).
# Any sanitizer report fails the run: UBSan does not recover (-fno-sanitize-recover), ASan aborts.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
TSAN_BUILD=${TSAN_BUILD:-build-tsan}

cmake -S . -B "$ASAN_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONNXC_SANITIZE=ON -DONNXC_WERROR=ON >/dev/null
nice cmake --build "$ASAN_BUILD" -j"$JOBS"
# LLVM (not instrumented) keeps some allocations for the process's life: leaks are not checked
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# the conformance cases are read from the main build's folder when this tree has none
if [ ! -d "$ASAN_BUILD/conformance/cases" ] && [ -d build/conformance/cases ]; then
  mkdir -p "$ASAN_BUILD/conformance" && ln -sfn "$(pwd)/build/conformance/cases" "$ASAN_BUILD/conformance/cases"
fi
ctest --test-dir "$ASAN_BUILD" --output-on-failure --timeout 3600 -j1 -E fuzz_short "$@"

cmake -S . -B "$TSAN_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONNXC_TSAN=ON -DONNXC_WERROR=ON >/dev/null
# Criterion cannot map its shared arena under TSan: the same check as a plain program
nice cmake --build "$TSAN_BUILD" -j"$JOBS" --target tsan_concurrency
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} "$TSAN_BUILD/tests/hostile/tsan_concurrency"
