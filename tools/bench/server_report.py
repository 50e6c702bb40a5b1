#!/usr/bin/env python3
"""Helpers of bench/server_load.sh (standard library only).

  server_report.py histogram BEFORE AFTER   # /metrics scrapes -> JSON of the
                                            # interval (accepted /embed
                                            # latency quantiles, batches, 429s)
  server_report.py report OUT               # offline.jsonl + load.jsonl ->
                                            # Markdown tables
"""
import json
import re
import sys

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse(path):
    values = {}
    for line in open(path, encoding="utf-8"):
        m = SERIES.match(line.strip())
        if m:
            values[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return values


def delta(before, after, name, labels=""):
    return after.get((name, labels), 0.0) - before.get((name, labels), 0.0)


def quantile(before, after, name, route_labels, q):
    """Prometheus' histogram_quantile over the interval (linear within a
    bucket), in milliseconds; None without observations."""
    buckets = []
    for (n, labels), v in after.items():
        if n != name + "_bucket" or route_labels not in labels:
            continue
        le = re.search(r'le="([^"]+)"', labels).group(1)
        bound = float("inf") if le == "+Inf" else float(le)
        buckets.append((bound, v - before.get((n, labels), 0.0)))
    buckets.sort()
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower * 1e3
            frac = (rank - lower_count) / max(count - lower_count, 1e-12)
            return (lower + (bound - lower) * frac) * 1e3
        lower, lower_count = bound, count
    return None


def histogram_main(before_path, after_path):
    b, a = parse(before_path), parse(after_path)
    route = 'route="embed"'
    lat = "fff_request_duration_seconds"
    batches = delta(b, a, "fff_batch_size_count")
    out = {
        "accepted": delta(b, a, "fff_requests_success_total", "{%s}" % route),
        "rejected_429": delta(b, a, "fff_request_errors_total",
                              '{error_type="overloaded",status="429"}'),
        "accepted_ms": {
            "p50": quantile(b, a, lat, route, 0.50),
            "p95": quantile(b, a, lat, route, 0.95),
            "p99": quantile(b, a, lat, route, 0.99),
        },
        "queue_ms_p99": quantile(b, a, "fff_queue_duration_seconds", "", 0.99),
        "batches": batches,
        "mean_batch_sequences":
            delta(b, a, "fff_batch_size_sum") / batches if batches else None,
        "mean_batch_tokens":
            delta(b, a, "fff_batch_tokens_sum") / batches if batches else None,
        "mean_batch_ms":
            1e3 * delta(b, a, "fff_inference_duration_seconds_sum") / batches
            if batches else None,
    }
    print(json.dumps(out))


def fmt(v, digits=1):
    return "–" if v is None else f"{v:.{digits}f}"


def report_main(out_dir):
    offline = [json.loads(l) for l in open(f"{out_dir}/offline.jsonl") if l.strip()]
    runs = [json.loads(l) for l in open(f"{out_dir}/load.jsonl") if l.strip()]
    commit = " ".join(open(f"{out_dir}/commit.txt").read().split())
    best = {}  # model -> offline sequences/s at the largest batch
    print(f"Commit {commit}; {open(f'{out_dir}/machine.txt').read().strip()}".replace("\n", "; "))
    if runs and runs[0].get("serve_args"):
        print(f"`fff serve` options added: `{runs[0]['serve_args']}`")
    print()
    print("Offline (`fff bench --texts`, the same sentences, medians of 3 passes):\n")
    print("| model | threads | batch | texts | tokens | sequences/s | tokens/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for o in offline:
        print(f"| {o['model_dir']} | {o['threads']} | {o['batch']} | {o['texts']} | "
              f"{o['tokens']} | {o['sequences_per_s']:.1f} | {o['tokens_per_s']:.0f} |")
        if o["batch"] >= best.get(o["model_dir"], (0, 0))[0]:
            best[o["model_dir"]] = (o["batch"], o["sequences_per_s"])
    print()
    print("Server (`POST /embed`, one sentence per request, wrk -t1; latency "
          "from wrk; `batch` = mean sequences per engine batch):\n")
    print("| model | clients | requests/s | vs offline batch | p50 ms | p95 ms | "
          "p99 ms | batch | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    unloaded = {}
    for r in runs:
        if r["mode"] != "load":
            continue
        w, s = r["wrk"], r["server"]
        ratio = (w["requests_per_s"] / best[r["model_dir"]][1]
                 if r["model_dir"] in best else None)
        if r["connections"] == 1:
            unloaded[r["model_dir"]] = (w["latency_ms"]["p99"], s["accepted_ms"]["p99"])
        print(f"| {r['model_dir']} | {r['connections']} | {w['requests_per_s']:.1f} | "
              f"{fmt(ratio, 2)} | {w['latency_ms']['p50']:.1f} | {w['latency_ms']['p95']:.1f} | "
              f"{w['latency_ms']['p99']:.1f} | {fmt(s['mean_batch_sequences'])} | "
              f"{w['non_2xx']} |")
    print()
    print("Overload (more clients than `--max-concurrent-requests`; accepted = "
          "answered 200; latencies of accepted requests from the server's "
          "histogram, the 429s excluded):\n")
    print("| model | limit | clients | on 429 | accepted | accepted/s | 429/s | "
          "accepted p95 ms | accepted p99 ms | unloaded p99 ms | p99 ratio | batch |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        if r["mode"] != "overload":
            continue
        w, s = r["wrk"], r["server"]
        dur = w["duration_s"]
        base = unloaded.get(r["model_dir"], (None, None))[1]
        p99 = s["accepted_ms"]["p99"]
        ratio = p99 / base if (p99 and base) else None
        retry = r.get("retry_after_ms", 0)
        on_429 = f"wait {retry} ms" if retry else "retry at once"
        print(f"| {r['model_dir']} | {r['limit']} | {r['connections']} | {on_429} | "
              f"{s['accepted']:.0f} | {s['accepted'] / dur:.1f} | {s['rejected_429'] / dur:.0f} | "
              f"{fmt(s['accepted_ms']['p95'])} | {fmt(p99)} | "
              f"{fmt(base)} | {fmt(ratio, 2)} | {fmt(s['mean_batch_sequences'])} |")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "histogram":
        histogram_main(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "report":
        report_main(sys.argv[2])
    else:
        sys.exit(__doc__)
