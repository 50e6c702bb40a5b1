"""Writes tests/data/golden/: tiny crammedBERT / UltraFastBERT checkpoints in the
published layout and the expected outputs of the reference (crammed_bert.py).

    /usr/bin/python3 python/reference/make_goldens.py [--out tests/data/golden]

Deterministic (numpy PCG64 seeds per model). For each model it writes a folder
with config.json, model.safetensors (F32), tokenizer.json (byte copy of
tests/data/tiny/tokenizer.json) and golden.safetensors; README.md beside them
documents every tensor. Goldens are computed in float64 from the float32
weights (the sinusoid table built in float32, as the authors do) and stored
as F32. Fill-mask texts are tokenized with HuggingFace `tokenizers` through
node (NODE_PATH, default /tmp/npmtok/node_modules); without node the ids
recorded below are used (they are checked against node whenever it runs).

Self-checks printed at the end: conditional FFF vs masked-dense FFF (float64),
the float32 forward against the float64 one, and a padded batch with an
attention mask against the sequences run alone.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import crammed_bert as cb  # noqa: E402
from safetensors_io import save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
TINY_TOKENIZER = os.path.join(ROOT, "tests", "data", "tiny", "tokenizer.json")

SEQ_LENGTHS = (1, 7, 19, 40)
MLM_LOGITS_MAX_LEN = 7            # seq{k}.mlm_logits only for sequences this short
FILL_TEXTS = [
    "the man went to the <mask> .",
    "Paris is the <mask> of France.",
    "She said that <mask> would come back in the <mask>, didn't she?",
]
# HF tokenizers' ids for FILL_TEXTS with the tiny tokenizer (used when node is absent).
FILL_IDS_RECORDED = [
    [75, 237, 332, 79, 75, 2, 20, 0],
    [1079, 82, 75, 2, 76, 684, 20, 0],
    [95, 135, 87, 2, 131, 351, 146, 78, 75, 2, 18, 213, 13, 64, 95, 37, 0],
]
MIN_ROUTING_MARGIN = 1e-4          # redraw weights if a visited FFF logit is closer to 0
MIN_TOP_GAP = 1e-3                 # redraw if two of a mask's top-6 logits are closer

# name, FFN, sizes, task and which tied matrices model.safetensors stores.
# "weights_of" reuses another model's weights (the tie variants).
MODELS = [
    dict(name="fff-1x3", ffn="fff", hidden=32, layers=2, heads=2, trees=1, depth=3,
         task="mlm", store="both", seed=1001),
    dict(name="fff-1x3-decoder-only", weights_of="fff-1x3", store="decoder"),
    dict(name="fff-1x3-embedding-only", weights_of="fff-1x3", store="embedding"),
    dict(name="fff-2x2", ffn="fff", hidden=32, layers=3, heads=4, trees=2, depth=2,
         task="mlm", store="decoder", seed=2002),
    dict(name="dense-gelu", ffn="ff", hidden=32, layers=2, heads=2, intermed=96, nonlin="GELU",
         task="mlm", store="embedding", seed=3003),
    dict(name="dense-geluglu", ffn="ff", hidden=48, layers=2, heads=3, intermed=96, nonlin="GELUglu",
         task="mlm", store="decoder", seed=4004),
    dict(name="dense-noff-key", ffn="ff-no-key", hidden=32, layers=3, heads=4, intermed=64,
         nonlin="GELU", task="mlm", store="embedding", seed=5005),
    dict(name="cls-fff-zero", ffn="fff", hidden=32, layers=2, heads=2, trees=2, depth=3,
         task="cls", labels=2, pooler="zero_index", include_ff_layer=True, head_dim=48, seed=6006),
    dict(name="cls-dense-avg-reg", ffn="ff", hidden=32, layers=2, heads=2, intermed=64, nonlin="GELU",
         task="cls", labels=1, pooler="avg", include_ff_layer=False, head_dim=48, seed=7007),
]


# ----------------------------------------------------------------------------
# config and weights

def make_config(m, vocab_size):
    arch = {
        "architectures": ["ScriptableCrammedBERT"],
        "num_transformer_layers": m["layers"],
        "hidden_size": m["hidden"],
        "hidden_dropout_prob": 0.1,
        "norm": "LayerNorm",
        "norm_eps": 1e-12,
        "norm_scheme": "pre",
        "nonlin": m.get("nonlin", "GELU"),
        "tie_weights": True,
        "decoder_bias": False,
        "sparse_prediction": 0.25,
        "loss": "cross-entropy",
        "objective_layout": "MLM",
        "embedding": {"vocab_size": vocab_size, "pos_embedding": "scaled-sinusoidal",
                      "dropout_prob": 0.1, "pad_token_id": 0, "max_seq_length": 64,
                      "embedding_dim": m["hidden"], "normalization": True,
                      "stable_low_precision": False},
        "attention": {"type": "self-attention", "causal_attention": False,
                      "num_attention_heads": m["heads"], "dropout_prob": 0.1,
                      "skip_output_projection": False, "qkv_bias": False,
                      "rotary_embedding": False, "seq_op_in_fp32": False,
                      "sequence_op": "torch-softmax"},
        "init": {"type": "normal", "std": 0.02},
        "ffn_layer_frequency": 1,
        "skip_head_transform": True,
        "use_bias": False,
        "final_norm": True,
        "num_labels": m["labels"] if m["task"] == "cls" else None,
        "classification_head": {"pooler": m.get("pooler", "zero_index"),
                                "include_ff_layer": m.get("include_ff_layer", True),
                                "head_dim": m.get("head_dim", 48), "nonlin": "Tanh",
                                "classifier_dropout": 0.1},
    }
    if m["ffn"] == "fff":
        arch.update(intermed_type="fff", intermed_size=m["trees"], intermed_depth=m["depth"])
    else:
        arch["intermed_size"] = m["intermed"]
        if m["ffn"] == "ff":
            arch["intermed_type"] = "ff"
    top = "ScriptableLMForSequenceClassification" if m["task"] == "cls" else "ScriptableLMForPreTraining"
    return {"arch": arch, "architectures": [top], "model_type": "crammedBERT",
            "torch_dtype": "float32", "transformers_version": "4.35.2"}


def draw_weights(m, config, seed):
    """float32 numpy weights, O(1) activations: linears N(0, 1/sqrt(fan_in)),
    LayerNorm weights 1 + N(0, 0.1), biases N(0, 0.1)."""
    rng = np.random.default_rng(seed)
    a = cb.Arch(config)
    h = a.hidden
    shapes = cb.encoder_shapes(config)
    if m["task"] == "mlm":
        shapes["decoder.weight"] = (a.vocab, h)
    else:
        head_in = h
        if m["include_ff_layer"]:
            head_in = m["head_dim"]
            shapes["pooler.dense.weight"] = (head_in, h)
            shapes["pooler.dense.bias"] = (head_in,)
        shapes["head.weight"] = (m["labels"], head_in)
        shapes["head.bias"] = (m["labels"],)
    w = {}
    for name in sorted(shapes):
        shape = shapes[name]
        if name == "decoder.weight":
            continue                                     # tied: set below
        if name == "encoder.embedding.word_embedding.weight":
            x = rng.normal(0.0, 0.4, shape)
        elif name.endswith("scale_factor"):
            x = np.array([rng.uniform(1.0, 2.0) / math.sqrt(h)])
        elif name.endswith("norm_factor"):
            x = np.array(1.0 / math.sqrt(h // a.heads))
        elif "norm" in name and name.endswith(".weight"):
            x = 1.0 + rng.normal(0.0, 0.1, shape)
        elif name.endswith(".bias"):
            x = rng.normal(0.0, 0.1, shape)
        elif name.endswith("linear_out.weight"):
            x = rng.normal(0.0, 1.0 / math.sqrt(a.intermed_size * (a.depth + 1)), shape)
        else:                                            # Linear [out, in]
            x = rng.normal(0.0, 1.0 / math.sqrt(shape[1]), shape)
        w[name] = x.astype(np.float32)
    if m["task"] == "mlm":
        w["decoder.weight"] = w["encoder.embedding.word_embedding.weight"]
    return w


def stored_tensors(w, store):
    """What model.safetensors holds: both tied matrices, or only one of them."""
    out = dict(w)
    if store == "decoder":
        del out["encoder.embedding.word_embedding.weight"]
    elif store == "embedding":
        out.pop("decoder.weight", None)
    return out


# ----------------------------------------------------------------------------
# inputs

def special_ids(tokenizer_path):
    with open(tokenizer_path) as f:
        tok = json.load(f)
    return {t["content"]: t["id"] for t in tok["added_tokens"]}, len(tok["model"]["vocab"])


def tokenize_with_node(texts, tokenizer_path, node_path):
    js = ("const {Tokenizer}=require('tokenizers');(async()=>{"
          "const t=Tokenizer.fromFile(process.argv[1]);"
          "const texts=JSON.parse(require('fs').readFileSync(0,'utf8'));const out=[];"
          "for(const s of texts){const e=await t.encode(s);out.push(e.getIds());}"
          "process.stdout.write(JSON.stringify(out));})();")
    env = dict(os.environ, NODE_PATH=node_path)
    try:
        r = subprocess.run(["node", "-e", js, tokenizer_path], input=json.dumps(texts),
                           capture_output=True, text=True, env=env, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if r.returncode != 0:
        return None, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"rc {r.returncode}"
    return json.loads(r.stdout), None


def golden_sequences(vocab_size, specials):
    """Token-id sequences of SEQ_LENGTHS drawn uniformly from the whole vocab,
    with <mask> and <sep> ids placed in some of them."""
    rng = np.random.default_rng(12345)
    seqs = [rng.integers(0, vocab_size, n).tolist() for n in SEQ_LENGTHS]
    mask, sep = specials["<mask>"], specials["<sep>"]
    seqs[1][2] = mask
    seqs[1][-1] = sep
    seqs[2][5] = mask
    seqs[2][11] = mask
    seqs[2][-1] = sep
    seqs[3][0] = mask
    seqs[3][20] = sep
    seqs[3][-1] = sep
    return seqs


# ----------------------------------------------------------------------------
# goldens

def run_alone(model, ids):
    return model.encode(torch.tensor([ids], dtype=torch.long))


def margins(model, seqs, fill_ids):
    """(min |visited FFF logit| over all inputs, min gap between consecutive
    top-6 MLM logits at the fill texts' masks)."""
    margin, gap = math.inf, math.inf
    for ids in seqs + fill_ids:
        out = run_alone(model, ids)
        for z in out["logits"]:
            margin = min(margin, z.abs().min().item())
    if model.has_decoder:
        for ids in fill_ids:
            out = run_alone(model, ids)
            pos = [p for p, t in enumerate(ids) if t == MASK_ID]
            top = model.mlm_logits(out["final"][0, pos]).topk(6, dim=-1).values
            gap = min(gap, (top[:, :-1] - top[:, 1:]).min().item())
    return margin, gap


def golden_tensors(model, seqs, fill_ids):
    g = {}
    f32 = lambda t: t.detach().to(torch.float32).numpy()          # noqa: E731
    for k, ids in enumerate(seqs):
        out = run_alone(model, ids)
        p = f"seq{k}."
        g[p + "input_ids"] = np.array(ids, np.int32)
        g[p + "embedding"] = f32(out["embedding"][0])
        for i, h in enumerate(out["layers"]):
            g[p + f"layer{i}"] = f32(h[0])
        for i, (route, z) in enumerate(zip(out["routing"], out["logits"])):
            g[p + f"layer{i}.routing"] = route[0].numpy().astype(np.int32)
            g[p + f"layer{i}.min_abs_logit"] = np.array(z.abs().min().item(), np.float32)
        final = out["final"][0]
        g[p + "final"] = f32(final)
        g[p + "embed_mean"] = f32(final.mean(0))
        g[p + "embed_first"] = f32(final[0])
        if model.has_decoder and len(ids) <= MLM_LOGITS_MAX_LEN:
            g[p + "mlm_logits"] = f32(model.mlm_logits(final))
        if model.has_classifier:
            g[p + "logits"] = f32(model.classify(out["final"])[0])
    if model.has_decoder:
        for j, ids in enumerate(fill_ids):
            out = run_alone(model, ids)
            pos = [p for p, t in enumerate(ids) if t == MASK_ID]
            probs = torch.softmax(model.mlm_logits(out["final"][0, pos]), dim=-1)
            top = probs.topk(5, dim=-1)
            g[f"fill{j}.input_ids"] = np.array(ids, np.int32)
            g[f"fill{j}.mask_positions"] = np.array(pos, np.int32)
            g[f"fill{j}.top5_ids"] = top.indices.numpy().astype(np.int32)
            g[f"fill{j}.top5_probs"] = f32(top.values)
    return g


def check_float32(config, state, model64, seqs):
    """Max relative error (|f32 - f64|max / |f64|max) of the final hidden state
    and of the head outputs, and whether all FFF routings agree."""
    m32 = cb.CrammedBERT(config, state, dtype=torch.float32, fff_mode="check")
    rel_final, rel_head, same_routing = 0.0, 0.0, True
    for ids in seqs:
        o64, o32 = run_alone(model64, ids), run_alone(m32, ids)
        rel = lambda a, b: ((a.double() - b).abs().max() / b.abs().max()).item()   # noqa: E731
        rel_final = max(rel_final, rel(o32["final"], o64["final"]))
        if model64.has_decoder:
            rel_head = max(rel_head, rel(m32.mlm_logits(o32["final"]), model64.mlm_logits(o64["final"])))
        if model64.has_classifier:
            rel_head = max(rel_head, rel(m32.classify(o32["final"]), model64.classify(o64["final"])))
        same_routing &= all(torch.equal(a, b) for a, b in zip(o32["routing"], o64["routing"]))
    return rel_final, rel_head, same_routing, m32.fff_check_max_err


def check_padded_batch(model, seqs, pad_id):
    """Runs the sequences as one padded batch with an attention mask; returns
    the max |difference| against running them alone over non-padded positions
    (every layer, final, MLM logits; classification logits where the pooler
    does not read padding)."""
    s_max = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), s_max), pad_id, dtype=torch.long)
    mask = torch.zeros(len(seqs), s_max)
    for b, s in enumerate(seqs):
        ids[b, :len(s)] = torch.tensor(s)
        mask[b, :len(s)] = 1
    batch = model.encode(ids, attention_mask=mask)
    err = 0.0
    for b, s in enumerate(seqs):
        n = len(s)
        alone = run_alone(model, s)
        pairs = [(batch["embedding"], alone["embedding"]), (batch["final"], alone["final"])]
        pairs += list(zip(batch["layers"], alone["layers"]))
        for x, y in pairs:
            err = max(err, (x[b, :n] - y[0]).abs().max().item())
        for x, y in zip(batch["routing"], alone["routing"]):
            assert torch.equal(x[b, :n], y[0]), "padded batch changed a routing"
        if model.has_decoder:
            err = max(err, (model.mlm_logits(batch["final"][b, :n]) - model.mlm_logits(alone["final"][0]))
                      .abs().max().item())
        if model.has_classifier and model.arch.pooler == "zero_index":
            err = max(err, (model.classify(batch["final"][b:b + 1]) - model.classify(alone["final"]))
                      .abs().max().item())
    return err


