"""Independent PyTorch reference of crammedBERT / UltraFastBERT inference.

Written from /work/shared/design/ultrafastbert-spec.md (sections 1-3), not
from the authors' code. Plain functions over a state dict of tensors named as
in the published checkpoint, so the same code serves the float64 goldens
(python/reference/make_goldens.py) and the eager benchmark (bench_torch.py).

    cd python/reference && /usr/bin/python3 -c "import torch, crammed_bert as cb; \
        m = cb.CrammedBERT.from_folder('../../tests/data/golden/fff-1x3'); \
        print(m.encode(torch.tensor([[5, 6, 7]]))['final'])"

Model (spec section 2):
  embedding  word_embedding[ids] + scale_factor * sinusoid(S, H) -> LayerNorm
             (the sinusoid table is built in float32, as the authors do)
  layer i    h += Attn(LN1(h)); h += FFN(LN2(h))       (pre-LN)
  Attn       Megatron qkv layout, scores * norm_factor, additive key mask
             (1 - m) * -10000, softmax, context, dense (no biases)
  FFN        FFF (tree walk, `z > 0` goes right, GELU(z) * W_out[:, n]) or
             dense: dense_in, GELU (or GELUglu: GELU(gate) * x), dense_out
  final_norm LayerNorm; MLM head: final @ decoder.T (tied, no bias)
  classifier pool (zero_index/avg/max/lse) -> [pooler.dense + bias] -> Tanh
             -> head + bias
GELU is the exact erf form everywhere. Run with Debian's /usr/bin/python3
(torch 1.13, CPU).
"""
import contextlib
import json
import math
import os
import time
from collections import defaultdict

import torch
import torch.nn.functional as F

from safetensors_io import load_file


# ----------------------------------------------------------------------------
# building blocks

def gelu(x):
    """Exact GELU, x * Phi(x) with the erf form."""
    return F.gelu(x)


def layer_norm(x, weight, bias, eps):
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def sinusoid_table(seq_len, dim):
    """[seq_len, dim] float32 table: even dims sin(pos*div), odd dims cos(pos*div),
    div = exp(arange(0, dim, 2) * -ln(10000)/dim), every step in float32."""
    position = torch.arange(seq_len, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(seq_len, dim, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)
    return pe


class SectionTimer:
    """Accumulates wall time per named section (for bench_torch.py --breakdown).
    CPU eager ops are synchronous, so perf_counter around them is exact enough."""

    def __init__(self):
        self.seconds = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, name):
        t0 = time.perf_counter()
        yield
        self.seconds[name] += time.perf_counter() - t0


def _no_timer(_name):
    return contextlib.nullcontext()


# ----------------------------------------------------------------------------
# FFF (spec section 1)

def fff_masked_dense(x, w_in, b_in, w_out, n_trees, depth):
    """The authors' training-time form: every node's logit and GELU, then
    linear_out on the activations masked to the visited nodes.
    x [T, d_in] -> (y [T, d_out], routing [T, n_trees, depth+1] (node within
    tree per level, long), visited logits [T, n_trees, depth+1])."""
    n_nodes = 2 ** (depth + 1) - 1
    t = x.shape[0]
    logits = x @ w_in.t() + b_in                              # [T, n_trees*n_nodes]
    per_tree = logits.view(t, n_trees, n_nodes)
    node = torch.zeros(t, n_trees, dtype=torch.long, device=x.device)
    mask = torch.zeros_like(per_tree)
    routing, visited = [], []
    for _level in range(depth + 1):
        z = per_tree.gather(2, node.unsqueeze(2)).squeeze(2)   # [T, n_trees]
        mask.scatter_(2, node.unsqueeze(2), 1.0)
        routing.append(node)
        visited.append(z)
        node = 2 * node + 1 + (z > 0).long()
    y = (gelu(logits) * mask.view(t, -1)) @ w_out.t()
    return y, torch.stack(routing, 2), torch.stack(visited, 2)


