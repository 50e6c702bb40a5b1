#!/usr/bin/env bash
# fff-train end to end on a tiny configuration (CI, < 1 minute on 2 cores):
# WordPiece vocabulary -> shards -> MLM pretraining of a tiny UltraFastBERT ->
# the checkpoint loads in the inference engine (`fff fill-mask`) -> exact
# resume after an interruption -> 2-process data parallel over Gloo gives the
# single-process losses -> a NaN loss stops the run and keeps the last
# checkpoint -> corrupt shards are refused -> GLUE finetuning + report ->
# the same for a leaf FFF (the original FFF) model with hardening.
# Usage: train_pipeline_test.sh FFF_TRAIN FFF SHARED_DATA_DIR
set -euo pipefail
T=$1; F=$2; DATA=$3
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cd "$W"
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. Vocabulary and shards from the presidential speeches (2.9 MB of text).
$T tokenizer --corpus "$DATA/corpus/us-presidential-speeches/speeches.txt.xz" \
  --vocab-size 1500 -o tok.json 2>/dev/null
grep -q '"WordPiece"' tok.json || fail "tokenizer.json has no WordPiece model"
$T prepare --tokenizer tok.json --corpus "$DATA/corpus/us-presidential-speeches/speeches.txt.xz" \
  -o shards --sequences-per-shard 500 --max-shards 3 2>/dev/null
$T prepare --tokenizer tok.json --corpus "$DATA/corpus/us-presidential-speeches/speeches.txt.xz" \
  -o shards --sequences-per-shard 500 2>prep.err   # resumes after shard 3
grep -q "3 kept from an earlier run" prep.err || fail "prepare did not resume: $(cat prep.err)"

# 2. Pretraining: 8 steps straight vs 4 + resume + 4 (bitwise identical).
ARGS="--tokenizer tok.json --layers 2 --hidden 32 --heads 2 --depth 3 --max-seq 128
      --steps 8 --batch 8 --micro-batch 4 --checkpoint-every 4 --threads 1 --no-progress"
$T pretrain --data shards $ARGS -o straight > straight.out
$T pretrain --data shards $ARGS -o resumed --stop-after-steps 4 > /dev/null
grep -q '"finished": false' <($T pretrain --data shards $ARGS -o resumed2 --stop-after-steps 4) || fail "stop-after-steps"
$T pretrain --data shards $ARGS -o resumed --resume > /dev/null
cmp straight/final/model.safetensors resumed/final/model.safetensors || fail "resume is not exact"
[ "$(wc -l < straight/loss.jsonl)" = 8 ] || fail "loss log: expected 8 lines"
cmp <(sed 's/"elapsed_s":[^,]*,//' straight/loss.jsonl) \
    <(sed 's/"elapsed_s":[^,]*,//' resumed/loss.jsonl) >/dev/null \
  || fail "resumed loss log differs"

# 3. The engine loads the trained checkpoint.
$F fill-mask --model straight/final "the people of the <mask> states" > fill.json 2>/dev/null
grep -q '"predictions"' fill.json || fail "fff fill-mask on the trained model: $(cat fill.json)"

# 4. Two processes, Gloo on loopback: the same losses as one process.
PORT=$((20000 + RANDOM % 20000))
$T pretrain --data shards $ARGS -o dist --world-size 2 --rank 0 --master-port $PORT > d0.out 2>d0.err &
P0=$!
$T pretrain --data shards $ARGS -o dist --world-size 2 --rank 1 --master-port $PORT > d1.out 2>d1.err \
  || fail "rank 1: $(cat d1.err)"
wait $P0 || fail "rank 0: $(cat d0.err)"
paste -d' ' <(sed 's/.*"loss":\([^,]*\).*/\1/' straight/loss.jsonl) \
            <(sed 's/.*"loss":\([^,]*\).*/\1/' dist/loss.jsonl) |
  awk '{d=$1-$2; if (d<0) d=-d; if (d > 1e-5*($1<0?-$1:$1)) {print "step " NR ": " $0; bad=1}}
       END {exit bad}' || fail "2-process losses differ from 1-process"

