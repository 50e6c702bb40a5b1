"""Independent PyTorch reference of plain HuggingFace BERT inference (post-LN),
as transformers' BertModel / BertForMaskedLM / BertForSequenceClassification.

Written from the written spec of the fff project (not from transformers'
code, which is not installed here). Plain functions over a state dict named as
in HF checkpoints ("bert." prefix), so the same code serves the float64 goldens
(python/reference/make_hf_bert_goldens.py) and quick float32 experiments.

    cd python/reference && /usr/bin/python3 -c "import torch, hf_bert; \\
        m = hf_bert.HFBert.from_folder('../../tests/data/golden/hf-bert-mlm'); \\
        o = m.encode(torch.tensor([[5, 6, 7]])); print(o['final'], m.mlm_logits(o['final']).shape)"

Model (S = sequence length, positions 0..S-1, H hidden, dh = H / heads):
  embedding  word_embeddings[id] + position_embeddings[pos]
             + token_type_embeddings[type] -> LayerNorm (eps from config)
  layer i    q, k, v = x Wq^T + bq, x Wk^T + bk, x Wv^T + bv (separate [H, H]
             weights; head h = output columns h*dh .. (h+1)*dh)
             scores = q k^T / sqrt(dh) (+ (1 - m) * finfo.min on padded keys)
             softmax, context (heads concatenated), a = ctx Wo^T + bo
             x = LN_attn(x + a)
             x = LN_out(x + GELU(x Wi^T + bi) Wo2^T + bo2)          (post-LN)
             (no final norm after the last layer)
  pooler     tanh(final[0] Wp^T + bp)          (BertModel / classification)
  classifier logits = pooled Wc^T + bc
  MLM head   t = LN_t(GELU(final Wt^T + bt)); logits = t E^T + b_dec, E tied
             to word_embeddings (decoder weight not stored)
GELU is the exact erf form. Old TF-converted checkpoints name the LayerNorm
parameters `.gamma` / `.beta`; load_checkpoint renames them to `.weight` /
`.bias`. F16 checkpoints are widened (exactly) to the compute dtype.
Run with Debian's /usr/bin/python3 (torch 1.13, CPU).
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

import safetensors_io
from safetensors_io import load_file

# safetensors_io knows F32/F64/I32/I64; HF checkpoints also come as F16.
# Registering it (in this process) keeps that module's layout rules (sorted
# keys, widest dtype first, aligned data) for F16 files too.
safetensors_io._DTYPES.setdefault("F16", np.dtype("<f2"))


# ----------------------------------------------------------------------------
# building blocks

def gelu(x):
    """Exact GELU, x * Phi(x) with the erf form (HF "gelu")."""
    return F.gelu(x)


def layer_norm(x, weight, bias, eps):
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def linear(x, state, prefix):
    """x @ W^T + b for the nn.Linear stored as `prefix.weight` [out, in] / `prefix.bias`."""
    return x @ state[prefix + ".weight"].t() + state[prefix + ".bias"]


# ----------------------------------------------------------------------------
# checkpoint

class Config:
    """The hyper-parameters this reference reads from an HF config.json."""

    def __init__(self, config):
        self.hidden = config["hidden_size"]
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.intermediate = config["intermediate_size"]
        self.vocab = config["vocab_size"]
        self.max_pos = config["max_position_embeddings"]
        self.type_vocab = config.get("type_vocab_size", 2)
        self.eps = config.get("layer_norm_eps", 1e-12)
        self.architectures = config.get("architectures", ["BertModel"])
        self.num_labels = len(config["id2label"]) if "id2label" in config else config.get("num_labels", 2)
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"hidden_act {config['hidden_act']!r} not supported (only exact 'gelu')")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        if self.hidden % self.heads:
            raise ValueError("hidden_size not divisible by num_attention_heads")


def expected_shapes(config, task):
    """{tensor name: shape} of a checkpoint (LayerNorm parameters as .weight/.bias).
    task: "mlm" (BertForMaskedLM: no pooler, cls.predictions.*) or "cls"
    (BertForSequenceClassification: pooler + classifier)."""
    c = Config(config)
    h, i_size = c.hidden, c.intermediate
    s = {
        "bert.embeddings.word_embeddings.weight": (c.vocab, h),
        "bert.embeddings.position_embeddings.weight": (c.max_pos, h),
        "bert.embeddings.token_type_embeddings.weight": (c.type_vocab, h),
        "bert.embeddings.LayerNorm.weight": (h,),
        "bert.embeddings.LayerNorm.bias": (h,),
    }
    for i in range(c.layers):
        p = f"bert.encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense"):
            s[p + name + ".weight"] = (h, h)
            s[p + name + ".bias"] = (h,)
        s[p + "attention.output.LayerNorm.weight"] = (h,)
        s[p + "attention.output.LayerNorm.bias"] = (h,)
        s[p + "intermediate.dense.weight"] = (i_size, h)
        s[p + "intermediate.dense.bias"] = (i_size,)
        s[p + "output.dense.weight"] = (h, i_size)
        s[p + "output.dense.bias"] = (h,)
        s[p + "output.LayerNorm.weight"] = (h,)
        s[p + "output.LayerNorm.bias"] = (h,)
    if task == "mlm":
        s.update({
            "cls.predictions.transform.dense.weight": (h, h),
            "cls.predictions.transform.dense.bias": (h,),
            "cls.predictions.transform.LayerNorm.weight": (h,),
            "cls.predictions.transform.LayerNorm.bias": (h,),
            "cls.predictions.bias": (c.vocab,),
        })
    elif task == "cls":
        s.update({
            "bert.pooler.dense.weight": (h, h),
            "bert.pooler.dense.bias": (h,),
            "classifier.weight": (c.num_labels, h),
            "classifier.bias": (c.num_labels,),
        })
    else:
        raise ValueError(f"unknown task {task!r}")
    return s


def task_of(config):
    arch = Config(config).architectures[0]
    if arch == "BertForMaskedLM":
        return "mlm"
    if arch == "BertForSequenceClassification":
        return "cls"
    raise ValueError(f"architecture {arch!r} not supported")


def rename_legacy(state):
    """Old TF-converted checkpoints: `LayerNorm.gamma` / `LayerNorm.beta` ->
    `LayerNorm.weight` / `LayerNorm.bias`."""
    out = {}
    for name, t in state.items():
        if ".LayerNorm." in name and name.endswith(".gamma"):
            name = name[:-len(".gamma")] + ".weight"
        elif ".LayerNorm." in name and name.endswith(".beta"):
            name = name[:-len(".beta")] + ".bias"
        if name in out:
            raise ValueError(f"{name} stored under both names")
        out[name] = t
    return out


def validate(config, state):
    """Raises ValueError naming the first missing, misshapen or unexpected tensor."""
    expected = expected_shapes(config, task_of(config))
    for name, shape in expected.items():
        if name not in state:
            raise ValueError(f"checkpoint lacks tensor {name} {list(shape)}")
        if tuple(state[name].shape) != tuple(shape):
            raise ValueError(f"tensor {name} has shape {list(state[name].shape)}, expected {list(shape)}")
    extra = sorted(set(state) - set(expected))
    if extra:
        raise ValueError(f"unexpected tensors: {extra}")


def load_checkpoint(folder):
    """Returns (config dict, {name: torch tensor in the stored dtype}) from
    config.json + model.safetensors, LayerNorm names normalized to .weight/.bias."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    arrays = load_file(os.path.join(folder, "model.safetensors"))
    state = rename_legacy({k: torch.from_numpy(v) for k, v in arrays.items()})
    validate(config, state)
    return config, state


