"""Writes tiny plain-HuggingFace-BERT checkpoints and the expected outputs of
the reference (hf_bert.py) under tests/data/golden/:

    hf-bert-mlm/         BertForMaskedLM, F32
    hf-bert-cls/         BertForSequenceClassification (3 labels), F32
    hf-bert-mlm-legacy/  hf-bert-mlm's weights rounded to F16, LayerNorm
                         parameters named .gamma/.beta (old TF conversions)

    /usr/bin/python3 python/reference/make_hf_bert_goldens.py [--out tests/data/golden]

Deterministic (numpy PCG64 seeds) and byte-identical on re-runs. Each folder
gets config.json (HF form), model.safetensors and golden.safetensors; the
script also writes tests/data/golden/HF_BERT.md (it leaves README.md, which
make_goldens.py owns, alone). Goldens are computed in float64 from the stored
weights (reloaded through hf_bert.load_checkpoint; for the legacy folder the
F16 values, widened exactly) and stored as F32, ids as I32.

Self-checks printed at the end (and recorded in HF_BERT.md): the float32
forward against the float64 one; each encoder layer against torch's own
post-LN nn.TransformerEncoderLayer carrying the same weights (float64); a
padded batch with an attention mask against the sequences run alone; how far
the F16 rounding moves the legacy goldens from hf-bert-mlm's.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_bert  # noqa: E402  (also registers F16 with safetensors_io)
from safetensors_io import save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))

SIZES = dict(hidden=32, layers=2, heads=2, intermediate=64, vocab=1536, max_pos=64)
SEQ_LENGTHS = (1, 6, 17)
SEQ_SEED = 24680
LABELS = ["negative", "neutral", "positive"]
PAD_ID = 0

MODELS = [
    dict(name="hf-bert-mlm", task="mlm", seed=8008, dtype="F32", legacy=False),
    dict(name="hf-bert-cls", task="cls", seed=9009, dtype="F32", legacy=False),
    dict(name="hf-bert-mlm-legacy", task="mlm", weights_of="hf-bert-mlm", dtype="F16", legacy=True),
]


# ----------------------------------------------------------------------------
# config and weights

def make_config(task):
    c = {
        "architectures": ["BertForMaskedLM" if task == "mlm" else "BertForSequenceClassification"],
        "model_type": "bert",
        "hidden_size": SIZES["hidden"],
        "num_hidden_layers": SIZES["layers"],
        "num_attention_heads": SIZES["heads"],
        "intermediate_size": SIZES["intermediate"],
        "hidden_act": "gelu",
        "max_position_embeddings": SIZES["max_pos"],
        "type_vocab_size": 2,
        "vocab_size": SIZES["vocab"],
        "layer_norm_eps": 1e-12,
        "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": PAD_ID,
    }
    if task == "cls":
        c["id2label"] = {str(i): label for i, label in enumerate(LABELS)}
        c["label2id"] = {label: i for i, label in enumerate(LABELS)}
    return c


def draw_weights(config, task, seed):
    """float32 numpy weights, O(1) activations: Linear weights N(0, 1/sqrt(fan_in)),
    LayerNorm weights 1 + N(0, 0.1), biases N(0, 0.1), word embeddings N(0, 0.4),
    position and token-type embeddings N(0, 0.2)."""
    rng = np.random.default_rng(seed)
    w = {}
    for name, shape in sorted(hf_bert.expected_shapes(config, task).items()):
        if name == "bert.embeddings.word_embeddings.weight":
            x = rng.normal(0.0, 0.4, shape)
        elif name.startswith("bert.embeddings.") and name.endswith("_embeddings.weight"):
            x = rng.normal(0.0, 0.2, shape)
        elif ".LayerNorm." in name and name.endswith(".weight"):
            x = 1.0 + rng.normal(0.0, 0.1, shape)
        elif name.endswith("bias"):
            x = rng.normal(0.0, 0.1, shape)
        else:                                            # Linear [out, in]
            x = rng.normal(0.0, 1.0 / np.sqrt(shape[1]), shape)
        w[name] = x.astype(np.float32)
    return w


def legacy_tensors(w):
    """F16 copies with LayerNorm parameters named .gamma/.beta."""
    out = {}
    for name, x in w.items():
        if ".LayerNorm." in name:
            name = name.replace(".LayerNorm.weight", ".LayerNorm.gamma").replace(".LayerNorm.bias", ".LayerNorm.beta")
        out[name] = x.astype(np.float16)
    return out


def raw_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


# ----------------------------------------------------------------------------
# inputs and goldens

def golden_sequences():
    """(ids, type_ids) per SEQ_LENGTHS: ids uniform over the vocab; type ids 0
    for the first S // 2 positions, 1 after (all 0 for seq0)."""
    rng = np.random.default_rng(SEQ_SEED)
    seqs = []
    for k, n in enumerate(SEQ_LENGTHS):
        ids = rng.integers(0, SIZES["vocab"], n).tolist()
        types = [0] * n if k == 0 else [0] * (n // 2) + [1] * (n - n // 2)
        seqs.append((ids, types))
    return seqs


def run_alone(model, ids, types):
    return model.encode(torch.tensor([ids]), torch.tensor([types]))


def golden_tensors(model, seqs):
    g = {}
    f32 = lambda t: t.detach().to(torch.float32).numpy()          # noqa: E731
    for k, (ids, types) in enumerate(seqs):
        out = run_alone(model, ids, types)
        p = f"seq{k}."
        g[p + "input_ids"] = np.array(ids, np.int32)
        g[p + "type_ids"] = np.array(types, np.int32)
        g[p + "embedding"] = f32(out["embedding"][0])
        for i, h in enumerate(out["layers"]):
            g[p + f"layer{i}"] = f32(h[0])
        final = out["final"][0]
        g[p + "final"] = f32(final)
        g[p + "embed_mean"] = f32(final.mean(0))
        g[p + "embed_first"] = f32(final[0])
        if model.task == "mlm":
            g[p + "mlm_logits"] = f32(model.mlm_logits(final))
        else:
            g[p + "logits"] = f32(model.classify(out["final"])[0])
    return g


# ----------------------------------------------------------------------------
# self-checks

def check_float32(config, state, model64, seqs):
    """Max relative error (max|f32 - f64| / max|f64|) of final and of the head."""
    m32 = hf_bert.HFBert(config, state, dtype=torch.float32)
    rel = lambda a, b: ((a.double() - b).abs().max() / b.abs().max()).item()   # noqa: E731
    rel_final = rel_head = 0.0
    for ids, types in seqs:
        o64, o32 = run_alone(model64, ids, types), run_alone(m32, ids, types)
        rel_final = max(rel_final, rel(o32["final"], o64["final"]))
        if model64.task == "mlm":
            rel_head = max(rel_head, rel(m32.mlm_logits(o32["final"]), model64.mlm_logits(o64["final"])))
        else:
            rel_head = max(rel_head, rel(m32.classify(o32["final"]), model64.classify(o64["final"])))
    return rel_final, rel_head


def check_torch_layers(model, seqs):
    """Max |difference| between each hf_bert layer and torch.nn.TransformerEncoderLayer
    (post-LN, exact GELU) carrying the same weights, float64, on every layer input."""
    c, w = model.cfg, model.w
    err = 0.0
    for i in range(c.layers):
        p = f"bert.encoder.layer.{i}."
        t = torch.nn.TransformerEncoderLayer(c.hidden, c.heads, c.intermediate, dropout=0.0,
                                             activation="gelu", layer_norm_eps=c.eps,
                                             batch_first=True, norm_first=False, dtype=torch.float64)
        t.eval()
        with torch.no_grad():
            sa = t.self_attn
            sa.in_proj_weight.copy_(torch.cat([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]))
            sa.in_proj_bias.copy_(torch.cat([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]))
            sa.out_proj.weight.copy_(w[p + "attention.output.dense.weight"])
            sa.out_proj.bias.copy_(w[p + "attention.output.dense.bias"])
            t.norm1.weight.copy_(w[p + "attention.output.LayerNorm.weight"])
            t.norm1.bias.copy_(w[p + "attention.output.LayerNorm.bias"])
            t.linear1.weight.copy_(w[p + "intermediate.dense.weight"])
            t.linear1.bias.copy_(w[p + "intermediate.dense.bias"])
            t.linear2.weight.copy_(w[p + "output.dense.weight"])
            t.linear2.bias.copy_(w[p + "output.dense.bias"])
            t.norm2.weight.copy_(w[p + "output.LayerNorm.weight"])
            t.norm2.bias.copy_(w[p + "output.LayerNorm.bias"])
            for ids, types in seqs:
                out = run_alone(model, ids, types)
                x = out["embedding"] if i == 0 else out["layers"][i - 1]
                err = max(err, (t(x) - out["layers"][i]).abs().max().item())
    return err


def check_padded_batch(model, seqs):
    """The sequences as one batch padded with PAD_ID (type 0) and an attention
    mask: max |difference| against running them alone over the non-padded
    positions (embedding, every layer, head; the classifier reads position 0)."""
    s_max = max(len(ids) for ids, _ in seqs)
    ids_b = torch.full((len(seqs), s_max), PAD_ID, dtype=torch.long)
    types_b = torch.zeros(len(seqs), s_max, dtype=torch.long)
    mask = torch.zeros(len(seqs), s_max)
    for b, (ids, types) in enumerate(seqs):
        ids_b[b, :len(ids)] = torch.tensor(ids)
        types_b[b, :len(ids)] = torch.tensor(types)
        mask[b, :len(ids)] = 1
    batch = model.encode(ids_b, types_b, attention_mask=mask)
    err = 0.0
    for b, (ids, types) in enumerate(seqs):
        n = len(ids)
        alone = run_alone(model, ids, types)
        pairs = [(batch["embedding"], alone["embedding"])] + list(zip(batch["layers"], alone["layers"]))
        for x, y in pairs:
            err = max(err, (x[b, :n] - y[0]).abs().max().item())
        if model.task == "mlm":
            err = max(err, (model.mlm_logits(batch["final"][b, :n]) - model.mlm_logits(alone["final"][0]))
                      .abs().max().item())
        else:
            err = max(err, (model.classify(batch["final"][b:b + 1]) - model.classify(alone["final"]))
                      .abs().max().item())
    return err


def rel_diff(ga, gb, suffix):
    """max over seq{k}.<suffix> of max|a - b| / max|b|."""
    r = 0.0
    for name in ga:
        if name.endswith("." + suffix):
            a, b = ga[name].astype(np.float64), gb[name].astype(np.float64)
            r = max(r, float(np.abs(a - b).max() / np.abs(b).max()))
    return r


# ----------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "golden"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    seqs = golden_sequences()
    weights, goldens, report = {}, {}, []
    for m in MODELS:
        config = make_config(m["task"])
        seed = MODELS[[x["name"] for x in MODELS].index(m["weights_of"])]["seed"] if "weights_of" in m else m["seed"]
        w = weights[m["weights_of"]] if "weights_of" in m else draw_weights(config, m["task"], seed)
        weights[m["name"]] = w
        stored = legacy_tensors(w) if m["legacy"] else w

        folder = os.path.join(args.out, m["name"])
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, sort_keys=True, indent=2)
            f.write("\n")
        save_file(stored, os.path.join(folder, "model.safetensors"), {"format": "pt"})

        # The file as a loader sees it: every tensor in the intended dtype,
        # legacy LayerNorm names only as gamma/beta.
        header = raw_header(os.path.join(folder, "model.safetensors"))
        assert header.pop("__metadata__") == {"format": "pt"}
        assert {v["dtype"] for v in header.values()} == {m["dtype"]}, m["name"]
        ln_names = [k for k in header if ".LayerNorm." in k]
        suffixes = {k.rsplit(".", 1)[1] for k in ln_names}
        assert suffixes == ({"gamma", "beta"} if m["legacy"] else {"weight", "bias"}), suffixes

        # Reload through the loader (renaming, validation) and compute the goldens.
        config, state = hf_bert.load_checkpoint(folder)
        model = hf_bert.HFBert(config, state, dtype=torch.float64)
        g = golden_tensors(model, seqs)
        goldens[m["name"]] = g
        save_file(g, os.path.join(folder, "golden.safetensors"),
                  {"format": "pt", "model": m["name"], "seed": str(seed), "weights_dtype": m["dtype"]})

        rel_final, rel_head = check_float32(config, state, model, seqs)
        torch_err = check_torch_layers(model, seqs)
        pad_err = check_padded_batch(model, seqs)
        assert torch_err <= 1e-12, f"{m['name']}: nn.TransformerEncoderLayer differs by {torch_err}"
        assert pad_err <= 1e-9, f"{m['name']}: padded batch differs by {pad_err}"
        r = dict(model=m["name"], seed=seed, weights_dtype=m["dtype"],
                 f32_vs_f64_rel_err_final=rel_final, f32_vs_f64_rel_err_head=rel_head,
                 torch_encoder_layer_max_abs_err_f64=torch_err, padded_batch_max_abs_err_f64=pad_err,
                 vs_f32_weights_rel_diff_final=None, vs_f32_weights_rel_diff_head=None)
        if m["legacy"]:
            base = goldens[m["weights_of"]]
            r["vs_f32_weights_rel_diff_final"] = rel_diff(g, base, "final")
            r["vs_f32_weights_rel_diff_head"] = rel_diff(g, base, "mlm_logits")
        report.append(r)

    write_doc(args.out, report, seqs)
    print("self-checks (float64 reference unless noted):")
    for r in report:
        print(json.dumps(r))
    total = 0
    for m in MODELS:
        folder = os.path.join(args.out, m["name"])
        for f in sorted(os.listdir(folder)):
            size = os.path.getsize(os.path.join(folder, f))
            total += size
            print(f"  {m['name']}/{f}: {size} bytes")
    print(f"three folders: {total} bytes in total")


