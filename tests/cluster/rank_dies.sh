#!/usr/bin/env bash
# A rank killed mid-run (SIGKILL: no chance to clean up) must end the whole MPI job with an
# error, not hang it, and the checkpoint on disk must still be the last whole one.
#   rank_dies.sh MPIRUN NFP
set -euo pipefail
mpirun=$1 nfp=$2
dir=$(mktemp -d /tmp/nfp_rank_dies.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
"$nfp" collect --task lift_pot --episodes 4 --out demos >/dev/null 2>&1
timeout 120 "$mpirun" -np 2 "$nfp" train --data demos --out die.safetensors --epochs 500 \
    --batch 64 --threads 1 --ckpt-every 1 >die.log 2>&1 </dev/null &
job=$!
for _ in $(seq 600); do [ -s die.metrics.jsonl ] && break; sleep 0.1; done
[ -s die.metrics.jsonl ] || { echo "FAIL: no epoch finished"; cat die.log; exit 1; }
victim=""
for p in $(pgrep -f -- "--out die.safetensors"); do
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = nfp ] && victim=$p
done
[ -n "$victim" ] || { echo "FAIL: no rank process found"; exit 1; }
kill -9 "$victim"
rc=0
wait "$job" || rc=$?
if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
  echo "FAIL: the job exited with $rc after a rank was killed (0: ignored it; 124: hung)"
  cat die.log
  exit 1
fi
"$nfp" inspect die.safetensors >/dev/null || { echo "FAIL: the checkpoint does not load"; exit 1; }
echo "ok: rank $victim killed, mpirun exited with $rc, the checkpoint loads"