def fff_conditional(x, w_in, b_in, w_out_t, n_trees, depth):
    """Conditional form (the paper's CMM): per token and tree, only the visited
    node's row of W_in and column of W_out (row of w_out_t = W_out^T,
    [n_trees*n_nodes, d_out]) are read. Same outputs as fff_masked_dense."""
    n_nodes = 2 ** (depth + 1) - 1
    t = x.shape[0]
    tree_base = torch.arange(n_trees, device=x.device) * n_nodes   # [n_trees]
    node = torch.zeros(t, n_trees, dtype=torch.long, device=x.device)
    y = x.new_zeros(t, w_out_t.shape[1])
    routing, visited = [], []
    for _level in range(depth + 1):
        rows = (node + tree_base).reshape(-1)                        # [T*n_trees]
        w = w_in.index_select(0, rows).view(t, n_trees, -1)         # [T, n_trees, d_in]
        z = torch.einsum("td,tnd->tn", x, w) + b_in.index_select(0, rows).view(t, n_trees)
        a = gelu(z)
        y = y + torch.einsum("tn,tnd->td", a, w_out_t.index_select(0, rows).view(t, n_trees, -1))
        routing.append(node)
        visited.append(z)
        node = 2 * node + 1 + (z > 0).long()
    return y, torch.stack(routing, 2), torch.stack(visited, 2)


# ----------------------------------------------------------------------------
# checkpoint

def tie_word_embeddings(state):
    """Accepts a checkpoint with both tied matrices, only decoder.weight, or only
    the word embedding (spec section 3) and fills in the missing one."""
    emb, dec = "encoder.embedding.word_embedding.weight", "decoder.weight"
    if emb not in state and dec in state:
        state[emb] = state[dec]
    if dec not in state and emb in state and "head.weight" not in state:   # MLM model
        state[dec] = state[emb]
    return state


def encoder_shapes(config):
    """{tensor name: shape} of the encoder part of a checkpoint (spec section 3)."""
    a = Arch(config)
    h, v = a.hidden, a.vocab
    shapes = {
        "encoder.embedding.word_embedding.weight": (v, h),
        "encoder.embedding.pos_embedding.scale_factor": (1,),
        "encoder.embedding.norm.weight": (h,),
        "encoder.embedding.norm.bias": (h,),
        "encoder.final_norm.weight": (h,),
        "encoder.final_norm.bias": (h,),
    }
    for i in range(a.layers):
        p = f"encoder.layers.{i}."
        shapes.update({
            p + "norm1.weight": (h,), p + "norm1.bias": (h,),
            p + "attn.self_attention.query_key_value.weight": (3 * h, h),
            p + "attn.self_attention.norm_factor": (),
            p + "attn.dense.weight": (h, h),
            p + "norm2.weight": (h,), p + "norm2.bias": (h,),
        })
        if a.is_fff:
            n = a.intermed_size * (2 ** (a.depth + 1) - 1)
            shapes.update({p + "ffn.linear_in.weight": (n, h), p + "ffn.linear_in.bias": (n,),
                           p + "ffn.linear_out.weight": (h, n)})
        else:
            i_out = a.intermed_size // 2 if a.nonlin == "GELUglu" else a.intermed_size
            shapes.update({p + "ffn.dense_in.weight": (a.intermed_size, h),
                           p + "ffn.dense_out.weight": (h, i_out)})
    return shapes


def validate(config, state):
    """Raises ValueError naming the first missing or misshapen tensor."""
    a = Arch(config)
    expected = encoder_shapes(config)
    if "decoder.weight" in state:
        expected["decoder.weight"] = (a.vocab, a.hidden)
    if "head.weight" in state:
        n_labels = state["head.weight"].shape[0]
        head_in = a.hidden
        if a.include_ff_layer:
            head_in = state["pooler.dense.weight"].shape[0] if "pooler.dense.weight" in state else -1
            expected["pooler.dense.weight"] = (head_in, a.hidden)
            expected["pooler.dense.bias"] = (head_in,)
        expected["head.weight"] = (n_labels, head_in)
        expected["head.bias"] = (n_labels,)
    for name, shape in expected.items():
        if name not in state:
            raise ValueError(f"checkpoint lacks tensor {name} {list(shape)}")
        if tuple(state[name].shape) != tuple(shape):
            raise ValueError(f"tensor {name} has shape {list(state[name].shape)}, expected {list(shape)}")
    extra = sorted(set(state) - set(expected))
    if extra:
        raise ValueError(f"unexpected tensors: {extra}")


