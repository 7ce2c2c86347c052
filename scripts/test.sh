#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (real WGSL on the machine's Vulkan driver,
# lavapipe without a GPU), a wasm32 build check, then the browser tests (Playwright with the
# system Chromium: the trainer page on WebGPU through SwiftShader and on the CPU path, the npm
# package and its custom elements, and the face page's detection, training and recognition).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
cargo build --release --lib --target wasm32-unknown-unknown --features pages,tfjs-import
cargo test --release --workspace
# The npm package's TypeScript declarations, checked against an example.
(cd js && npx --no-install tsc -p test)
bash scripts/build-web.sh
node --test --test-concurrency=1 tests/browser/*.test.mjs
