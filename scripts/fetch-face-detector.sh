#!/usr/bin/env bash
# Installs face-api (the version pinned in scripts/face-detector/package.json) and converts its
# tiny face detector into the webcnn model file models/tiny_face_detector.safetensors. Safe to
# run again: each step runs only when its inputs changed. Needs npm and cargo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=scripts/face-detector
if [[ ! -f $packages/node_modules/.package-lock.json ||
    $packages/package-lock.json -nt $packages/node_modules/.package-lock.json ]]; then
    (cd "$packages" && npm ci --no-audit --no-fund)
fi

# Converts again only when the model file is missing or older than the installed package or
# the converter's sources.
out=models/tiny_face_detector.safetensors
if [[ ! -f $out || -n $(find "$packages/package-lock.json" src/face -newer "$out") ]]; then
    mkdir -p models
    cargo run --release --quiet -- convert-face-detector \
        "$packages/node_modules/@vladmandic/face-api/model" "$out"
fi
