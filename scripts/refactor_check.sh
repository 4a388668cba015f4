#!/usr/bin/env bash
# Records what a build of nfp does, so that a refactor can be shown to change nothing:
#   scripts/refactor_check.sh OLD_NFP OUT_OLD; scripts/refactor_check.sh NEW_NFP OUT_NEW
#   scripts/eval_diff.py OUT_OLD/expert.json OUT_NEW/expert.json   (and policy.json)
# Runs the expert on every task (3 seeds), the bundled Lift Pot policy in every mode
# (8 seeds), collects 3 demos and trains 2 epochs on them; prints the checkpoint's
# tensor digest (weights only: metadata holds timings and paths).
set -euo pipefail
nfp=$1 out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
"$nfp" eval --task all --agent expert --episodes 3 --seed 100000 --jobs 2 --json "$out/expert.json" >"$out/expert.log"
"$nfp" eval --task lift_pot --policy "$root/assets/policies/lift_pot.safetensors" --mode all \
  --episodes 8 --seed 100000 --jobs 2 --json "$out/policy.json" >"$out/policy.log"
"$nfp" collect --task lift_pot --episodes 3 --out "$out/demos" >"$out/collect.log"
"$nfp" train --data "$out/demos" --out "$out/t.ckpt.safetensors" --epochs 2 --threads 1 --quiet
python3 - "$out/t.ckpt.safetensors" <<'PY'
import hashlib, json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
d = hashlib.sha256()
for k in sorted(h):
    s, e = h[k]["data_offsets"]
    d.update(k.encode()); d.update(b[8 + n + s:8 + n + e])
print(f"{len(h)} tensors, weights sha256 {d.hexdigest()}")
PY
