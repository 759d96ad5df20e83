#!/usr/bin/env bash
# The MatAlign walk-through behind `make demo`. Uses the real public files in
# ../shared/data/real when present (or $MATALIGN_REAL_DATA), else the small examples/.
# usage: scripts/demo.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/bin
out=demo-out
mkdir -p "$out"
real=${MATALIGN_REAL_DATA:-../shared/data/real}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -d "$real" ]; then
  cif="$real/structures/cif/BiFeO3_R3c.cif"
  measured="$real/xrd/BiFeO3.xy"
  corpus="$real/synthesis_text"
  sem=$(ls "$real"/sem_ncm/images/*.jpg 2>/dev/null | head -1 || true)
else
  echo "(real data not found at $real: using examples/)"
  cif=examples/NaCl.cif
  measured=""
  corpus=examples/synthesis.txt
  sem=""
fi

step "1. A structure: $cif"
"$bin/mmdata" inspect "$cif"

step "2. Its powder XRD pattern (Cu K-alpha1), simulated from the structure"
"$bin/mmdata" xrd "$cif" --out "$out/simulated.xy" --png "$out/simulated.png" --peaks 8
if [ -n "$measured" ]; then
  step "   ... and the measured scan it should match: $measured"
  "$bin/mmdata" xrd "$measured" --png "$out/measured.png" --peaks 8
fi

step "3. Synthesis text: train a BPE tokenizer on $corpus and encode a protocol"
"$bin/mmdata" tokenizer train --corpus "$corpus" --vocab 2000 --out "$out/bpe"
"$bin/mmdata" tokenizer encode --model "$out/bpe.model" \
  "The powders were calcined at 900 oC for 12 hrs in air, then ball milled."

if [ -n "$sem" ]; then
  step "4. An SEM micrograph: decode, detect and crop the data bar, resize to 224x224"
  "$bin/mmdata" image "$sem" --out "$out/sem_224.png"
fi

step "5. A synthetic tri-modal corpus: 200 materials with structure, recipe, SEM and XRD"
"$bin/mmdata" synth --n 200 --seed 1 --out "$out/corpus" --quiet
"$bin/mmdata" manifest "$out/corpus/manifest.jsonl" --check-files
echo "one record's synthesis text:"
head -1 "$out/corpus/manifest.jsonl" | sed 's/.*"synthesis":{"text":"\([^"]*\)".*/  \1/'

step "6. Train the tiny model on that corpus (configs/tiny.yaml) and verify the bundle"
rm -rf "$out/models"
"$bin/mmtrain" train --config configs/tiny.yaml --data "$out/corpus" --out "$out/models" \
  --log-every 0
"$bin/mmtrain" check "$out/models/1"

step "7. Serve it: mmserver with an embedded RocksDB in $out/var (port chosen at start)"
rm -rf "$out/var" "$out/ports.json"
"$bin/mmserver" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$out/var" \
  --models-dir "$out/models" --port-file "$out/ports.json" > "$out/mmserver.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1200); do
  [ -s "$out/ports.json" ] && break
  kill -0 $server_pid 2>/dev/null || { cat "$out/mmserver.log"; exit 1; }
  sleep 0.1
done
port=$(sed 's/.*"grpc": \([0-9]*\).*/\1/' "$out/ports.json")
metrics=$(sed 's/.*"metrics": \([0-9]*\).*/\1/' "$out/ports.json")
cat "$out/mmserver.log"
mm() { "$bin/mmclient" --server "127.0.0.1:$port" "$@"; }
mm health
mm info

step "8. Ingest the corpus over gRPC (each record acknowledged once durable)"
mm ingest --manifest "$out/corpus/manifest.jsonl" --restart

step "9. Recommend syntheses for a target: band gap 2.1 eV, formation energy -1.3 eV/atom, BaTiO3, no Pb"
cat > "$out/target.json" <<'JSON'
{"properties": {"band_gap_ev": 2.1, "formation_energy_ev_per_atom": -1.3},
 "composition": "BaTiO3", "filters": {"exclude_elements": ["Pb"]}, "k": 5}
JSON
mm recommend --target "$out/target.json"

step "10. Properties predicted from the structure of step 1, and the server's metrics"
mm predict "$cif"
sleep 1.2  # gauges refresh every second
curl -s "http://127.0.0.1:$metrics/metrics" | grep -E '^matalign_(requests_total|records|index_vectors)' || true

kill -TERM $server_pid
wait $server_pid || true
trap - EXIT
echo
echo "demo outputs are in $out/ (server log: $out/mmserver.log)"
