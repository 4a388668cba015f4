#!/usr/bin/env bash
# The main job: install, build, and run the headline evaluation.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/build.sh"
mkdir -p "$root/out"
"$root/build/app/nfp" eval --task lift_pot --agent expert --trials 100 --seed0 100000 \
    --jobs "$(nproc)" --json "$root/out/lift_pot_expert.json"
