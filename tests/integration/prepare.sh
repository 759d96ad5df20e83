#!/usr/bin/env bash
# Prepares what the server integration tests share: a 200-material synthetic corpus and two
# tiny trained bundles (models/1 from configs/tiny.yaml, models/2 with another seed and
# fewer epochs). Idempotent and safe to run from many test processes at once: the first
# builds under a lock, the others wait and reuse it; rebuilt when mmtrain, mmdata or the
# tiny config change.
# usage: prepare.sh SOURCE_DIR BIN_DIR OUT_DIR
set -euo pipefail
src=$1 bin=$2 out=$3
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
stamp="$(stat -c %Y "$bin/mmtrain" "$bin/mmdata" | tr '\n' ' ')$(sha256sum < "$src/configs/tiny.yaml")"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then exit 0; fi
rm -rf "$out/corpus" "$out/models" "$out/stamp"
"$bin/mmdata" synth --n 200 --seed 21 --out "$out/corpus" --quiet
"$bin/mmtrain" train --config "$src/configs/tiny.yaml" --data "$out/corpus" --out "$out/models" \
  --log-every 0 > "$out/train1.log" 2>&1
sed -e 's/seed: 1$/seed: 2/' -e 's/epochs: 15$/epochs: 4/' "$src/configs/tiny.yaml" > "$out/tiny2.yaml"
"$bin/mmtrain" train --config "$out/tiny2.yaml" --data "$out/corpus" --out "$out/models" \
  --run-dir "$out/run2" --log-every 0 > "$out/train2.log" 2>&1
test -f "$out/models/1/manifest.json" && test -f "$out/models/2/manifest.json"
echo "$stamp" > "$out/stamp"
