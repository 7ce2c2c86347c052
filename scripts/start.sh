#!/usr/bin/env bash
# Quick start: installs what is missing, then trains the Keras MNIST CNN (seed-cnn) on the
# embedded 10,000 real MNIST digits with the native CLI. Extra arguments go to `webcnn train`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
cargo run --release -- train "$@"