# ----------------------------------------------------------------------------
# README

def describe_model(m):
    spec = dict(next(x for x in MODELS if x["name"] == m["weights_of"]), **m) if "weights_of" in m else m
    if spec["ffn"] == "fff":
        ffn = f"FFF {spec['trees']}x{spec['depth']} (`intermed_type: fff`)"
    else:
        key = "`intermed_type: ff`" if spec["ffn"] == "ff" else "no `intermed_type` key"
        ffn = f"dense {spec['intermed']} {spec['nonlin']} ({key})"
    if spec["task"] == "mlm":
        task = "MLM"
        store = {"both": "word_embedding + decoder (equal)", "decoder": "decoder.weight only",
                 "embedding": "word_embedding only"}[spec["store"]]
    else:
        ff = f"pooler.dense [{spec['head_dim']}, H]" if spec["include_ff_layer"] else "no pooler.dense"
        task = f"classification: `{spec['pooler']}`, {ff}, {spec['labels']} label(s)"
        store = "word_embedding (no decoder)"
    return (f"| `{m['name']}` | {ffn} | {spec['hidden']} | {spec['layers']} | {spec['heads']} | "
            f"{task} | {store} |")


def write_readme(out, report, seqs, fill_ids, specials, vocab_size):
    lines = [describe_model(m) for m in MODELS]
    seq_lines = [f"- seq{k} (S = {len(s)}): `{s}`" for k, s in enumerate(seqs)]
    fill_lines = [f"- fill{j}: `{t}` -> `{ids}`" for j, (t, ids) in enumerate(zip(FILL_TEXTS, fill_ids))]
    checks = [f"| `{x['model']}` | {_fmt(x['fff_dense_vs_conditional_f64'])} | {_fmt(x['min_routing_margin'])} | "
              f"{_fmt(x['min_top6_logit_gap'])} | {_fmt(x['f32_vs_f64_rel_err_final'])} | "
              f"{_fmt(x['f32_vs_f64_rel_err_head'])} | {_fmt(x['f32_routing_same'])} | "
              f"{_fmt(x['padded_batch_max_abs_err_f64'])} |" for x in report]
    text = README_TEMPLATE.format(
        models="\n".join(lines), seqs="\n".join(seq_lines), fills="\n".join(fill_lines),
        checks="\n".join(checks), vocab=vocab_size, mask=specials["<mask>"], sep=specials["<sep>"],
        pad=specials["<pad>"], lengths=", ".join(map(str, SEQ_LENGTHS)), mlm_max=MLM_LOGITS_MAX_LEN,
        margin=MIN_ROUTING_MARGIN, gap=MIN_TOP_GAP,
        seeds=", ".join(f"{x['model']} {x['seed']}" for x in report if "weights_of" not in
                        next(m for m in MODELS if m["name"] == x["model"])))
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(text)


