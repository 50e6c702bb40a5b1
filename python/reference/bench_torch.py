"""PyTorch 1.13 eager CPU timing of crammedBERT and UltraFastBERT end to end.

The baseline the C++ engine is measured against: the reference model of
crammed_bert.py at the published size with random N(0, 0.02) weights,
sequence length 128, under torch.inference_mode, float32.

  crammedbert-dense            16 layers, hidden 768, 12 heads, dense FF 3072 GELU
  ultrafastbert-1x11-dense     same encoder, FFF 1 tree depth 11 as the authors
                               run it (masked dense: all 4095 nodes computed)
  ultrafastbert-1x11-cond      same FFF computed conditionally (row gathers of
                               the 12 visited nodes per token)

Debian's torch takes its BLAS from the libblas.so.3 alternative: install
libopenblas0-pthread (the reference BLAS is ~20x slower); the script sets
OpenBLAS's thread count along with torch's and reports the library it found.

Each configuration (batch x threads) is timed for the encoder alone (up to
final_norm) and with the MLM head (logits for every position, [B*S, 32768]):
warm-up calls, then the median of --reps calls. Prints one JSON line per
measurement {model, part, batch, seq, threads, tokens_per_s, ms_per_call,
reps, ...} and a table. --breakdown times the components instead (embedding,
qkv projection, attention core, attention out projection, FF/FFF, norms,
head) by timing each sub-step of the forward.

    /usr/bin/python3 python/reference/bench_torch.py                 # full run
    /usr/bin/python3 python/reference/bench_torch.py --breakdown
    /usr/bin/python3 python/reference/bench_torch.py --layers 2 --batches 1 --reps 2   # smoke test
"""
import argparse
import ctypes
import json
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crammed_bert as cb  # noqa: E402

MODELS = {
    "crammedbert-dense": dict(ffn="ff", fff_mode="dense"),
    "ultrafastbert-1x11-dense": dict(ffn="fff", fff_mode="dense"),
    "ultrafastbert-1x11-cond": dict(ffn="fff", fff_mode="conditional"),
}
COMPONENTS = ["embedding", "qkv_projection", "attention_core", "attention_out_projection",
              "ffn", "norms", "head"]


def make_config(args, ffn):
    arch = {"hidden_size": args.hidden, "num_transformer_layers": args.layers, "norm_eps": 1e-12,
            "nonlin": "GELU", "attention": {"num_attention_heads": args.heads},
            "embedding": {"vocab_size": args.vocab, "max_seq_length": max(128, args.seq)},
            "classification_head": {"pooler": "zero_index", "include_ff_layer": True}}
    if ffn == "fff":
        arch.update(intermed_type="fff", intermed_size=1, intermed_depth=args.depth)
    else:
        arch.update(intermed_type="ff", intermed_size=args.intermed)
    return {"arch": arch}


