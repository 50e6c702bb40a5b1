"""fff's conditional FFF layer for PyTorch training.

Load the operator library built by CMake (build/release/src/torch/
libfff_torch.so), then use `FFF` like UltraFastBERT's training module:

    import fff_torch
    fff_torch.load("build/release/src/torch/libfff_torch.so")
    layer = fff_torch.FFF(768, 768, depth=11, n_trees=1)
    y = layer(x)            # forward and backward touch only visited nodes

The operator itself is torch.ops.fff.fff(x, w_in, b_in, w_out, n_trees); its
semantics, shapes and gradients are documented in src/torch/fff_torch.h and
include/fff/fff.h. Parameter names and shapes are those of the published
checkpoint (linear_in.weight, linear_in.bias, linear_out.weight).
"""
import os

import torch

_loaded = False


def load(path=None):
    """Loads libfff_torch.so (path, else $FFF_TORCH_LIBRARY) once."""
    global _loaded
    if _loaded:
        return
    path = path or os.environ.get("FFF_TORCH_LIBRARY")
    if not path:
        raise RuntimeError(
            "fff_torch.load: give the path of libfff_torch.so or set "
            "FFF_TORCH_LIBRARY")
    torch.ops.load_library(path)
    _loaded = True


def fff(x, w_in, b_in, w_out, n_trees=1):
    """y = FFF(x); differentiable in x and the three weights."""
    return torch.ops.fff.fff(x, w_in, b_in, w_out, n_trees)


class FFF(torch.nn.Module):
    """UltraFastBERT's FFF feedforward with conditional forward/backward.

    linear_out.weight [d_out, n_trees*n_nodes] is stored node-major (its
    transpose is contiguous) so the operator reads it without a copy.
    Initialised as crammedBERT does: weights N(0, init_std), bias zero.
    """

    def __init__(self, d_in, d_out, depth, n_trees=1, init_std=0.02):
        super().__init__()
        if not 0 <= depth <= 29:
            raise ValueError(f"FFF: depth: expected 0..29, got {depth}")
        if n_trees < 1:
            raise ValueError(f"FFF: n_trees: expected >= 1, got {n_trees}")
        self.depth, self.n_trees = depth, n_trees
        total = n_trees * (2 ** (depth + 1) - 1)
        self.linear_in = torch.nn.Linear(d_in, total)
        self.linear_out = torch.nn.Linear(total, d_out, bias=False)
        with torch.no_grad():
            self.linear_out.weight = torch.nn.Parameter(
                torch.empty(total, d_out).t())
            self.linear_in.weight.normal_(0.0, init_std)
            self.linear_in.bias.zero_()
            self.linear_out.weight.normal_(0.0, init_std)

    def forward(self, x):
        return fff(x, self.linear_in.weight, self.linear_in.bias,
                   self.linear_out.weight, self.n_trees)