def load_checkpoint(folder):
    """Returns (config dict, {name: float32 torch tensor}) from config.json +
    model.safetensors."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    arrays = load_file(os.path.join(folder, "model.safetensors"))
    state = tie_word_embeddings({k: torch.from_numpy(v) for k, v in arrays.items()})
    validate(config, state)
    return config, state


class Arch:
    """The hyper-parameters this reference reads from config.json's `arch`."""

    def __init__(self, config):
        a = config["arch"] if "arch" in config else config
        self.hidden = a["hidden_size"]
        self.layers = a["num_transformer_layers"]
        self.heads = a["attention"]["num_attention_heads"]
        self.vocab = a["embedding"]["vocab_size"]
        self.max_seq = a["embedding"]["max_seq_length"]
        self.eps = a["norm_eps"]
        self.is_fff = a.get("intermed_type", "ff") == "fff"
        self.intermed_size = a["intermed_size"]          # FFF: trees; dense: width
        self.depth = a.get("intermed_depth") if self.is_fff else None
        self.nonlin = a["nonlin"]
        head = a.get("classification_head", {})
        self.pooler = head.get("pooler", "zero_index")
        self.include_ff_layer = head.get("include_ff_layer", True)
        if self.nonlin not in ("GELU", "GELUglu"):
            raise ValueError(f"nonlin {self.nonlin!r} not supported")
        if self.hidden % self.heads:
            raise ValueError("hidden_size not divisible by num_attention_heads")


# ----------------------------------------------------------------------------
# the model