# 5. A NaN loss stops with a message naming the step; the checkpoint stays.
if $T pretrain --data shards $ARGS -o nan --nan-at-step 5 > nan.out 2> nan.err; then fail "NaN run succeeded"; fi
grep -q "step 5: the loss is nan" nan.err || fail "NaN message: $(cat nan.err)"
grep -q '"step": 4' nan/checkpoint/state.json || fail "NaN run lost its checkpoint"

# A damaged state.json is refused, naming the field.
cp -r straight broken && echo '{"step": 4}' > broken/checkpoint/state.json
if $T pretrain --data shards $ARGS -o broken --resume > /dev/null 2> broken.err; then fail "broken state.json accepted"; fi
grep -q "state.json: consumed_sequences: expected a number" broken.err || fail "state.json message: $(cat broken.err)"

# 6. A corrupt shard is refused with its name.
cp -r shards bad && f=$(ls bad/*.bin 2>/dev/null | head -1 || true)
[ -n "$f" ] || f=$(find bad -type f ! -name manifest.json | head -1)
printf '\xff\xff' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
if $T pretrain --data bad $ARGS -o badrun > /dev/null 2> bad.err; then fail "corrupt shard accepted"; fi
grep -q "$(basename "$f")" bad.err || fail "corrupt-shard error does not name the file: $(cat bad.err)"

# 7. GLUE: finetune on small prefixes, report with the task metrics.
$T glue --model straight/final --glue-dir "$DATA/glue" --tasks sst2,stsb,mrpc \
  --max-train 64 --max-eval 48 --epochs 1 -o glue --threads 1 --no-progress > /dev/null
for k in '"sst2"' '"accuracy"' '"pearson"' '"spearman"' '"f1"' glue_average_excluding_wnli; do
  grep -q "$k" glue/glue_report.json || fail "GLUE report lacks $k"
done
# 8. The original FFF (leaf FFF, issue 7): pretraining with hardening logs
#    the router entropy and leaf usage, the hard and soft held-out losses,
#    and the checkpoint runs in the engine (hard inference) and finetunes.
$T pretrain --data shards --eval-data shards --eval-sequences 16 --tokenizer tok.json   --layers 2 --hidden 32 --heads 2 --max-seq 128 --steps 6 --batch 8 --micro-batch 4   --eval-every 3 --threads 1 --no-progress --ff leaf --depth 2 --leaf-width 4   --hardening 0.5 --hardening-warmup 0.5 --region-leak 0.1 --leaf-dropout 0.1   -o leaf > leaf.out
grep -q '"eval_loss_soft": [0-9]' leaf.out || fail "leaf run: no soft eval loss: $(cat leaf.out)"
grep -q '"router_entropy"' leaf/loss.jsonl || fail "leaf run: no router entropy logged"
grep -q '"leaf_usage".*"leaves_used"' leaf/loss.jsonl || fail "leaf run: no leaf usage logged"
grep -q '"intermed_type": "leaf_fff"' leaf/final/config.json || fail "leaf config.json"
$F info --model leaf/final > leaf_info.json 2>/dev/null
grep -q '"leaf_fff"' leaf_info.json || fail "fff info on the leaf model: $(cat leaf_info.json)"
$F fill-mask --model leaf/final "the people of the <mask> states" > leaf_fill.json 2>/dev/null
grep -q '"predictions"' leaf_fill.json || fail "fff fill-mask on the leaf model"
if $T pretrain --data shards $ARGS -o notleaf --hardening 1 > /dev/null 2> notleaf.err; then
  fail "--hardening accepted for an UltraFastBERT model"
fi
grep -q "leaf FFF models" notleaf.err || fail "hardening message: $(cat notleaf.err)"
$T glue --model leaf/final --glue-dir "$DATA/glue" --tasks sst2 --max-train 32 --max-eval 16   --epochs 1 --hardening 0.1 -o leaf_glue --threads 1 --no-progress > /dev/null
grep -q '"main_soft"' leaf_glue/glue_report.json || fail "leaf GLUE report lacks main_soft"

echo "train pipeline: all checks passed"
