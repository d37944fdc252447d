#!/usr/bin/env bash
# Runs every command of docs/learning-guide.md and keeps what each printed in docs/guide/output/.
# From the repository root, with the environment of `make demo`: bash docs/guide/experiments.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/guide/output
mkdir -p "$out" docs/guide/img
run() {  # run NAME COMMAND...: print the command, then keep its output (skipped if kept already)
  local name=$1; shift
  [ -s "$out/$name.txt" ] && return 0
  { echo "\$ $*"; "$@"; } 2>&1 | tee "$out/$name.tmp"
  mv "$out/$name.tmp" "$out/$name.txt"
}

# 1. Positional encodings: order, and windows longer than training saw
for kind in none learned sinusoidal; do
  run "pe-$kind" txdata train --mode seq2seq --pattern "1 1 0" --positional "$kind" \
    --eval-length 24 --out "runs/guide/pe-$kind"
done
run pe-none-same-length txdata train --mode seq2seq --pattern "1 1 0" --positional none \
  --out runs/guide/pe-none-same-length

# 2. Stacked layers on a task that needs composition
for layers in 1 2 4; do
  run "layers-$layers" txdata train --mode seq2seq --task continue --pattern "1 1 0 1 0 0" \
    --horizon 6 --layers "$layers" --out "runs/guide/layers-$layers"
done
run induction python docs/guide/induction.py

# 3. Encoder and decoder: what each position may see
run masks txdata masks --mode both --batch-size 2 --length 8 --png docs/guide/img/masks.png

# 4. The two kinds of training data
run show-both txdata show --mode both --batch-size 1
run atlas txdata show --mode all --png docs/atlas.png
run objectives-alternating python docs/guide/objectives.py
run objectives-english python docs/guide/objectives.py --source sample:english --length 32 \
  --steps 600
run compare-alternating txdata compare --out runs/guide/compare-alternating
run compare-english txdata compare --source sample:english --length 32 --steps 600 \
  --out runs/guide/compare-english

# 5. The original exercise, wrong and right
run leaky txdata train --mode seq2seq --labels-as-decoder-input --out runs/guide/leaky
run shifted txdata train --mode seq2seq --out runs/guide/shifted

# 6. How long can a sequence be?
run sequence-length python bench/sequence_length.py

# 7. Softmax, label smoothing, dropout and confidence
for variant in "plain" "smooth --label-smoothing 0.1" "dropout --dropout 0.1"; do
  set -- $variant
  name=$1; shift
  run "calibration-$name" txdata train --mode mlm --source sample:english --length 32 \
    --steps 1500 --eval-every 500 "$@" --out "runs/guide/calibration-$name"
done

for name in plain dropout; do
  cp "runs/guide/calibration-$name/curves.png" "docs/guide/img/calibration-$name.png"
done
run calibration-seeds python docs/guide/calibration.py
run reliability-plain txdata plot --run runs/guide/calibration/plain/seed-0 --kind reliability \
  --draws 10 --png docs/guide/img/reliability-plain.png

# 8. Fixed-length vector or attention
run numbers txdata train --mode seq2seq --source sample:numbers --length 16 --steps 600 \
  --out runs/guide/numbers
run numbers-attention txdata attention --run runs/guide/numbers \
  "three thousand four hundred and twelve" --png docs/guide/img/numbers-attention.png

# 10. Backpropagation, by hand
run gradcheck txdata gradcheck
run backprop-manual txdata train --mode seq2seq --backprop manual --out runs/guide/backprop-manual