# ----------------------------------------------------------------------------
# the model

class HFBert:
    """Inference of BERT + its head. `dtype` is the compute dtype; the stored
    weights (F32 or F16) are cast to it."""

    def __init__(self, config, state, dtype=torch.float64):
        self.cfg = Config(config)
        self.task = task_of(config)
        self.dtype = dtype
        self.w = {k: v.to(dtype) for k, v in state.items()}

    @classmethod
    def from_folder(cls, folder, **kw):
        config, state = load_checkpoint(folder)
        return cls(config, state, **kw)

    # -- encoder ---------------------------------------------------------
    def embed(self, ids, type_ids=None):
        """ids, type_ids [B, S] long -> [B, S, H] after the embedding LayerNorm."""
        c, w = self.cfg, self.w
        s = ids.shape[1]
        if s > c.max_pos:
            raise ValueError(f"sequence length {s} > max_position_embeddings {c.max_pos}")
        if type_ids is None:
            type_ids = torch.zeros_like(ids)
        pos = torch.arange(s)
        x = (w["bert.embeddings.word_embeddings.weight"][ids]
             + w["bert.embeddings.position_embeddings.weight"][pos][None]
             + w["bert.embeddings.token_type_embeddings.weight"][type_ids])
        return layer_norm(x, w["bert.embeddings.LayerNorm.weight"], w["bert.embeddings.LayerNorm.bias"], c.eps)

    def attention(self, i, x, mask_add):
        """x [B, S, H] -> a [B, S, H] (before the residual add). mask_add [B, S] or None."""
        c, w, p = self.cfg, self.w, f"bert.encoder.layer.{i}.attention."
        b, s, h = x.shape
        dh = h // c.heads

        def heads(t):                                   # [B, S, H] -> [B, nh, S, dh]
            return t.view(b, s, c.heads, dh).permute(0, 2, 1, 3)

        q = heads(linear(x, w, p + "self.query"))
        k = heads(linear(x, w, p + "self.key"))
        v = heads(linear(x, w, p + "self.value"))
        scores = (q @ k.transpose(-1, -2)) / (dh ** 0.5)
        if mask_add is not None:
            scores = scores + mask_add[:, None, None, :]
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ v).permute(0, 2, 1, 3).reshape(b, s, h)
        return linear(ctx, w, p + "output.dense")

    def layer(self, i, x, mask_add=None):
        """One post-LN encoder layer."""
        c, w, p = self.cfg, self.w, f"bert.encoder.layer.{i}."
        x = layer_norm(x + self.attention(i, x, mask_add),
                       w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], c.eps)
        f = linear(gelu(linear(x, w, p + "intermediate.dense")), w, p + "output.dense")
        return layer_norm(x + f, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], c.eps)

    def encode(self, ids, type_ids=None, attention_mask=None):
        """ids, type_ids [B, S] long, attention_mask [B, S] 0/1 or None.
        Returns {embedding [B,S,H], layers (list of [B,S,H], output of each
        layer), final [B,S,H] (= last layer's output; BERT has no final norm)}."""
        mask_add = None
        if attention_mask is not None:
            mask_add = (1.0 - attention_mask.to(self.dtype)) * torch.finfo(self.dtype).min
        x = self.embed(ids, type_ids)
        out = {"embedding": x, "layers": []}
        for i in range(self.cfg.layers):
            x = self.layer(i, x, mask_add)
            out["layers"].append(x)
        out["final"] = x
        return out

    # -- heads -------------------------------------------------------------
    def pool(self, final):
        """final [B, S, H] -> tanh(final[:, 0] Wp^T + bp) [B, H]."""
        return torch.tanh(linear(final[:, 0], self.w, "bert.pooler.dense"))

    def classify(self, final):
        """final [B, S, H] -> [B, num_labels]."""
        return linear(self.pool(final), self.w, "classifier")

    def mlm_logits(self, final):
        """final [..., H] -> [..., V]: transform (dense, GELU, LayerNorm), then
        the tied word embeddings and cls.predictions.bias."""
        w = self.w
        t = gelu(linear(final, w, "cls.predictions.transform.dense"))
        t = layer_norm(t, w["cls.predictions.transform.LayerNorm.weight"],
                       w["cls.predictions.transform.LayerNorm.bias"], self.cfg.eps)
        return t @ w["bert.embeddings.word_embeddings.weight"].t() + w["cls.predictions.bias"]