def random_state(config, seed):
    """N(0, 0.02) matrices, LayerNorm 1/0, zero biases (crammedBERT's init)."""
    g = torch.Generator().manual_seed(seed)
    a = cb.Arch(config)
    state = {}
    for name, shape in cb.encoder_shapes(config).items():
        if name.endswith("scale_factor"):
            state[name] = torch.full(shape, 1.0 / math.sqrt(a.hidden))
        elif name.endswith("norm_factor"):
            state[name] = torch.tensor(1.0 / math.sqrt(a.hidden // a.heads))
        elif "norm" in name and name.endswith(".weight"):
            state[name] = torch.ones(shape)
        elif name.endswith(".bias"):
            state[name] = torch.zeros(shape)
        else:
            state[name] = torch.randn(shape, generator=g) * 0.02
    state["decoder.weight"] = state["encoder.embedding.word_embedding.weight"]   # tied
    return state


def blas_library():
    """Path of the BLAS that this torch (Debian's, BLAS_INFO=generic) loaded."""
    torch.ones(4, 4) @ torch.ones(4, 4)
    with open("/proc/self/maps") as f:
        libs = sorted({line.split()[-1] for line in f if "blas" in line.rsplit("/", 1)[-1]})
    return next((p for p in libs if "openblas" in p.rsplit("/", 1)[-1]), libs[0] if libs else "unknown")


def set_threads(n, blas):
    """torch's intra-op threads; also OpenBLAS's own pool, which the pthread
    build of OpenBLAS keeps apart from torch.set_num_threads."""
    torch.set_num_threads(n)
    if "openblas" in blas:
        ctypes.CDLL(blas).openblas_set_num_threads(n)


def time_calls(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS), help="comma list of " + ", ".join(MODELS))
    ap.add_argument("--batches", default="1,8,64")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--intermed", type=int, default=3072)
    ap.add_argument("--depth", type=int, default=11)
    ap.add_argument("--vocab", type=int, default=32768)
    ap.add_argument("--parts", default="encoder,encoder+mlm",
                    help="comma list of encoder, encoder+mlm (ignored with --breakdown)")
    ap.add_argument("--breakdown", action="store_true", help="time components instead of end to end")
    args = ap.parse_args()
    models = args.models.split(",")
    for m in models:
        if m not in MODELS:
            raise SystemExit(f"unknown model {m!r}; choose from {', '.join(MODELS)}")
    batches = [int(b) for b in args.batches.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    blas = blas_library()
    print(f"# torch {torch.__version__}, BLAS {blas}, {os.cpu_count()} CPUs, float32, eager, "
          f"inference_mode; layers {args.layers}, hidden {args.hidden}, heads {args.heads}, seq {args.seq}",
          file=sys.stderr)
    if "openblas" not in blas:
        print("# WARNING: torch is not on OpenBLAS (Debian's reference BLAS is ~20x slower): "
              "apt-get install libopenblas0-pthread", file=sys.stderr)

    states = {}
    rows = []
    for name in models:
        spec = MODELS[name]
        config = make_config(args, spec["ffn"])
        if spec["ffn"] not in states:
            states[spec["ffn"]] = random_state(config, seed=0)
        timer = cb.SectionTimer() if args.breakdown else None
        model = cb.CrammedBERT(config, states[spec["ffn"]], dtype=torch.float32,
                               fff_mode=spec["fff_mode"], timer=timer)
        gen = torch.Generator().manual_seed(1)
        for t in threads:
            set_threads(t, blas)
            for b in batches:
                ids = torch.randint(0, args.vocab, (b, args.seq), generator=gen)
                parts = [(p, p == "encoder+mlm") for p in args.parts.split(",")]
                if args.breakdown:
                    parts = [("encoder+mlm", True)]
                for part, head in parts:
                    def call():
                        out = model.encode(ids)["final"]
                        if head:
                            model.mlm_logits(out.reshape(-1, out.shape[-1]))
                    with torch.inference_mode():
                        if args.breakdown:
                            time_calls(call, args.warmup, 0)
                            timer.seconds.clear()
                        times = time_calls(call, 0 if args.breakdown else args.warmup, args.reps)
                    ms = statistics.median(times) * 1e3
                    row = dict(model=name, part=part, batch=b, seq=args.seq, threads=t,
                               tokens_per_s=round(b * args.seq / (ms / 1e3), 1), ms_per_call=round(ms, 3),
                               reps=args.reps, layers=args.layers, hidden=args.hidden,
                               torch=torch.__version__, blas=os.path.basename(blas))
                    if args.breakdown:
                        total = sum(times)
                        comp = {c: timer.seconds.get(c, 0.0) for c in COMPONENTS}
                        comp["other"] = total - sum(comp.values())
                        row["ms_per_call"] = round(total / args.reps * 1e3, 3)
                        row["tokens_per_s"] = round(b * args.seq * args.reps / total, 1)
                        row["breakdown_ms"] = {c: round(v / args.reps * 1e3, 3) for c, v in comp.items()}
                        row["breakdown_pct"] = {c: round(100 * v / total, 1) for c, v in comp.items()}
                    print(json.dumps(row), flush=True)
                    rows.append(row)

    print_table(rows, args.breakdown)


def print_table(rows, breakdown):
    if breakdown:
        cols = COMPONENTS + ["other"]
        print("\n" + f"{'model':26} {'batch':>5} {'thr':>3} {'ms/call':>10}  " +
              " ".join(f"{c[:12]:>12}" for c in cols))
        for r in rows:
            print(f"{r['model']:26} {r['batch']:>5} {r['threads']:>3} {r['ms_per_call']:>10.2f}  " +
                  " ".join(f"{r['breakdown_pct'][c]:>11.1f}%" for c in cols))
        return
    print("\n" + f"{'model':26} {'part':12} {'batch':>5} {'seq':>4} {'thr':>3} {'ms/call':>10} {'tokens/s':>10}")
    for r in rows:
        print(f"{r['model']:26} {r['part']:12} {r['batch']:>5} {r['seq']:>4} {r['threads']:>3} "
              f"{r['ms_per_call']:>10.2f} {r['tokens_per_s']:>10.0f}")


if __name__ == "__main__":
    main()