# ----------------------------------------------------------------------------
# HF_BERT.md

def _fmt(v):
    return "-" if v is None else ("0" if v == 0 else f"{v:.2e}")


def write_doc(out, report, seqs):
    seq_lines = [f"- seq{k} (S = {len(ids)}): ids `{ids}`, type ids `{types}`"
                 for k, (ids, types) in enumerate(seqs)]
    checks = [f"| `{r['model']}` | {r['seed']} | {r['weights_dtype']} | {_fmt(r['f32_vs_f64_rel_err_final'])} | "
              f"{_fmt(r['f32_vs_f64_rel_err_head'])} | {_fmt(r['torch_encoder_layer_max_abs_err_f64'])} | "
              f"{_fmt(r['padded_batch_max_abs_err_f64'])} | {_fmt(r['vs_f32_weights_rel_diff_final'])} | "
              f"{_fmt(r['vs_f32_weights_rel_diff_head'])} |" for r in report]
    text = DOC_TEMPLATE.format(seqs="\n".join(seq_lines), checks="\n".join(checks),
                               pad=PAD_ID, lengths=", ".join(map(str, SEQ_LENGTHS)), seq_seed=SEQ_SEED,
                               labels=json.dumps(LABELS), **SIZES)
    with open(os.path.join(out, "HF_BERT.md"), "w") as f:
        f.write(text)