class CrammedBERT:
    """Inference of the encoder + heads. `dtype` is the compute dtype (weights
    are cast to it; the sinusoid table is built in float32 and then cast).
    `fff_mode`: "check" runs both FFF forms and asserts they agree (used for
    goldens), "dense" the masked-dense form, "conditional" the gather form."""

    def __init__(self, config, state, dtype=torch.float64, fff_mode="check", timer=None):
        self.arch = Arch(config)
        self.dtype = dtype
        self.fff_mode = fff_mode
        self.timer = timer or _no_timer
        self.fff_check_max_err = 0.0      # largest |masked-dense - conditional| seen ("check")
        self.w = {k: v.to(dtype) for k, v in state.items()}
        a = self.arch
        self.pe = sinusoid_table(a.max_seq, a.hidden).to(dtype)
        self.w_out_t = {}
        if a.is_fff and fff_mode != "dense":
            for i in range(a.layers):
                w = self.w[f"encoder.layers.{i}.ffn.linear_out.weight"]
                self.w_out_t[i] = w.t().contiguous()
        self.has_decoder = "decoder.weight" in self.w
        self.has_classifier = "head.weight" in self.w

    @classmethod
    def from_folder(cls, folder, **kw):
        config, state = load_checkpoint(folder)
        return cls(config, state, **kw)

    # -- encoder ---------------------------------------------------------
    def embed(self, ids):
        """ids [B, S] long -> [B, S, H] after the embedding LayerNorm."""
        a, w = self.arch, self.w
        s = ids.shape[1]
        if s > a.max_seq:
            raise ValueError(f"sequence length {s} > max_seq_length {a.max_seq}")
        with self.timer("embedding"):
            x = w["encoder.embedding.word_embedding.weight"][ids]
            x = x + self.pe[:s] * w["encoder.embedding.pos_embedding.scale_factor"]
            return layer_norm(x, w["encoder.embedding.norm.weight"], w["encoder.embedding.norm.bias"], a.eps)

    def attention(self, i, x, mask_add):
        """x [B, S, H] (already normed) -> [B, S, H]. mask_add [B, S] or None."""
        a, p = self.arch, f"encoder.layers.{i}.attn."
        b, s, h = x.shape
        hd = h // a.heads
        with self.timer("qkv_projection"):
            qkv = x @ self.w[p + "self_attention.query_key_value.weight"].t()
        with self.timer("attention_core"):
            qkv = qkv.view(b, s, a.heads, 3 * hd).permute(0, 2, 1, 3)   # [B, nh, S, 3hd]
            q, k, v = qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:]
            scores = (q @ k.transpose(-1, -2)) * self.w[p + "self_attention.norm_factor"]
            if mask_add is not None:
                scores = scores + mask_add[:, None, None, :]
            probs = torch.softmax(scores, dim=-1)
            ctx = (probs @ v).permute(0, 2, 1, 3).reshape(b, s, h)
        with self.timer("attention_out_projection"):
            return ctx @ self.w[p + "dense.weight"].t()

    def ffn(self, i, x):
        """x [B, S, H] -> (y [B, S, H], routing or None, visited logits or None)."""
        a, p = self.arch, f"encoder.layers.{i}.ffn."
        b, s, h = x.shape
        flat = x.reshape(b * s, h)
        with self.timer("ffn"):
            if not a.is_fff:
                u = flat @ self.w[p + "dense_in.weight"].t()
                if a.nonlin == "GELUglu":
                    half = u.shape[1] // 2
                    u = gelu(u[:, half:]) * u[:, :half]       # x = first half, gate = second
                else:
                    u = gelu(u)
                return (u @ self.w[p + "dense_out.weight"].t()).view(b, s, h), None, None
            args = (self.w[p + "linear_in.weight"], self.w[p + "linear_in.bias"])
            if self.fff_mode in ("dense", "check"):
                y, route, z = fff_masked_dense(flat, *args, self.w[p + "linear_out.weight"],
                                               a.intermed_size, a.depth)
            if self.fff_mode in ("conditional", "check"):
                y2, route2, z2 = fff_conditional(flat, *args, self.w_out_t[i], a.intermed_size, a.depth)
                if self.fff_mode == "check":
                    assert torch.equal(route, route2), f"layer {i}: FFF routings differ"
                    tol = 1e-12 if self.dtype == torch.float64 else 1e-4
                    err = (y - y2).abs().max().item() if y.numel() else 0.0
                    assert err <= tol * max(1.0, y.abs().max().item()), f"layer {i}: FFF forms differ by {err}"
                    self.fff_check_max_err = max(self.fff_check_max_err, err)
                else:
                    y, route, z = y2, route2, z2
        t = route.shape[1:]
        return y.view(b, s, h), route.view(b, s, *t), z.view(b, s, *t)

    def encode(self, ids, attention_mask=None):
        """ids [B, S] long, attention_mask [B, S] 0/1 or None. Returns a dict:
        embedding [B,S,H], layers (list of [B,S,H], residual after each layer),
        routing / logits (lists per layer, FFF only: [B,S,n_trees,depth+1]),
        final [B,S,H] (after final_norm)."""
        a, w = self.arch, self.w
        mask_add = None
        if attention_mask is not None:
            mask_add = (1.0 - attention_mask.to(self.dtype)) * -10000.0
        h = self.embed(ids)
        out = {"embedding": h, "layers": [], "routing": [], "logits": []}
        for i in range(a.layers):
            p = f"encoder.layers.{i}."
            with self.timer("norms"):
                x = layer_norm(h, w[p + "norm1.weight"], w[p + "norm1.bias"], a.eps)
            h = h + self.attention(i, x, mask_add)
            with self.timer("norms"):
                x = layer_norm(h, w[p + "norm2.weight"], w[p + "norm2.bias"], a.eps)
            y, route, z = self.ffn(i, x)
            h = h + y
            out["layers"].append(h)
            if route is not None:
                out["routing"].append(route)
                out["logits"].append(z)
        with self.timer("norms"):
            out["final"] = layer_norm(h, w["encoder.final_norm.weight"], w["encoder.final_norm.bias"], a.eps)
        return out

    # -- heads -------------------------------------------------------------
    def mlm_logits(self, final):
        """final [..., H] -> [..., vocab] (tied decoder, no bias, no transform)."""
        with self.timer("head"):
            return final @ self.w["decoder.weight"].t()

    def classify(self, final):
        """final [B, S, H] -> [B, n_labels]. Pooling runs over all S positions."""
        a, w = self.arch, self.w
        with self.timer("head"):
            if a.pooler == "zero_index":
                x = final[:, 0]
            elif a.pooler == "avg":
                x = final.mean(dim=1)
            elif a.pooler == "max":
                x = final.max(dim=1).values
            elif a.pooler == "lse":
                x = final.logsumexp(dim=1)
            else:
                raise ValueError(f"pooler {a.pooler!r} not supported")
            if "pooler.dense.weight" in w:
                x = x @ w["pooler.dense.weight"].t() + w["pooler.dense.bias"]
            x = torch.tanh(x)
            return x @ w["head.weight"].t() + w["head.bias"]