def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    return "0" if v == 0 else f"{v:.2e}"


# ----------------------------------------------------------------------------

def main():
    global MASK_ID
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "golden"))
    ap.add_argument("--node-path", default=os.environ.get("NODE_PATH", "/tmp/npmtok/node_modules"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    specials, vocab_size = special_ids(TINY_TOKENIZER)
    MASK_ID = specials["<mask>"]
    fill_ids, why = tokenize_with_node(FILL_TEXTS, TINY_TOKENIZER, args.node_path)
    if fill_ids is None:
        print(f"note: node tokenizers unavailable ({why}); using the recorded fill-mask ids")
        fill_ids = FILL_IDS_RECORDED
    elif fill_ids != FILL_IDS_RECORDED:
        raise SystemExit(f"HF tokenizers gave {fill_ids}, expected the recorded {FILL_IDS_RECORDED}:"
                         " update FILL_IDS_RECORDED (and the README) if the tokenizer changed")
    else:
        print("fill-mask ids from HF tokenizers (node) match the recorded ids")
    seqs = golden_sequences(vocab_size, specials)

    os.makedirs(args.out, exist_ok=True)
    weights_by_name, report = {}, []
    for m in MODELS:
        base = next(x for x in MODELS if x["name"] == m["weights_of"]) if "weights_of" in m else m
        spec = dict(base, name=m["name"], store=m.get("store", base.get("store")))
        config = make_config(spec, vocab_size)
        if "weights_of" in m:
            w, seed, attempts = weights_by_name[m["weights_of"]]
        else:
            for attempts in range(1, 101):
                seed = spec["seed"] + 1000 * (attempts - 1)
                w = draw_weights(spec, config, seed)
                state = {k: torch.from_numpy(v) for k, v in w.items()}
                model = cb.CrammedBERT(config, state, dtype=torch.float64, fff_mode="check")
                margin, gap = margins(model, seqs, fill_ids if spec["task"] == "mlm" else [])
                if margin >= MIN_ROUTING_MARGIN and gap >= MIN_TOP_GAP:
                    break
                print(f"  {m['name']}: seed {seed} redrawn (routing margin {margin:.2e}, top-6 gap {gap:.2e})")
            else:
                raise SystemExit(f"{m['name']}: no seed with enough margin")
            weights_by_name[m["name"]] = (w, seed, attempts)

        folder = os.path.join(args.out, m["name"])
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, sort_keys=True, indent=2)
            f.write("\n")
        save_file(stored_tensors(w, spec["store"]) if spec["task"] == "mlm" else w,
                  os.path.join(folder, "model.safetensors"), {"format": "pt"})
        shutil.copyfile(TINY_TOKENIZER, os.path.join(folder, "tokenizer.json"))

        # Reload through the loader (tying, validation) and compute the goldens.
        config, state = cb.load_checkpoint(folder)
        model = cb.CrammedBERT(config, state, dtype=torch.float64, fff_mode="check")
        fills = fill_ids if model.has_decoder else []
        g = golden_tensors(model, seqs, fills)
        meta = {"format": "pt", "model": m["name"], "seed": str(seed)}
        meta.update({f"fill{j}.text": t for j, t in enumerate(FILL_TEXTS) if fills})
        save_file(g, os.path.join(folder, "golden.safetensors"), meta)

        margin, gap = margins(model, seqs, fills)
        rel_final, rel_head, same_routing, err32 = check_float32(config, state, model, seqs)
        pad_err = check_padded_batch(model, seqs, specials["<pad>"])
        assert pad_err <= 1e-6, f"{m['name']}: padded batch differs by {pad_err}"
        report.append(dict(model=m["name"], seed=seed, draws=attempts,
                           fff_dense_vs_conditional_f64=model.fff_check_max_err if model.arch.is_fff else None,
                           min_routing_margin=margin if model.arch.is_fff else None,
                           min_top6_logit_gap=gap if fills else None,
                           f32_vs_f64_rel_err_final=rel_final, f32_vs_f64_rel_err_head=rel_head,
                           f32_routing_same=same_routing if model.arch.is_fff else None,
                           f32_fff_dense_vs_conditional=err32 if model.arch.is_fff else None,
                           padded_batch_max_abs_err_f64=pad_err))

    write_readme(args.out, report, seqs, fill_ids, specials, vocab_size)
    print("\nself-checks (float64 reference unless noted):")
    for r in report:
        print(json.dumps(r))
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(args.out) for f in fs)
    print(f"\n{args.out}: {total} bytes in total")


