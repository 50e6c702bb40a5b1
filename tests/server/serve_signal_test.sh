#!/usr/bin/env bash
# `fff serve` as a process: it answers on its port, SIGTERM makes it finish
# and exit 0, and a port already in use is an error (exit 1).
#   serve_signal_test.sh FFF_BINARY TESTS_DATA_DIR
set -uo pipefail
fff=$1
model=$2/golden/fff-1x3
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# A bounded HTTP request with bash's /dev/tcp (no curl needed): prints the
# status line's code.
http() {  # METHOD PATH [BODY]
  local port=$1 method=$2 path=$3 body=${4:-}
  timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port
    printf '%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
      '$method' '$path' ${#body} '$body' >&3
    head -n 1 <&3 | cut -d' ' -f2" 2>/dev/null
}

"$fff" serve -m "$model" --port 0 --port-file "$tmp/port" 2> "$tmp/err" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { fail "no port file"; cat "$tmp/err"; exit 1; }
port=$(cat "$tmp/port")

[ "$(http "$port" GET /health)" = 200 ] && echo "ok: /health" || fail "/health"
[ "$(http "$port" POST /embed '{"inputs": "hello"}')" = 200 ] && echo "ok: /embed" || fail "/embed"
[ "$(http "$port" POST /embed '{"inputs": []}')" = 400 ] && echo "ok: empty" || fail "empty inputs"

# A second server on the same port: an error naming the port.
"$fff" serve -m "$model" --port "$port" 2> "$tmp/err2"
code=$?
[ "$code" = 1 ] && grep -q "$port" "$tmp/err2" && echo "ok: port in use" ||
  { fail "port in use: exit $code"; cat "$tmp/err2"; }

kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  fail "still running 10 s after SIGTERM"
else
  wait "$pid"
  code=$?
  pid=""
  [ "$code" = 0 ] && echo "ok: SIGTERM exits 0" || fail "SIGTERM: exit $code"
  grep -q "SIGTERM" "$tmp/err" && grep -q "stopped" "$tmp/err" ||
    { fail "shutdown log"; cat "$tmp/err"; }
fi
[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
