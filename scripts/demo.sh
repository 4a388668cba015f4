#!/usr/bin/env bash
# The main job: install what is missing, build, and evaluate on Lift Pot over 100 seeded
# trials (seeds 100000..100099, disjoint from the demos' 0..49): the scripted expert,
# then the bundled NF-P policy (SBS), printing success rates and policy latency.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/build.sh"
mkdir -p "$root/out"
nfp="$root/build/app/nfp"
"$nfp" eval --task lift_pot --agent expert --episodes 100 --seed 100000 \
    --json "$root/out/lift_pot_expert.json"
"$nfp" eval --task lift_pot --policy "$root/assets/policies/lift_pot.safetensors" --mode sbs \
    --episodes 100 --seed 100000 --json "$root/out/lift_pot_policy.json"
