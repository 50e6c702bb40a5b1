#!/usr/bin/env bash
# Is fff dense >= 1.3x PyTorch eager at batch 8 reachable here? Per round, at
# T threads (OMP_NUM_THREADS=T for everything): this core's best GEMM rate
# (sgemm_peak.cc), fff's dense crammedBERT and PyTorch's at batch 8 (at 2
# threads also the peer's passive wait policy). docs/benchmarks.md, issue 3.
#   tools/bench/roofline/batch8.sh [ROUNDS]   # needs build/release, /usr/bin/python3 + torch
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROUNDS=${1:-3}
FFF=${FFF:-build/release/tools/cli/fff}
PEAK=$(mktemp)
trap 'rm -f "$PEAK"' EXIT
g++ -O2 -fopenmp tools/bench/roofline/sgemm_peak.cc -ldnnl -o "$PEAK"
[ -f fff-models/synth-dense-3072/model.safetensors ] ||
  "$FFF" synth --ff ff --intermed 3072 --nonlin GELU -o fff-models/synth-dense-3072
for t in 1 2; do
  for i in $(seq "$ROUNDS"); do
    echo "round $i sgemm $(OMP_NUM_THREADS=$t "$PEAK")"
    echo "round $i fff $(OMP_NUM_THREADS=$t "$FFF" bench -m fff-models/synth-dense-3072 \
      -t "$t" --batches 8 --seq 128 --reps 3 2>/dev/null | grep '^{')"
    echo "round $i torch $(OMP_NUM_THREADS=$t /usr/bin/python3 python/reference/bench_torch.py \
      --parts encoder --models crammedbert-dense --batches 8 --threads "$t" --reps 3 2>/dev/null | grep '^{')"
    if [ "$t" = 2 ]; then
      echo "round $i torch-passive $(OMP_NUM_THREADS=$t OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 \
        python/reference/bench_torch.py --parts encoder --models crammedbert-dense \
        --batches 8 --threads "$t" --reps 3 2>/dev/null | grep '^{')"
    fi
  done
done
