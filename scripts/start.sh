#!/usr/bin/env bash
# Quick start: installs what is missing, builds the wasm core and the trainer page, and serves
# the page on 127.0.0.1 (port $PORT, default 4173). Open the printed address in a browser with
# WebGPU (without it the page trains on the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
bash scripts/build-web.sh
port="${PORT:-4173}"
echo
echo "webcnn trainer: http://127.0.0.1:$port/"
echo
cd www
exec npx --no-install vite preview --host 127.0.0.1 --port "$port" --strictPort
