#!/usr/bin/env bash
# Derives data/recipe_stats.json (the per-route heating schedules, atmospheres, operation
# sequences and per-element precursor frequencies behind the synthetic synthesis texts)
# from the real text-mined recipes. Routes the recipes do not cover are added with typical
# literature ranges and marked "source": "assumed" (corpus/recipe_stats.h).
# usage: scripts/derive-recipe-stats.sh [BUILD_DIR]
# The real data is read from $MATALIGN_REAL_DATA, else ../shared/data/real.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
real=${MATALIGN_REAL_DATA:-../shared/data/real}
cmake --build "$dir" --target mmdata
"$dir"/bin/mmdata recipe-stats \
  --solid-state "$real/recipes/solid_state_recipes.jsonl.xz" \
  --sol-gel "$real/recipes/sol_gel_recipes.json.xz" \
  --out data/recipe_stats.json
echo "wrote data/recipe_stats.json ($(wc -c < data/recipe_stats.json) bytes)"
