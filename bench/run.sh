#!/usr/bin/env bash
# Side-by-side benchmark, one command: installs what is missing, builds the wasm core, then
# runs bench/browser/run.mjs (webcnn, TensorFlow.js and ConvNetJS in headless Chromium, the
# kernels on the browser's WebGPU adapter, and `cargo bench --bench train` natively), which
# writes docs/benchmarks.md, docs/benchmarks.json and docs/benchmarks.svg.
# Arguments go to run.mjs: --smoke, --out DIR, --no-native, --native-json FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
bash scripts/build-web.sh
node bench/browser/run.mjs "$@"
