#!/usr/bin/env bash
# Builds the browser trainer: the wasm core (wasm32 build + wasm-bindgen --target web
# into www/pkg/, then wasm-opt from npm's binaryen), a copy of it for the npm package (js/pkg/)
# and the page (Vite, into www/dist/).
# Expects what scripts/install.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."

# The page fetches the MNIST files itself, so the wasm build leaves out the embedded copy.
# The wasm-size profile (Cargo.toml) and wasm-opt -Oz keep the download small.
cargo build --lib --profile wasm-size --target wasm32-unknown-unknown --no-default-features
wasm-bindgen --target web --out-dir www/pkg --no-typescript \
    target/wasm32-unknown-unknown/wasm-size/webcnn.wasm
# Debian's binaryen is too old (its output fails in Chromium), so use the pinned npm one.
# --converge repeats -Oz until the module stops shrinking: about 1.2 KB gzipped for 10 s more.
www/node_modules/.bin/wasm-opt -Oz --converge --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-reference-types --enable-sign-ext --enable-mutable-globals \
    www/pkg/webcnn_bg.wasm -o www/pkg/webcnn_bg.wasm
mkdir -p js/pkg
cp www/pkg/webcnn.js www/pkg/webcnn_bg.wasm js/pkg/
(cd www && npx --no-install vite build --logLevel warn)
# The showcase (embed.html) points its trainer element at data/mnist-10k-*.gz.
mkdir -p www/dist/data
cp data/mnist-10k-images-idx3-ubyte.gz data/mnist-10k-labels-idx1-ubyte.gz www/dist/data/
echo "built www/dist/"
