"""The fff torch ops from Python: torch.autograd.gradcheck in double, parity
of forward and every gradient with the masked-dense module the paper trains
with (written here in plain torch, differentiated by autograd), and the
python/fff_torch module wrapper. Usage: test_fff_ops.py LIBFFF_TORCH_SO"""
import sys
import unittest

import torch

import fff_torch


def masked_dense(x, w_in, b_in, w_out, n_trees):
    total = w_in.shape[0]
    n_nodes = total // n_trees
    depth = (n_nodes + 1).bit_length() - 2
    z = torch.addmm(b_in, x, w_in.t())
    with torch.no_grad():
        mask = torch.zeros_like(z)
        rows = torch.arange(x.shape[0])
        for t in range(n_trees):
            node = torch.zeros(x.shape[0], dtype=torch.long)
            for _ in range(depth + 1):
                g = node + t * n_nodes
                mask[rows, g] = 1.0
                node = 2 * node + 1 + (z[rows, g] > 0).long()
    return (torch.nn.functional.gelu(z) * mask) @ w_out.t()


def params(d_in, d_out, depth, n_trees, n_rows, seed, margin=1e-2):
    g = torch.Generator().manual_seed(seed)
    total = n_trees * (2 ** (depth + 1) - 1)
    w_in = torch.randn(total, d_in, generator=g, dtype=torch.double) / d_in ** 0.5
    b_in = torch.randn(total, generator=g, dtype=torch.double) * 0.5
    w_out = torch.randn(d_out, total, generator=g, dtype=torch.double)
    x = torch.randn(n_rows, d_in, generator=g, dtype=torch.double)
    for _ in range(1000):  # every logit clear of zero: no routing flips
        bad = ((torch.addmm(b_in, x, w_in.t())).abs() < margin).any(1)
        if not bad.any():
            break
        x[bad] = torch.randn(int(bad.sum()), d_in, generator=g,
                             dtype=torch.double)
    return x, w_in, b_in, w_out


SHAPES = [(4, 3, 0, 1), (5, 2, 2, 1), (3, 4, 2, 2), (6, 5, 3, 3)]


class OpsTest(unittest.TestCase):
    def test_gradcheck_double(self):
        for d_in, d_out, depth, n_trees in SHAPES:
            x, w_in, b_in, w_out = params(d_in, d_out, depth, n_trees, 5,
                                          depth)
            inputs = [t.requires_grad_(True) for t in (x, w_in, b_in, w_out)]
            self.assertTrue(torch.autograd.gradcheck(
                lambda *a: fff_torch.fff(*a, n_trees), inputs, eps=1e-6,
                atol=1e-7))

    def test_parity_with_masked_dense(self):
        for d_in, d_out, depth, n_trees in SHAPES + [(64, 48, 7, 2)]:
            for dtype, rtol in ((torch.double, 1e-12), (torch.float, 2e-5)):
                base = params(d_in, d_out, depth, n_trees, 40, 100 + depth)
                ref = [t.clone().requires_grad_(True) for t in base]
                got = [t.to(dtype).requires_grad_(True) for t in base]
                y_ref = masked_dense(*ref, n_trees)
                y = fff_torch.fff(*got, n_trees)
                dy = torch.randn_like(y_ref)
                (y_ref * dy).sum().backward()
                (y * dy.to(dtype)).sum().backward()
                pairs = [("y", y, y_ref)] + [
                    (n, g.grad, r.grad) for n, g, r in
                    zip(("dx", "dw_in", "db_in", "dw_out"), got, ref)]
                for name, a, b in pairs:
                    scale = b.abs().max().item()
                    self.assertGreater(scale, 0.0, name)
                    err = (a.double() - b.detach()).abs().max().item()
                    self.assertLessEqual(
                        err, rtol * scale,
                        f"{name} {dtype} depth {depth} trees {n_trees}")

    def test_module_wrapper(self):
        torch.manual_seed(0)
        layer = fff_torch.FFF(16, 12, depth=4, n_trees=2)
        names = {n: tuple(p.shape) for n, p in layer.named_parameters()}
        self.assertEqual(names, {"linear_in.weight": (62, 16),
                                 "linear_in.bias": (62,),
                                 "linear_out.weight": (12, 62)})
        self.assertTrue(layer.linear_out.weight.t().is_contiguous())
        x = torch.randn(2, 3, 16)
        before = layer.linear_in.weight.detach().clone()
        opt = torch.optim.SGD(layer.parameters(), lr=0.1)
        layer(x).pow(2).sum().backward()
        opt.step()
        changed = (layer.linear_in.weight != before).any(1).sum().item()
        self.assertGreater(changed, 0)
        self.assertLessEqual(changed, 6 * 2 * 5)  # rows x trees x levels

    def test_bad_arguments(self):
        x, w_in, b_in, w_out = params(8, 6, 2, 1, 4, 3)
        with self.assertRaisesRegex(RuntimeError, "expected last dimension 8"):
            fff_torch.fff(x[:, :7], w_in, b_in, w_out, 1)
        with self.assertRaisesRegex(RuntimeError, "n_trees: expected a divisor"):
            fff_torch.fff(x, w_in, b_in, w_out, 2)


if __name__ == "__main__":
    fff_torch.load(sys.argv[1])
    unittest.main(argv=sys.argv[:1])
