#!/usr/bin/env python3
"""Turns the output of tools/bench/e2e.sh into the Markdown tables of
docs/benchmarks.md (ratios within the one run; stdlib only).

    python3 tools/bench/e2e_report.py [docs/results/e2e]
"""
import json
import os
import sys


def load(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "docs/results/e2e"
    fff = load(os.path.join(out, "fff.jsonl"))
    torch = [r for r in load(os.path.join(out, "torch.jsonl")) if r.get("part") == "encoder"]
    ms = {}
    for r in fff:
        name = "fff dense-3072" if r["model"].startswith("dense") else "fff UltraFastBERT-1x11"
        ms[(name, r["threads"], r["batch"])] = r["ms_per_call"]
    names = {"crammedbert-dense": "PyTorch dense-3072",
             "ultrafastbert-1x11-cond": "PyTorch 1x11 conditional",
             "ultrafastbert-1x11-dense": "PyTorch 1x11 masked-dense"}
    for r in torch:
        ms[(names[r["model"]], r["threads"], r["batch"])] = r["ms_per_call"]
    # The same peers with OMP_WAIT_POLICY=PASSIVE (their best at 2 threads).
    for r in load(os.path.join(out, "torch-passive.jsonl")):
        if r.get("part") == "encoder":
            ms[(names[r["model"]] + " (passive)", r["threads"], r["batch"])] = r["ms_per_call"]
    threads = sorted({k[1] for k in ms})
    batches = sorted({k[2] for k in ms})
    models = ["fff UltraFastBERT-1x11", "fff dense-3072", "PyTorch dense-3072",
              "PyTorch dense-3072 (passive)", "PyTorch 1x11 conditional",
              "PyTorch 1x11 conditional (passive)", "PyTorch 1x11 masked-dense"]
    print("tokens/s (sequence length 128; median ms per call in brackets)\n")
    print("| model | threads | " + " | ".join(f"batch {b}" for b in batches) + " |")
    print("|---|---:|" + "---:|" * len(batches))
    for t in threads:
        for m in models:
            cells = []
            for b in batches:
                v = ms.get((m, t, b))
                cells.append("-" if v is None else f"{b * 128 / (v / 1e3):,.0f} ({v:,.1f})")
            print(f"| {m} | {t} | " + " | ".join(cells) + " |")
    print("\nRatios (same run, same threads):\n")
    print("| ratio | threads | " + " | ".join(f"batch {b}" for b in batches) + " | target |")
    print("|---|---:|" + "---:|" * len(batches) + "---|")
    checks = [("fff 1x11 / fff dense", "fff dense-3072", "fff UltraFastBERT-1x11", ">= 2.5"),
              ("fff dense / PyTorch dense", "PyTorch dense-3072", "fff dense-3072", ">= 1.3"),
              ("fff dense / PyTorch dense (passive)", "PyTorch dense-3072 (passive)", "fff dense-3072", ">= 1.3"),
              ("fff 1x11 / PyTorch 1x11 conditional", "PyTorch 1x11 conditional", "fff UltraFastBERT-1x11", ""),
              ("fff 1x11 / PyTorch 1x11 masked-dense", "PyTorch 1x11 masked-dense", "fff UltraFastBERT-1x11", "")]
    for label, slow, fast, target in checks:
        for t in threads:
            cells = []
            for b in batches:
                a, c = ms.get((slow, t, b)), ms.get((fast, t, b))
                cells.append("-" if a is None or c is None else f"{a / c:.2f}x")
            print(f"| {label} | {t} | " + " | ".join(cells) + f" | {target} |")
    print("\nfff time per component (share of the encoder's time, --breakdown):\n")
    comps = ["embedding", "norms", "qkv", "attention_core", "attention_out", "ff", "residual"]
    print("| model | threads | batch | " + " | ".join(comps) + " | Amdahl limit |")
    print("|---|---:|---:|" + "---:|" * len(comps) + "---:|")
    for r in fff:
        s = r.get("breakdown_share")
        if not s:
            continue
        limit = ""
        if r["model"].startswith("dense"):
            limit = f"{1 / (1 - s['ff']):.2f}x"
        print(f"| {r['model']} | {r['threads']} | {r['batch']} | " +
              " | ".join(f"{100 * s[c]:.1f}%" for c in comps) + f" | {limit} |")


if __name__ == "__main__":
    main()
