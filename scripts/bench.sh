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

# The serving load generator (docs/serving-bench.md): an in-process mmserver over the model
# and corpus that `make demo` leaves in demo-out/, or, without them, over a 200-material
# synthetic corpus and a tiny model trained here in a temporary directory (a few minutes).
if [ -x "$dir/bin/mmbench" ]; then
  echo "== mmbench"
  if [ -f demo-out/corpus/manifest.jsonl ] && compgen -G 'demo-out/models/*/manifest.json' >/dev/null; then
    models=demo-out/models
    corpus=demo-out/corpus
  else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "(no demo-out/: generating a corpus and training configs/tiny.yaml in $tmp)"
    "$dir/bin/mmdata" synth --n 200 --seed 1 --out "$tmp/corpus" --quiet
    "$dir/bin/mmtrain" train --config configs/tiny.yaml --data "$tmp/corpus" --out "$tmp/models" \
      --log-every 0
    models=$tmp/models
    corpus=$tmp/corpus
  fi
  "$dir/bin/mmbench" --models-dir "$models" --corpus "$corpus"
fi
