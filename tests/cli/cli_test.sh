#!/usr/bin/env bash
# The fff CLI end to end on a golden checkpoint: outputs are JSON Lines with
# the expected fields, and exit codes are 0 (ok), 1 (runtime error: bad
# input, missing files) and 2 (usage).
#   cli_test.sh FFF_BINARY TESTS_DATA_DIR
set -uo pipefail
fff=$1
data=$2
model=$data/golden/fff-1x3
cls=$data/golden/cls-fff-zero
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# expect CODE DESCRIPTION -- command...
expect() {
  local want=$1 what=$2
  shift 3
  "$@" > "$tmp/out" 2> "$tmp/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $what: exit $got, expected $want"; sed 's/^/  stderr: /' "$tmp/err"
    fails=$((fails + 1))
  else
    echo "ok: $what"
  fi
}
# contains FILE TEXT DESCRIPTION
contains() {
  if ! grep -qF -- "$2" "$1"; then
    echo "FAIL: $3: no '$2' in $(head -c 300 "$1")"; fails=$((fails + 1))
  fi
}

expect 0 "fill-mask" -- "$fff" fill-mask -m "$model" -k 5 "the man went to the <mask> ."
contains "$tmp/out" '"masks":[{"position":5,"predictions":[{"id":' "fill-mask output"
[ "$(grep -o '"id"' "$tmp/out" | wc -l)" = 5 ] || { echo "FAIL: top-5 count"; fails=$((fails + 1)); }

printf 'first <mask> line\nsecond <mask> line\n' > "$tmp/in"
expect 0 "fill-mask from stdin" -- bash -c "\"$fff\" fill-mask -m \"$model\" < \"$tmp/in\""
[ "$(wc -l < "$tmp/out")" = 2 ] || { echo "FAIL: one JSON line per stdin line"; fails=$((fails + 1)); }

expect 1 "fill-mask without a mask" -- "$fff" fill-mask -m "$model" "no mask here"
contains "$tmp/err" 'text 1: no mask token "<mask>"' "no-mask message"

printf 'bad \xff\xfe utf8 <mask>\n' > "$tmp/bad"
expect 1 "invalid UTF-8" -- bash -c "\"$fff\" fill-mask -m \"$model\" < \"$tmp/bad\""
contains "$tmp/err" "UTF-8" "invalid UTF-8 message"

long=$(printf 'word %.0s' $(seq 1 200))
expect 0 "long input is truncated" -- "$fff" embed -m "$model" "$long"
contains "$tmp/err" "truncated" "truncation notice"
expect 1 "--no-truncate" -- "$fff" embed -m "$model" --no-truncate "$long"

expect 0 "classify" -- "$fff" classify -m "$cls" "a fine movie" "another one"
contains "$tmp/out" '"probs":[' "classify probs"
expect 0 "classify a pair" -- "$fff" classify -m "$cls" --pair-separator '|' "first part|second part"
expect 1 "classify without a head" -- "$fff" classify -m "$model" "text"
expect 1 "fill-mask without an MLM head" -- "$fff" fill-mask -m "$cls" "a <mask>"

expect 0 "embed" -- "$fff" embed -m "$model" --normalize --pooling first "hello world"
contains "$tmp/out" '"embedding":[' "embed output"
expect 0 "tokenize" -- "$fff" tokenize -m "$model" "Hello, world!"
contains "$tmp/out" '"tokens":["hell","##o",",","world","!","<sep>"]' "tokenize tokens"
expect 0 "info" -- "$fff" info -m "$model"
contains "$tmp/out" '"visited_per_token": 4' "info FFF shape"

expect 1 "missing model folder" -- "$fff" info -m "$tmp/nonexistent"
contains "$tmp/err" "config.json" "missing folder message"
expect 2 "unknown flag" -- "$fff" fill-mask --bogus
expect 2 "no command" -- "$fff"
expect 2 "bad option value" -- "$fff" fill-mask -k 0 "x <mask>"

expect 0 "synth (small)" -- "$fff" synth -o "$tmp/synth" --layers 1 --hidden 32 --heads 2 --depth 3 --vocab 2048 --max-seq 16
expect 0 "bench on it" -- "$fff" bench -m "$tmp/synth" --batches 1 2 --seq 16 --reps 1 --min-time-ms 1 --breakdown
contains "$tmp/out" '"tokens_per_s":' "bench JSON"
contains "$tmp/err" "meaningless" "synthetic notice"

