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

step "7. Server and recommendation"
echo "not yet: index/ (issue 5), mmserver + mmclient recommend (issue 6) are built by later"
echo "         issues."
echo
echo "demo outputs are in $out/"