README_TEMPLATE = """\
# Golden data for the C++ engine (crammedBERT / UltraFastBERT)

Generated by `python/reference/make_goldens.py` from the independent PyTorch
reference `python/reference/crammed_bert.py` (written from
`shared/design/ultrafastbert-spec.md`, sections 1-4). Do not edit by hand;
regenerate (deterministic, byte-identical on re-runs) with

    /usr/bin/python3 python/reference/make_goldens.py

It needs Debian's `python3-torch` (1.13, CPU) and `python3-numpy`, used through
`/usr/bin/python3`. The fill-mask texts are tokenized with HuggingFace
`tokenizers` (npm package, `NODE_PATH`, default `/tmp/npmtok/node_modules`);
without node the script uses the ids recorded in it, which it otherwise checks
against HF. This README is written by the same script.

## Files

Every model folder `<model>/` holds:

| file | content |
| --- | --- |
| `config.json` | `{{"arch": {{...}}, "architectures": [...], "model_type": "crammedBERT", "torch_dtype": "float32", "transformers_version": "4.35.2"}}`, `json.dump(sort_keys=True, indent=2)` plus a newline, like the published checkpoint. `arch` is the resolved arch yaml: `hidden_size`, `num_transformer_layers`, `norm_eps` 1e-12, `nonlin`, `attention.num_attention_heads`, `embedding.vocab_size` {vocab}, `embedding.max_seq_length` 64, `classification_head.{{pooler, include_ff_layer, head_dim, nonlin: Tanh}}`, `num_labels` (null for MLM). FFF: `intermed_type: "fff"`, `intermed_size` = trees, `intermed_depth` = depth. Dense: `intermed_type: "ff"` (or the key absent), `intermed_size` = width, no `intermed_depth`. Top-level `architectures` is `["ScriptableLMForPreTraining"]` for MLM models and `["ScriptableLMForSequenceClassification"]` for the two classification models. |
| `model.safetensors` | F32 weights with the published names and shapes (spec section 3), header `__metadata__ {{"format": "pt"}}`, keys sorted, data 8-byte aligned. |
| `tokenizer.json` | byte copy of `tests/data/tiny/tokenizer.json` (WordPiece, vocab {vocab}; special ids `<sep>` {sep}, `<mask>` {mask}, `<pad>` {pad}, read them from the file). |
| `golden.safetensors` | expected outputs (below); `__metadata__`: `format` "pt", `model` (folder name), `seed`, and for MLM models `fill{{j}}.text` (the fill-mask texts). |

## Models

H = hidden size; head dim = H / heads. "stores" = which of the tied
matrices `encoder.embedding.word_embedding.weight` / `decoder.weight` the
file holds: a loader ties whichever is missing. The three `fff-1x3*` folders
hold the same weights (so the same goldens) in the three storage ways.

| model | FFN | H | layers | heads | task / head | stores |
| --- | --- | --- | --- | --- | --- | --- |
{models}

Tensor names and shapes in `model.safetensors` (V = {vocab}):
```
encoder.embedding.word_embedding.weight            [V, H]     (absent in *-decoder-only, dense-geluglu, fff-2x2)
encoder.embedding.pos_embedding.scale_factor       [1]
encoder.embedding.norm.{{weight,bias}}               [H]
encoder.layers.{{i}}.norm1.{{weight,bias}}             [H]
encoder.layers.{{i}}.attn.self_attention.query_key_value.weight   [3H, H]   (Megatron layout: head h = rows h*3hd..)
encoder.layers.{{i}}.attn.self_attention.norm_factor []  (0-d, = 1/sqrt(head dim) in float32)
encoder.layers.{{i}}.attn.dense.weight               [H, H]
encoder.layers.{{i}}.norm2.{{weight,bias}}             [H]
FFF:   encoder.layers.{{i}}.ffn.linear_in.weight [T*N, H], linear_in.bias [T*N], linear_out.weight [H, T*N]
       (T trees, N = 2^(depth+1)-1 nodes per tree)
dense: encoder.layers.{{i}}.ffn.dense_in.weight [I, H], dense_out.weight [H, I] (GELU) or [H, I/2] (GELUglu)
encoder.final_norm.{{weight,bias}}                   [H]
MLM:   decoder.weight                              [V, H]     (absent in *-embedding-only, dense-gelu, dense-noff-key)
cls:   pooler.dense.weight [head_dim, H], pooler.dense.bias [head_dim]   (only if include_ff_layer)
       head.weight [n_labels, head_dim or H], head.bias [n_labels]
```
Classification notes: `cls-dense-avg-reg` has `include_ff_layer: false` but
its config still says `head_dim: 48`: the head reads the pooled hidden state
directly (`head.weight [1, H]`); take sizes from the tensors. Tanh is applied
after pooling whether or not `pooler.dense` exists (pool -> [dense + bias] ->
Tanh -> head + bias). `avg` is the mean over all S positions of `final`.
One label = regression (the raw output).

Weights: seeded random, not tiny, so activations are O(1): Linear weights
N(0, 1/sqrt(fan_in)) (FFF `linear_out` N(0, 1/sqrt(T*(depth+1)))), LayerNorm
weights 1 + N(0, 0.1), biases N(0, 0.1), word embedding N(0, 0.4),
scale_factor U(1, 2)/sqrt(H). Seeds: {seeds}. A draw is rejected (seed + 1000)
if any visited FFF logit on the golden inputs (sequences and fill texts) has
|z| < {margin}, or two of a mask's top-6 MLM logits are closer than {gap}.

## Inputs

The same token-id sequences (lengths {lengths}) for every model, drawn
uniformly from the whole vocabulary (seed 12345) with `<mask>` ({mask}) and
`<sep>` ({sep}) ids put in some. Each is run ALONE: batch 1, no padding, no
attention mask (positions 0..S-1).
{seqs}

Fill-mask texts (MLM models only), tokenized by HF `tokenizers` with the tiny
tokenizer (`$A <sep>`; a literal `<mask>` is the mask id):
{fills}

## golden.safetensors

Computed in float64 from the float32 weights (the sinusoid table built in
float32, then widened), stored as F32; ids and routings as I32. k = 0..3
indexes the sequences above, i = 0..layers-1, S = sequence length.

| tensor | dtype | shape | models | content |
| --- | --- | --- | --- | --- |
| `seq{{k}}.input_ids` | I32 | [S] | all | the token ids |
| `seq{{k}}.embedding` | F32 | [S, H] | all | after the embedding LayerNorm (word + scale_factor * sinusoid) |
| `seq{{k}}.layer{{i}}` | F32 | [S, H] | all | residual stream after layer i (after its FFN residual add) |
| `seq{{k}}.layer{{i}}.routing` | I32 | [S, T, depth+1] | FFF | node index within its tree visited at each level (level 0 = root 0; children 2n+1 / 2n+2; right iff z > 0) |
| `seq{{k}}.layer{{i}}.min_abs_logit` | F32 | [] (0-d) | FFF | min over the sequence's tokens, trees and levels of the visited nodes' \\|z\\| (the routing margin) |
| `seq{{k}}.final` | F32 | [S, H] | all | after `final_norm` |
| `seq{{k}}.embed_mean` | F32 | [H] | all | mean over positions of `final` |
| `seq{{k}}.embed_first` | F32 | [H] | all | `final` at position 0 |
| `seq{{k}}.mlm_logits` | F32 | [S, V] | MLM, only sequences with S <= {mlm_max} (seq0, seq1) | `final @ decoder.T` |
| `seq{{k}}.logits` | F32 | [n_labels] | classification | classifier output |
| `fill{{j}}.input_ids` | I32 | [S] | MLM | ids of fill text j (j = 0..2) |
| `fill{{j}}.mask_positions` | I32 | [M] | MLM | positions of the `<mask>` ids |
| `fill{{j}}.top5_ids` | I32 | [M, 5] | MLM | top-5 token ids per mask, most probable first |
| `fill{{j}}.top5_probs` | F32 | [M, 5] | MLM | their softmax probabilities (softmax over the whole vocab) |

## Self-checks of the last generation

Columns: max \\|masked-dense FFF - conditional FFF\\| (float64; the script
asserts <= 1e-12 relative); min routing margin (visited \\|z\\|) over all
inputs; min gap between consecutive top-6 MLM logits at the masks; the
float32 forward's max relative error (max\\|f32 - f64\\| / max\\|f64\\|) for
`final` and for the head (MLM logits / classifier logits); whether the
float32 forward routes every token identically; max \\|difference\\| between
the 4 sequences run as one padded batch (pad id {pad}, attention mask) and
run alone, over the non-padded positions of every layer, `final`, MLM logits
and the `zero_index` classifier (asserted <= 1e-6).

| model | FFF dense vs cond. | routing margin | top-6 gap | f32 rel err final | f32 rel err head | f32 routing same | padded batch |
| --- | --- | --- | --- | --- | --- | --- | --- |
{checks}

A float32 engine should match these goldens to about 1e-5 relative (the
reference's own float32 forward is within the figures above) and reproduce
every routing exactly.
"""


MASK_ID = None

if __name__ == "__main__":
    main()
