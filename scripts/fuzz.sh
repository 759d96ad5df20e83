#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for N seconds,
# seeded from the real files. Prints the executions per target at the end.
# usage: scripts/fuzz.sh [BUILD_DIR] [SECONDS] [TARGET...]   (default: every target)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
secs=${2:-60}
shift $(( $# < 2 ? $# : 2 ))
only=" $* "
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DMATALIGN_FUZZ=ON >/dev/null
cmake --build "$dir" -j "$(nproc)"
summary=()
while read -r name seeds; do
  [ -n "$name" ] || continue
  [ "$only" = "  " ] || [[ "$only" == *" $name "* ]] || continue
  corpus="$dir/corpus/$name"
  mkdir -p "$corpus" "$dir/artifacts"
  # libFuzzer takes corpus directories: seed files are copied into the working corpus.
  seed_dirs=()
  for s in $seeds; do
    if [ -d "$s" ]; then seed_dirs+=("$s"); elif [ -f "$s" ]; then cp "$s" "$corpus/"; fi
  done
  echo "== fuzz_$name for ${secs}s (seeds: ${seed_dirs[*]:-none})"
  log="$dir/fuzz_$name.log"
  "$dir/fuzz/fuzz_$name" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 \
    -max_len=1048576 -timeout=10 -artifact_prefix="$dir/artifacts/$name-" "$corpus" "${seed_dirs[@]}" >"$log" 2>&1 || {
      echo "fuzz_$name FAILED: see $log"; tail -30 "$log"; exit 1; }
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  rate=$(grep -m1 'stat::average_exec_per_sec' "$log" | awk '{print $2}')
  summary+=("$(printf '%-10s %12s execs  %8s exec/s  corpus %s files' "$name" "$execs" "$rate" "$(ls "$corpus" | wc -l)")")
done < "$dir/fuzz_seeds.txt"
echo
echo "fuzz summary (${secs}s per target, no crashes):"
printf '  %s\n' "${summary[@]}"
