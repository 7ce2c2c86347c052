#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (real WGSL on the machine's Vulkan driver,
# lavapipe without a GPU) and a wasm32 build check.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
cargo build --release --lib --target wasm32-unknown-unknown
cargo test --release
