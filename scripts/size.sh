#!/usr/bin/env bash
# Prints the size, gzipped (gzip -9, each file on its own) and raw, of what the npm package
# ships to the browser. A model downloads the JS sources of js/src/ and one wasm core with its
# wasm-bindgen glue: the WebGPU core, or the CPU core where the browser has no WebGPU. The
# Keras and tfjs import module comes only with an import of a model.json.
# Run scripts/build-web.sh first, which builds js/pkg/.
set -euo pipefail
cd "$(dirname "$0")/../js"

for file in pkg/webcnn_bg.wasm pkg/cpu/webcnn_bg.wasm pkg/tfjs/webcnn_bg.wasm; do
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
read -r gpu_gz gpu_raw < <(measure pkg/webcnn_bg.wasm)
read -r gpu_glue_gz gpu_glue_raw < <(measure pkg/webcnn.js)
read -r cpu_gz cpu_raw < <(measure pkg/cpu/webcnn_bg.wasm)
read -r cpu_glue_gz cpu_glue_raw < <(measure pkg/cpu/webcnn.js)
read -r src_gz src_raw < <(measure "${sources[@]}")
read -r import_gz import_raw < <(measure pkg/tfjs/webcnn_bg.wasm pkg/tfjs/webcnn.js)
printf '%10s %10s  %s\n' gzipped raw bytes
printf '%10d %10d  %s\n' \
    "$gpu_gz" "$gpu_raw" "pkg/webcnn_bg.wasm (WebGPU core)" \
    "$gpu_glue_gz" "$gpu_glue_raw" "pkg/webcnn.js (its wasm-bindgen glue)" \
    "$cpu_gz" "$cpu_raw" "pkg/cpu/webcnn_bg.wasm (CPU core, loaded only without WebGPU)" \
    "$cpu_glue_gz" "$cpu_glue_raw" "pkg/cpu/webcnn.js (its wasm-bindgen glue)" \
    "$src_gz" "$src_raw" "src/ (${#sources[@]} files: API, worker, elements)" \
    $((gpu_gz + gpu_glue_gz + src_gz)) $((gpu_raw + gpu_glue_raw + src_raw)) \
    "total with WebGPU: WebGPU core, glue and src/" \
    $((cpu_gz + cpu_glue_gz + src_gz)) $((cpu_raw + cpu_glue_raw + src_raw)) \
    "total without WebGPU: CPU core, glue and src/" \
    "$import_gz" "$import_raw" "pkg/tfjs/ (model import, loaded only to import a model.json)"
