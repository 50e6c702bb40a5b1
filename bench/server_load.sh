#!/usr/bin/env bash
# Load test of `fff serve` with wrk, against 127.0.0.1 only, bounded in time.
# For each model (UltraFastBERT-1x11-long and dense crammedBERT, synthetic
# weights with the published shapes), one run of:
#   1. offline: `fff bench --texts` embeds the same sentences in batches of
#      1 and of --max-batch-requests (the engine's batch throughput);
#   2. the server with a limit above the client count: POST /embed (one
#      SST-2 dev sentence per request, round-robin) at concurrency 1, 8, 64
#      for $DURATION s each (after a warm-up);
#   3. overload: the server with --max-concurrent-requests $LIMITS (each in
#      turn), $OVERLOAD_CONNS clients, twice: clients that honour the 429's
#      Retry-After (wait 1 s) and clients that retry at once, for
#      $OVERLOAD_DURATION s each: 429s and the
#      latency of the accepted requests (from the server's own histogram,
#      the 429s being excluded).
# Results: $OUT/*.jsonl (one line per run) and a Markdown report
# ($OUT/report.md, tools/bench/server_report.py). About 13 minutes with the
# defaults on 2 cores.
#
#   bench/server_load.sh                      # needs build/release, wrk, python3
#   DURATION=5 MODELS=synth-1x11-long bench/server_load.sh
#   SKIP_OFFLINE=1 SERVE_ARGS="--pooling cls" OUT=/tmp/cls bench/server_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
FFF=${FFF:-build/release/tools/cli/fff}
OUT=${OUT:-docs/results/server}
DATA=${DATA:-../shared/data}
DURATION=${DURATION:-10}
OVERLOAD_DURATION=${OVERLOAD_DURATION:-30}  # more samples: p99 of the accepted
MODELS=${MODELS:-"synth-1x11-long synth-dense-3072"}
CONCURRENCY=${CONCURRENCY:-"1 8 64"}
LIMITS=${LIMITS:-"2 4 16"}
OVERLOAD_CONNS=${OVERLOAD_CONNS:-128}
BATCH_REQUESTS=${BATCH_REQUESTS:-64}
THREADS=${THREADS:-2}
SERVE_ARGS=${SERVE_ARGS:-}  # more `fff serve` options, e.g. "--http-nice 0"
LUA=bench/server_load.lua
command -v wrk > /dev/null || { echo "wrk not found (apt-get install wrk)"; exit 1; }
mkdir -p "$OUT" fff-models
WORK=$(mktemp -d)  # scratch: texts, bodies, scrapes, the server's log
[ -f fff-models/synth-1x11-long/model.safetensors ] ||
  "$FFF" synth -o fff-models/synth-1x11-long
[ -f fff-models/synth-dense-3072/model.safetensors ] ||
  "$FFF" synth --ff ff --intermed 3072 --nonlin GELU -o fff-models/synth-dense-3072

# The requests: the first $N_TEXTS SST-2 dev sentences, one /embed body each
# (the offline pass embeds the same ones).
N_TEXTS=${N_TEXTS:-256}
awk -F'\t' -v n="$N_TEXTS" 'NR > 1 && NR <= n + 1 { print $1 }' \
  "$DATA/glue/SST-2/dev.tsv" > "$WORK/texts.txt"
python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    print(json.dumps({"inputs": line.rstrip("\n")}))' "$WORK/texts.txt" > "$WORK/bodies.jsonl"
export FFF_BODIES="$WORK/bodies.jsonl"
{
  git rev-parse --short=12 HEAD 2>/dev/null || echo unknown
  # (changes to the results folder itself do not count)
  git status --porcelain --untracked-files=no -- . ":(exclude)$OUT" 2>/dev/null |
    grep -q . && echo "(uncommitted changes)" || true
} > "$OUT/commit.txt"
lscpu | grep -E 'Model name|^CPU\(s\)' > "$OUT/machine.txt" || true

pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2> /dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

start_server() {  # MODEL LIMIT
  rm -f "$WORK/port"
  OMP_NUM_THREADS=$THREADS "$FFF" serve -m "fff-models/$1" -t "$THREADS" --port 0 \
    --port-file "$WORK/port" --max-concurrent-requests "$2" \
    --max-batch-requests "$BATCH_REQUESTS" $SERVE_ARGS \
    2>> "$WORK/server.log" &
  pid=$!
  for _ in $(seq 300); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  [ -s "$WORK/port" ] || { echo "server did not start"; cat "$WORK/server.log"; exit 1; }
  port=$(cat "$WORK/port")
}
stop_server() {
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
}
scrape() { curl -s "http://127.0.0.1:$port/metrics"; }
# Until no request is in the server (those wrk left unanswered at its end
# finish first, so they count in neither interval).
wait_idle() {
  for _ in $(seq 600); do
    scrape | grep -q '^fff_in_flight_requests 0$' && return 0
    sleep 0.1
  done
}
# measure MODE LIMIT CONNECTIONS SECONDS [RETRY_AFTER_MS]: one wrk run,
# appended to load.jsonl with the server's view of the same interval.
measure() {
  local retry=${5:-0}
  wait_idle
  scrape > "$WORK/metrics-before.txt"
  line=$(FFF_RETRY_AFTER_MS=$retry wrk -t1 -c"$3" -d"$4"s --timeout 30s -s "$LUA" \
           "http://127.0.0.1:$port/embed" | tail -n 1)
  wait_idle
  scrape > "$WORK/metrics-after.txt"
  server=$(python3 tools/bench/server_report.py histogram \
             "$WORK/metrics-before.txt" "$WORK/metrics-after.txt")
  echo "{\"model_dir\":\"$model\",\"mode\":\"$1\",\"limit\":$2,\"connections\":$3,\"retry_after_ms\":$retry,\"serve_args\":\"$SERVE_ARGS\",\"wrk\":$line,\"server\":$server}" >> "$OUT/load.jsonl"
  echo "   $1 limit $2, $3 clients, retry after $retry ms: $line"
}
warm_up() { wrk -t1 -c8 -d2s -s "$LUA" "http://127.0.0.1:$port/embed" > /dev/null; }

: > "$OUT/offline.jsonl"
: > "$OUT/load.jsonl"
: > "$WORK/server.log"
for model in $MODELS; do
  echo "== $model: offline"
  [ -n "${SKIP_OFFLINE:-}" ] || OMP_NUM_THREADS=$THREADS "$FFF" bench -m "fff-models/$model" -t "$THREADS" \
    --texts "$WORK/texts.txt" --batches 1 "$BATCH_REQUESTS" --reps 3 \
    2> /dev/null | sed "s/^{/{\"model_dir\":\"$model\",/" >> "$OUT/offline.jsonl"

  echo "== $model: server, concurrency $CONCURRENCY"
  start_server "$model" 1024
  warm_up
  for c in $CONCURRENCY; do measure load 1024 "$c" "$DURATION"; done
  stop_server

  for limit in $LIMITS; do
    echo "== $model: overload, limit $limit, $OVERLOAD_CONNS connections"
    start_server "$model" "$limit"
    warm_up
    measure overload "$limit" "$OVERLOAD_CONNS" "$OVERLOAD_DURATION" 1000
    measure overload "$limit" "$OVERLOAD_CONNS" "$OVERLOAD_DURATION" 0
    stop_server
  done
done
python3 tools/bench/server_report.py report "$OUT" | tee "$OUT/report.md"
