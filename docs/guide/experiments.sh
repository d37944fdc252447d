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

# 1. Tokens and embeddings (also draws docs/guide/img/sinusoids.png, for chapter 2)
run embeddings python docs/guide/embeddings.py

# 2. Positions: order, and windows longer than training saw
run pe-none-same-length txdata train --mode seq2seq --pattern "1 1 0" --positional none \
  --out runs/guide/pe-none-same-length
run positions python docs/guide/positions.py

# 3. Attention: the √d_h scale, a fixed-length vector, and what attention looks at
run attention-scale python docs/guide/attention_scale.py
run fixed-vector python docs/guide/fixed_vector.py
run numbers txdata train --mode seq2seq --source sample:numbers --length 16 --steps 600 \
  --out runs/guide/numbers
run numbers-attention txdata attention --run runs/guide/numbers \
  "three thousand four hundred and twelve" --png docs/guide/img/numbers-attention.png

# 4. What stacked layers add: induction heads
run induction python docs/guide/induction.py

# 5. Encoder and decoder: what each position may see
run masks txdata masks --mode both --batch-size 2 --length 8 --png docs/guide/img/masks.png

# 6 and 7. The training data of each objective
run show-both txdata show --mode both --batch-size 1
run atlas txdata show --mode all --png docs/atlas.png
run objectives-alternating python docs/guide/objectives.py
run objectives-english python docs/guide/objectives.py --source sample:english --length 32 \
  --steps 600
run compare-alternating txdata compare --out runs/guide/compare-alternating
run compare-english txdata compare --source sample:english --length 32 --steps 600 \
  --out runs/guide/compare-english

# 8. The original exercise, wrong and right, and two leaks over three seeds
run leaky txdata train --mode seq2seq --labels-as-decoder-input --out runs/guide/leaky
run shifted txdata train --mode seq2seq --out runs/guide/shifted
run leaks python docs/guide/leaky.py

# 9. Backpropagation, by hand
run gradcheck txdata gradcheck
run backprop-manual txdata train --mode seq2seq --backprop manual --out runs/guide/backprop-manual

# 10. How long can a sequence be?
run sequence-length python bench/sequence_length.py

# 11. Softmax, label smoothing, dropout and confidence; calibration over three seeds
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
