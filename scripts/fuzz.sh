#!/usr/bin/env bash
# fuzz.sh — builds the libFuzzer target (clang-19, ASan+UBSan) in its own tree and runs it on a
# seed corpus of the conformance models.
#   scripts/fuzz.sh [--seconds N] [--build DIR] [--seeds DIR] [--jobs N] [--keep-going] [-- LIBFUZZER_ARGS]
# --seconds   run time (default 60)
# --build     the clang build tree (default build-fuzz)
# --seeds     folder of ONNX conformance cases (CASE/model.onnx); the first that exists of this,
#             build/conformance/cases and /work/main/build/conformance/cases is used
# --keep-going  fork mode: record crashes under BUILD/crashes and go on (for long runs)
# Exits non-zero if the fuzzer found a crash (files under BUILD/crashes/).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_=60 BUILD=build-fuzz SEEDS="" KEEP=0
EXTRA=()
while (($#)); do
  case "$1" in
    --seconds) SECONDS_=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --keep-going) KEEP=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

CC=${FUZZ_CC:-clang-19}
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  CC=$CC cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONNXC_FUZZ=ON -DONNXC_TESTS=ON \
    -DONNXC_WERROR=ON >/dev/null
fi
nice cmake --build "$BUILD" -j2 --target fuzz_load >/dev/null

# seed corpus: one file per conformance model (copied, so libFuzzer's merges never touch the cases)
CORPUS=$BUILD/corpus
mkdir -p "$CORPUS" "$BUILD/crashes"
if [ -z "$(ls -A "$CORPUS")" ]; then
  for d in "$SEEDS" build/conformance/cases /work/main/build/conformance/cases; do
    if [ -n "$d" ] && [ -d "$d" ]; then
      for m in "$d"/*/model.onnx; do c=${m%/model.onnx}; cp "$m" "$CORPUS/${c##*/}.onnx"; done
      break
    fi
  done
fi
if [ -z "$(ls -A "$CORPUS")" ]; then
  # no conformance cases: seed with the malformed-model catalogue's valid base model
  /usr/bin/python3 tests/hostile/gen_malformed.py --seed-only "$CORPUS"
fi
echo "fuzz.sh: corpus $(ls "$CORPUS" | wc -l) files, $SECONDS_ s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# inputs that once crashed (tests/fuzz/regressions) must run clean before fuzzing starts
"$BUILD/tests/fuzz/fuzz_load" tests/fuzz/regressions/* >/dev/null 2>&1 || {
  echo "fuzz.sh: a regression input crashes again:" >&2
  "$BUILD/tests/fuzz/fuzz_load" tests/fuzz/regressions/* 2>&1 | grep -E "Running|ERROR|runtime error" >&2; exit 1; }
ARGS=(-max_total_time="$SECONDS_" -rss_limit_mb=2048 -timeout=20 -max_len=1048576
      -artifact_prefix="$BUILD/crashes/" -print_final_stats=1)
if ((KEEP)); then ARGS+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1); fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
nice -n "${FUZZ_NICE:-10}" "$BUILD/tests/fuzz/fuzz_load" "${ARGS[@]}" "${EXTRA[@]}" "$CORPUS"
