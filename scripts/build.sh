#!/usr/bin/env bash
# Install what is missing, then configure and build nfp (Release) into ./build.
# Extra arguments go to CMake's configure step; BUILD_DIR overrides the folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
bash "$root/scripts/install_deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