DOC_TEMPLATE = """\
# Golden data for plain HuggingFace BERT checkpoints

Three folders beside the crammedBERT ones (those are described in
`README.md`, written by `make_goldens.py`). Generated by
`python/reference/make_hf_bert_goldens.py` from the independent PyTorch
reference `python/reference/hf_bert.py` (post-LN BERT as transformers'
`BertModel` / `BertForMaskedLM` / `BertForSequenceClassification`, written
from the spec, not from transformers' code). Do not edit by hand; this file is
written by the same script. Regenerate (deterministic, byte-identical on
re-runs) with

    /usr/bin/python3 python/reference/make_hf_bert_goldens.py

It needs Debian's `python3-torch` (1.13, CPU) and `python3-numpy`.

## Models

| folder | architectures | weights | LayerNorm names | head |
| --- | --- | --- | --- | --- |
| `hf-bert-mlm` | `BertForMaskedLM` | F32 | `.weight` / `.bias` | MLM (transform + tied decoder + `cls.predictions.bias`); no pooler |
| `hf-bert-cls` | `BertForSequenceClassification` | F32 | `.weight` / `.bias` | pooler (tanh) + classifier, 3 labels |
| `hf-bert-mlm-legacy` | `BertForMaskedLM` | F16 (every tensor) | `.gamma` / `.beta` | as `hf-bert-mlm`: the same weights rounded to F16 |

Sizes: H = {hidden}, layers L = {layers}, heads {heads} (head dim {hidden} / {heads}), intermediate
I = {intermediate}, vocab V = {vocab}, max positions P = {max_pos}, 2 token types,
`layer_norm_eps` 1e-12, exact (erf) GELU.

Every folder holds:

| file | content |
| --- | --- |
| `config.json` | HF form, `json.dump(sort_keys=True, indent=2)` plus a newline: `architectures`, `model_type: "bert"`, `hidden_size`, `num_hidden_layers`, `num_attention_heads`, `intermediate_size`, `hidden_act: "gelu"`, `max_position_embeddings`, `type_vocab_size: 2`, `vocab_size`, `layer_norm_eps: 1e-12`, `position_embedding_type: "absolute"`, dropouts 0.1, `initializer_range` 0.02, `pad_token_id: {pad}`; `hf-bert-cls` also `id2label` `{{"0": .., "1": .., "2": ..}}` / `label2id` (labels {labels}). The legacy config equals `hf-bert-mlm`'s. |
| `model.safetensors` | weights (names below), header `__metadata__ {{"format": "pt"}}`, keys sorted, data aligned. No tokenizer: the inputs are ids. |
| `golden.safetensors` | expected outputs (below); `__metadata__`: `format` "pt", `model` (folder name), `seed`, `weights_dtype` (F32 / F16). |

Tensor names and shapes in `model.safetensors` (`hf-bert-mlm-legacy`: every
`LayerNorm.weight` / `LayerNorm.bias` below is named `LayerNorm.gamma` /
`LayerNorm.beta`, and every tensor is F16):
```
bert.embeddings.word_embeddings.weight                       [V, H]
bert.embeddings.position_embeddings.weight                   [P, H]
bert.embeddings.token_type_embeddings.weight                 [2, H]
bert.embeddings.LayerNorm.{{weight,bias}}                      [H]
bert.encoder.layer.{{i}}.attention.self.{{query,key,value}}.weight [H, H]  (head h = rows h*dh..(h+1)*dh)
bert.encoder.layer.{{i}}.attention.self.{{query,key,value}}.bias   [H]
bert.encoder.layer.{{i}}.attention.output.dense.weight         [H, H]
bert.encoder.layer.{{i}}.attention.output.dense.bias           [H]
bert.encoder.layer.{{i}}.attention.output.LayerNorm.{{weight,bias}} [H]
bert.encoder.layer.{{i}}.intermediate.dense.weight             [I, H]
bert.encoder.layer.{{i}}.intermediate.dense.bias               [I]
bert.encoder.layer.{{i}}.output.dense.weight                   [H, I]
bert.encoder.layer.{{i}}.output.dense.bias                     [H]
bert.encoder.layer.{{i}}.output.LayerNorm.{{weight,bias}}        [H]
MLM:  cls.predictions.transform.dense.weight                 [H, H]
      cls.predictions.transform.dense.bias                   [H]
      cls.predictions.transform.LayerNorm.{{weight,bias}}      [H]
      cls.predictions.bias                                   [V]
      (no decoder weight: tied to word_embeddings; no bert.pooler.*)
cls:  bert.pooler.dense.weight [H, H], bert.pooler.dense.bias [H]
      classifier.weight [3, H], classifier.bias [3]
```

Model: x = LN(word[id] + pos[p] + type[t]) (positions 0..S-1); per layer
x = LN_attn(x + Attn(x)), x = LN_out(x + W2 GELU(W1 x + b1) + b2) with
Attn = dense(softmax(q k^T / sqrt(dh)) v) per head (q, k, v with biases);
no final norm. Pooler tanh(x[0] Wp^T + bp); classifier pooled Wc^T + bc.
MLM: LN_t(GELU(x Wt^T + bt)) E^T + cls.predictions.bias, E = word_embeddings.

Weights: seeded random (hf-bert-mlm 8008, hf-bert-cls 9009; the legacy folder
holds hf-bert-mlm's draw rounded to F16), not tiny so activations are O(1):
Linear weights N(0, 1/sqrt(fan_in)), LayerNorm weights 1 + N(0, 0.1), biases
N(0, 0.1), word embeddings N(0, 0.4), position / token-type embeddings
N(0, 0.2).

## Inputs

Token ids drawn uniformly from the whole vocab (seed {seq_seed}), lengths
{lengths}; type ids 0 for the first S // 2 positions and 1 after (all 0 for
seq0). Each is run ALONE: batch 1, no padding, no attention mask.
{seqs}

## golden.safetensors

Computed in float64 from the stored weights as a loader reads them (the
legacy goldens from the F16 values, widened exactly: they differ from
`hf-bert-mlm`'s by the F16 rounding, see below), stored as F32; ids as I32.
k = 0..2 indexes the sequences above, i = 0..L-1, S = sequence length.

| tensor | dtype | shape | models | content |
| --- | --- | --- | --- | --- |
| `seq{{k}}.input_ids` | I32 | [S] | all | the token ids |
| `seq{{k}}.type_ids` | I32 | [S] | all | the token type ids |
| `seq{{k}}.embedding` | F32 | [S, H] | all | after the embedding LayerNorm |
| `seq{{k}}.layer{{i}}` | F32 | [S, H] | all | output of layer i (after its output LayerNorm) |
| `seq{{k}}.final` | F32 | [S, H] | all | last layer's output (= `layer{{L-1}}`; BERT has no final norm) |
| `seq{{k}}.embed_mean` | F32 | [H] | all | mean over positions of `final` |
| `seq{{k}}.embed_first` | F32 | [H] | all | `final` at position 0 |
| `seq{{k}}.mlm_logits` | F32 | [S, V] | MLM | transform + tied decoder + `cls.predictions.bias`, every position |
| `seq{{k}}.logits` | F32 | [3] | cls | classifier output (pooler on position 0) |

## Self-checks of the last generation

Columns: the float32 forward's max relative error (max\\|f32 - f64\\| /
max\\|f64\\|) for `final` and for the head (MLM logits / classifier logits);
max \\|difference\\| between each layer and torch's own
`nn.TransformerEncoderLayer` (post-LN, GELU, same weights, float64; asserted
<= 1e-12); max \\|difference\\| between the 3 sequences run as one padded
batch (pad id {pad}, type 0, additive key mask (1 - m) * finfo.min) and run alone,
over the non-padded positions (asserted <= 1e-9); for the legacy folder, the
max relative difference of its goldens from `hf-bert-mlm`'s (the F16
rounding of the weights).

| model | seed | weights | f32 rel err final | f32 rel err head | vs nn.TransformerEncoderLayer | padded batch | F16 vs F32 weights: final | F16 vs F32 weights: logits |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
{checks}

A float32 engine should match these goldens to about 1e-5 relative (the
reference's own float32 forward is within the figures above). For the legacy
folder compare against its own goldens (computed from the F16 values), not
`hf-bert-mlm`'s.
"""


if __name__ == "__main__":
    main()
