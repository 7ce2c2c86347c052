#!/usr/bin/env bash
# Installs what webcnn needs and is missing on this machine; safe to run again (each step
# skips what is already there). Debian/Ubuntu with apt, rustup and Node.js with npm.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(mesa-vulkan-drivers)
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
