#!/usr/bin/env bash
# test-nollvm.sh — the build without LLVM (tree build-nollvm, -DONNXC_LLVM=OFF): configures, builds
# and runs its ctest (the unit tests that never compile a graph, and cemit_nollvm: its
# `compile --emit c` equals the normal build's, a few models end to end against the normal
# build's JIT, and clean refusals of run/bench/AOT).  The normal build ($BUILD, default ./build)
# must be built first: its onnxc is the reference.  Extra arguments go to ctest.
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
BUILD=${BUILD:-build}
NOLLVM_BUILD=${NOLLVM_BUILD:-build-nollvm}
t0=$(date +%s)
cmake -S . -B "$NOLLVM_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONNXC_LLVM=OFF -DONNXC_WERROR=ON \
      -DONNXC_REFERENCE="$(pwd)/$BUILD/onnxc" >/dev/null || exit 1
nice cmake --build "$NOLLVM_BUILD" -j"$JOBS" >/dev/null || { nice cmake --build "$NOLLVM_BUILD" -j1; exit 1; }
# the conformance cases are read from the main build's folder when this tree has none
if [ ! -d "$NOLLVM_BUILD/conformance/cases" ] && [ -d "$BUILD/conformance/cases" ]; then
  mkdir -p "$NOLLVM_BUILD/conformance" && ln -sfn "$(pwd)/$BUILD/conformance/cases" "$NOLLVM_BUILD/conformance/cases"
fi
ctest --test-dir "$NOLLVM_BUILD" --output-on-failure --timeout 1800 -j"$JOBS" "$@"
rc=$?
echo "test-nollvm: build and tests without LLVM took $(( $(date +%s) - t0 )) s"
exit $rc
