#!/bin/sh
# Install the ONNX Runtime reference runner (onnxruntime-node, pinned in
# package.json). --ignore-scripts skips onnxruntime-node's postinstall, which
# would only fetch CUDA EP binaries; the CPU library (libonnxruntime.so.1) and
# the N-API binding are bundled in the npm package under
# node_modules/onnxruntime-node/bin/napi-v6/<os>/<arch>/.
set -eu
cd "$(dirname "$0")"
if [ -f node_modules/onnxruntime-node/package.json ] && \
   node -e 'process.exit(require("onnxruntime-node/package.json").version==="1.30.0"?0:1)' 2>/dev/null; then
  :
elif [ -f package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund
else
  npm install --ignore-scripts --no-audit --no-fund
fi
# Smoke test: the native binding must load.
node -e 'const o=require("onnxruntime-node"); console.log("onnxruntime-node", o.env.versions.node, "ok")'
