#!/usr/bin/env bash
# Installs face-api (the version pinned in scripts/face-detector/package.json) and converts its
# tiny face detector into the webcnn model file models/tiny_face_detector.safetensors. Safe to
# run again: npm reinstalls only when the lock file changed, and the conversion rewrites the
# same file. Needs npm and cargo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=scripts/face-detector
if [[ ! -f $packages/node_modules/.package-lock.json ||
    $packages/package-lock.json -nt $packages/node_modules/.package-lock.json ]]; then
    (cd "$packages" && npm ci --no-audit --no-fund)
fi

mkdir -p models
cargo run --release --quiet -- convert-face-detector \
    "$packages/node_modules/@vladmandic/face-api/model" models/tiny_face_detector.safetensors
