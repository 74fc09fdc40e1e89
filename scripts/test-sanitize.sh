#!/usr/bin/env bash
# test-sanitize.sh — the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (tree build-asan, -DONNXC_SANITIZE=ON), then the concurrency test under ThreadSanitizer (tree
# build-tsan, -DONNXC_TSAN=ON).  Extra arguments go to the ASan ctest (e.g. -R unit_).
# Every ctest test runs except fuzz_short (the normal configuration's ctest runs it: scripts/fuzz.sh
# builds its own clang ASan+UBSan+libFuzzer tree).  Exit 1 if a test fails or any process of the
# suite wrote a sanitizer report: ASan and UBSan abort on the first finding (UBSan does not recover,
# -fno-sanitize-recover) and write their reports to $ASAN_BUILD/sanitizer-reports/, so a finding
# also fails the run where a test expects the process to fail (malformed models, excluded
# conformance cases).  Leaks are not checked: LLVM (not instrumented) keeps allocations for the
# process's life.
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
TSAN_BUILD=${TSAN_BUILD:-build-tsan}
rc=0

cmake -S . -B "$ASAN_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONNXC_SANITIZE=ON -DONNXC_WERROR=ON >/dev/null || exit 1
nice cmake --build "$ASAN_BUILD" -j"$JOBS" || exit 1
REPORTS=$(pwd)/$ASAN_BUILD/sanitizer-reports
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:allocator_may_return_null=1:log_path=$REPORTS/asan}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$REPORTS/ubsan}
# the conformance cases are read from the main build's folder when this tree has none
if [ ! -d "$ASAN_BUILD/conformance/cases" ] && [ -d build/conformance/cases ]; then
  mkdir -p "$ASAN_BUILD/conformance" && ln -sfn "$(pwd)/build/conformance/cases" "$ASAN_BUILD/conformance/cases"
fi
ctest --test-dir "$ASAN_BUILD" --output-on-failure --timeout 3600 -j"$JOBS" -E fuzz_short "$@" || rc=1
if compgen -G "$REPORTS/*" >/dev/null; then
  for f in "$REPORTS"/*; do
    echo "=== sanitizer report $f"
    head -n 80 "$f"
  done
  echo "test-sanitize: $(ls "$REPORTS" | wc -l) sanitizer report(s) in $REPORTS"
  rc=1
else
  echo "test-sanitize: no ASan/UBSan reports"
fi

cmake -S . -B "$TSAN_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONNXC_TSAN=ON -DONNXC_WERROR=ON >/dev/null || exit 1
# Criterion cannot map its shared arena under TSan: the same check as a plain program; and
# libonnxc's two concurrent sessions (tests/api, the LSTM only: a few minutes)
nice cmake --build "$TSAN_BUILD" -j"$JOBS" --target tsan_concurrency api_tsan onnxc || exit 1
# (tests/hostile/tsan.supp: calls made from inside the uninstrumented libLLVM are not checked)
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$(pwd)/tests/hostile/tsan.supp} \
  ctest --test-dir "$TSAN_BUILD" --output-on-failure -R '^(tsan_concurrency|api_tsan)$' || rc=1
exit $rc
