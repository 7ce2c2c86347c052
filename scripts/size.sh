#!/usr/bin/env bash
# Prints the size, gzipped (gzip -9, each file on its own) and raw, of what the npm package
# ships to the browser: the wasm core, its wasm-bindgen glue and the JS sources of js/src/, which
# every model downloads, then the Keras and tfjs import module, which only an import downloads.
# Run scripts/build-web.sh first, which builds js/pkg/.
set -euo pipefail
cd "$(dirname "$0")/../js"

for file in pkg/webcnn_bg.wasm pkg/tfjs/webcnn_bg.wasm; do
    if [[ ! -f $file ]]; then
        echo "error: js/$file is missing; run scripts/build-web.sh first" >&2
        exit 1
    fi
done

# Prints "gzipped raw" of the files given.
measure() {
    local gz=0 raw=0
    for file in "$@"; do
        gz=$((gz + $(gzip -9 -c "$file" | wc -c)))
        raw=$((raw + $(wc -c <"$file")))
    done
    echo "$gz $raw"
}

mapfile -t sources < <(find src -name '*.js' | sort)
read -r wasm_gz wasm_raw < <(measure pkg/webcnn_bg.wasm)
read -r glue_gz glue_raw < <(measure pkg/webcnn.js)
read -r src_gz src_raw < <(measure "${sources[@]}")
read -r import_gz import_raw < <(measure pkg/tfjs/webcnn_bg.wasm pkg/tfjs/webcnn.js)
printf '%10s %10s  %s\n' gzipped raw bytes
printf '%10d %10d  %s\n' "$wasm_gz" "$wasm_raw" "pkg/webcnn_bg.wasm (core)" \
    "$glue_gz" "$glue_raw" "pkg/webcnn.js (wasm-bindgen glue)" \
    "$src_gz" "$src_raw" "src/ (${#sources[@]} files: API, worker, elements)" \
    $((wasm_gz + glue_gz + src_gz)) $((wasm_raw + glue_raw + src_raw)) "total" \
    "$import_gz" "$import_raw" "pkg/tfjs/ (model import, loaded only to import a model.json)"
