#!/usr/bin/env bash
# Every test: install, build (Release), run the whole ctest suite; then rebuild with
# AddressSanitizer + UndefinedBehaviorSanitizer and run the suite again.
# NFP_SKIP_SANITIZE=1 skips the second pass (for quick local runs only).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/build.sh"
ctest --test-dir "$root/build" --output-on-failure -j2
if [ "${NFP_SKIP_SANITIZE:-0}" != 1 ]; then
  BUILD_DIR="$root/build-sanitize" bash "$root/scripts/build.sh" -DNFP_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$root/build-sanitize" --output-on-failure -j2 -LE slow
fi