expect 0 "bench --count-routes" -- "$fff" bench -m "$tmp/synth" --batches 2 --seq 16 --reps 1 --min-time-ms 1 --count-routes
contains "$tmp/out" '"routes_overhead_ratio":' "bench routes overhead"

# Routing statistics, pruning, GLUE scoring (docs/routing.md).
expect 0 "routes" -- "$fff" routes -m "$model" --paths "$tmp/paths.jsonl" "hello world" "a second text"
contains "$tmp/out" '"visits":[' "routes report"
contains "$tmp/out" '"split_entropy_bits":' "routes levels"
contains "$tmp/err" "| layer | tree | tokens |" "routes table"
n_tokens=$(grep -o '"tokens":[0-9]*' "$tmp/out" | head -1 | cut -d: -f2)
[ "$(wc -l < "$tmp/paths.jsonl")" = "$n_tokens" ] || { echo "FAIL: one path line per token ($n_tokens)"; fails=$((fails + 1)); }
contains "$tmp/paths.jsonl" '"layers":[[[0,' "paths start at the root"
printf 'good line\nbad \xff\xfe line\n' > "$tmp/bad_lines.txt"
expect 1 "routes: invalid UTF-8 names the line" -- "$fff" routes -m "$model" --file "$tmp/bad_lines.txt"
contains "$tmp/err" "bad_lines.txt:line 2" "routes UTF-8 line"
expect 1 "routes on a dense model" -- "$fff" routes -m "$data/golden/dense-gelu" "text"
contains "$tmp/err" "dense" "routes dense message"
expect 0 "prune at two thresholds" -- "$fff" prune -m "$model" --threshold 0 2 -o "$tmp/pruned" "hello world" "a second text"
[ "$(wc -l < "$tmp/out")" = 2 ] || { echo "FAIL: one report per threshold"; fails=$((fails + 1)); }
contains "$tmp/out" '"kept_nodes":' "prune report"
expect 0 "routes on the pruned model" -- "$fff" routes -m "$tmp/pruned-t2" "another text entirely"
contains "$tmp/out" '"pruned_stops":' "pruned stops counted"
expect 1 "prune a dense model" -- "$fff" prune -m "$data/golden/dense-gelu" --threshold 1 -o "$tmp/pd" "text"
expect 2 "prune needs a threshold" -- "$fff" prune -m "$model" -o "$tmp/px" "text"
expect 0 "convert to the zero-copy layout" -- "$fff" convert -m "$model" -o "$tmp/records"
contains "$tmp/out" '"layout":"fff-node-records-v2"' "convert report"
"$fff" embed -m "$model" "a text to embed" > "$tmp/emb_a" 2>/dev/null
"$fff" embed -m "$tmp/records" "a text to embed" > "$tmp/emb_b" 2>/dev/null
cmp -s "$tmp/emb_a" "$tmp/emb_b" || { echo "FAIL: converted model embeds differently"; fails=$((fails + 1)); }
expect 1 "convert a dense model" -- "$fff" convert -m "$data/golden/dense-gelu" -o "$tmp/records_dense"
mkdir -p "$tmp/glue/SST-2"
printf 'sentence\tlabel\na gorgeous , witty movie \t1\na dull , boring mess \t0\n' > "$tmp/glue/SST-2/dev.tsv"
expect 0 "glue-eval with the default model" -- "$fff" glue-eval --task sst2 --glue-dir "$tmp/glue"
contains "$tmp/out" '"accuracy":100' "glue-eval accuracy"
expect 1 "glue-eval without a classifier" -- "$fff" glue-eval -m "$model" --task sst2 --glue-dir "$tmp/glue"
contains "$tmp/err" "classifier" "glue-eval head message"

# The default model (models/ufb-mini-sst2, no --model): the README's run
# command does real sentiment classification and fill-mask.
expect 0 "classify with the default model" -- "$fff" classify "a gorgeous, witty movie" "a dull, boring mess"
contains "$tmp/out" '"label":1' "default model: positive review"
contains "$tmp/out" '"label":0' "default model: negative review"
expect 0 "fill-mask with the default model" -- "$fff" fill-mask "the man went to the <mask> ."
contains "$tmp/out" '"token":"the"' "default model: fill-mask tokens"

if [ "$fails" != 0 ]; then echo "$fails failure(s)"; exit 1; fi
echo "all CLI checks passed"
