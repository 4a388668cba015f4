#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: EXE CORPUS_DIR WORK_DIR SECONDS.
# The tree's corpus (CORPUS_DIR, or - for none) is read, new inputs land in WORK_DIR; a
# crash fails the test and leaves the reproducer (crash-*) in WORK_DIR.
set -euo pipefail
exe=$1 corpus=$2 work=$3 seconds=$4
mkdir -p "$work"
cd "$work"
"$exe" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -malloc_limit_mb=2048 \
  -print_final_stats=1 "$work" ${corpus#-} 2>&1 | tail -25
