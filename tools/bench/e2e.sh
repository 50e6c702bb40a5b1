#!/usr/bin/env bash
# End-to-end benchmark, all in one run on one machine: UltraFastBERT-1x11-long
# and crammedBERT-dense (3072, GELU) in fff, and the same architectures in
# PyTorch eager (python/reference/bench_torch.py, Debian's torch 1.13 on the
# system BLAS), sequence length 128, batches 1 / 8 / 64, 1 and 2 threads.
# Results go to $OUT (JSON lines per engine); docs/benchmarks.md shows them.
#
#   tools/bench/e2e.sh            # needs build/release and /usr/bin/python3 + torch
#   SKIP_TORCH=1 tools/bench/e2e.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
FFF=${FFF:-build/release/tools/cli/fff}
OUT=${OUT:-docs/results/e2e}
BATCHES=${BATCHES:-"1 8 64"}
REPS=${REPS:-5}
mkdir -p "$OUT" fff-models
[ -f fff-models/synth-1x11-long/model.safetensors ] ||
  "$FFF" synth -o fff-models/synth-1x11-long
git rev-parse --short=12 HEAD > "$OUT/commit.txt" 2>/dev/null || true
[ -f fff-models/synth-dense-3072/model.safetensors ] ||
  "$FFF" synth --ff ff --intermed 3072 --nonlin GELU -o fff-models/synth-dense-3072
: > "$OUT/fff.jsonl"
: > "$OUT/fff-tables.md"
for t in 1 2; do
  for m in synth-dense-3072 synth-1x11-long; do
    OMP_NUM_THREADS=$t "$FFF" bench -m fff-models/$m -t "$t" --batches $BATCHES \
      --reps "$REPS" --breakdown 2>> "$OUT/fff-tables.md" | tee -a "$OUT/fff.jsonl"
  done
done
"$FFF" -v info -m fff-models/synth-1x11-long > "$OUT/info-1x11.json" 2> "$OUT/load-1x11.log"
if [ -z "${SKIP_TORCH:-}" ]; then
  /usr/bin/python3 python/reference/bench_torch.py --parts encoder \
    --models crammedbert-dense,ultrafastbert-1x11-cond,ultrafastbert-1x11-dense \
    --batches "$(echo $BATCHES | tr ' ' ,)" --threads 1,2 --reps "${TORCH_REPS:-3}" \
    > "$OUT/torch.jsonl" 2> "$OUT/torch.log"
fi
echo "results in $OUT"
