#!/usr/bin/env bash
# Builds the wasm modules and the pages. Each module is a wasm32 build, wasm-bindgen --target web
# and wasm-opt from npm's binaryen: www/pkg/ with the pages' bindings, js/pkg/ and js/pkg/cpu/
# with the npm package's cores for WebGPU and for the CPU, and js/pkg/tfjs/ with its model
# import. Vite then builds the pages into www/dist/.
# Expects what scripts/install.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Builds a wasm module with the extra cargo arguments given, then runs wasm-bindgen into $1. The
# pages fetch the MNIST files themselves, so the wasm build leaves out the embedded copy. The
# wasm-size profile (Cargo.toml) and wasm-opt -Oz keep the download small.
build_core() {
    local out_dir=$1
    shift
    cargo build --lib --profile wasm-size --target wasm32-unknown-unknown --no-default-features "$@"
    wasm-bindgen --target web --out-dir "$out_dir" --no-typescript \
        target/wasm32-unknown-unknown/wasm-size/webcnn.wasm
    # Debian's binaryen is too old (its output fails in Chromium), so use the pinned npm one.
    # --converge repeats -Oz until the module stops shrinking: about 1.2 KB gzipped for 10 s more.
    # The producers and target features sections are metadata that no browser reads.
    www/node_modules/.bin/wasm-opt -Oz --converge --strip-producers --strip-target-features \
        --enable-bulk-memory --enable-nontrapping-float-to-int --enable-reference-types \
        --enable-sign-ext --enable-mutable-globals "$out_dir/webcnn_bg.wasm" \
        -o "$out_dir/webcnn_bg.wasm"
}

# The pages and the browser benchmark need the bindings of the `pages` feature. The npm package
# gets a lean core for each backend, of which a browser loads one, and the Keras and tfjs import
# as a module that it loads only to import a model.json. The four builds of the webcnn crate
# (about 10 s each) replace each other in target/, but the dependencies are built once.
build_core www/pkg --features pages
build_core js/pkg --features trainer,webgpu
build_core js/pkg/cpu --features trainer,cpu
build_core js/pkg/tfjs --features tfjs-import
(cd www && npx --no-install vite build --logLevel warn)
# The showcase (embed.html) points its trainer element at data/mnist-10k-*.gz.
mkdir -p www/dist/data
cp data/mnist-10k-images-idx3-ubyte.gz data/mnist-10k-labels-idx1-ubyte.gz www/dist/data/
echo "built www/dist/"
