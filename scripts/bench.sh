#!/usr/bin/env bash
# Runs every benchmark binary in BUILD_DIR/bench and prints its figures.
# usage: scripts/bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
for b in "$dir"/bench/*; do
  [ -f "$b" ] && [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" --benchmark_counters_tabular=true
done

# The image encoder against GEMM once more on one thread: per-core figures. On a machine
# shared with other work, OpenMP threads that wait at barriers for a descheduled partner
# can lower the all-core figures above by 10x or more; the one-thread ratio stays put.
if [ -x "$dir/bench/encoders_bench" ]; then
  echo "== encoders_bench (MATALIGN_THREADS=1)"
  MATALIGN_THREADS=1 "$dir/bench/encoders_bench" --benchmark_counters_tabular=true \
    --benchmark_filter='BM_ImageEncoderForward|BM_Gemm'
fi
