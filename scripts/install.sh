#!/usr/bin/env bash
# Installs what webcnn needs and is missing on this machine; safe to run again (each step
# skips what is already there). Debian/Ubuntu with apt, rustup and Node.js (20.19 or newer)
# with npm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# mesa-vulkan-drivers: lavapipe, the CPU Vulkan driver for machines without a GPU.
# chromium, chromium-driver: the browser tests (WebGPU through Chromium's SwiftShader).
apt_packages=(mesa-vulkan-drivers chromium chromium-driver)
missing=()
for package in "${apt_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "installing ${missing[*]}"
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# lavapipe warns on every start without a runtime folder.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

# The browser build: the wasm32 target and the wasm-bindgen CLI of the exact version that
# Cargo.toml pins (the CLI refuses modules from another version).
rustup target list --installed | grep -q '^wasm32-unknown-unknown$' ||
    rustup target add wasm32-unknown-unknown
wasm_bindgen_version=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"$/\1/p' Cargo.toml)
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wasm_bindgen_version" ]]; then
    echo "installing wasm-bindgen-cli $wasm_bindgen_version (takes a few minutes)"
    cargo install wasm-bindgen-cli --version "$wasm_bindgen_version"
fi

# npm packages, each folder reinstalled only when its package-lock.json is newer than the
# installed tree: the page's (Vite, Chart.js, idb, binaryen, playwright-core), the npm
# package's (TensorFlow.js, which writes the Keras models the import tests read) and the
# benchmark harness's (TensorFlow.js with its backends, ConvNetJS).
if ! command -v npm >/dev/null; then
    echo "error: npm not found; install Node.js 20.19 or newer with npm" >&2
    exit 1
fi
for dir in www js bench/browser; do
    if [[ ! -f $dir/node_modules/.package-lock.json ||
        $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
        (cd "$dir" && npm ci --no-audit --no-fund)
    fi
done

# The face detector: face-api's weights from npm, converted into a webcnn model file.
bash scripts/fetch-face-detector.sh
