#!/usr/bin/env python3
"""Fits the polynomial coefficients of fff's vectorised exact-GELU.

GELU(z) = z * Phi(z). fff evaluates g = GELU(-t) for t = |z| and returns
GELU(z) = z + g for z > 0 (since z*Phi(z) = z - z*Phi(-z)) and g otherwise.
  t <= T1:  Phi(-t) = 0.5 - t * P(t^2)         (P: odd part of Phi)
  t >  T1:  Phi(-t) = phi(t) * M(t),  t*M(t) = Q(1/t^2)   (M: Mills ratio)
Both P and Q are least-squares fits on Chebyshev nodes refined by iterative
reweighting towards minimax, against mpmath at 50 digits. Prints the
coefficients (highest degree first, for Horner) and the error of a float32
simulation. Run with Debian's /usr/bin/python3 (numpy, mpmath); the output is
pasted into src/kernels/gelu-inl.h.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 50
T1 = 2.0
T_MAX = 12.0


def phi_neg(t):  # Phi(-t)
    return 0.5 * mp.erfc(t / mp.sqrt(2))


def fit(xs, ys, basis, weights_fn, n_iter=60):
    """Minimax-ish fit: least squares with Lawson-style reweighting."""
    a = np.array([[float(b) for b in basis(x)] for x in xs])
    y = np.array([float(v) for v in ys])
    w = np.ones(len(xs))
    scale = weights_fn(np.array([float(x) for x in xs]))
    for _ in range(n_iter):
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(a * (sw * scale)[:, None], y * sw * scale, rcond=None)
        err = np.abs((a @ c - y) * scale)
        w = w * (err / err.max() + 1e-12)
        w /= w.sum()
    return c, err.max()


def cheb(lo, hi, n):
    k = np.arange(n)
    return 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * (k + 0.5) / n)


def main():
    # P(s) with s = t^2 on [0, T1^2]: (0.5 - Phi(-t)) / t. Absolute error of
    # GELU is t * t * |dP|, so weight by t^2.
    deg_p = 9
    ts = cheb(1e-6, T1, 400)
    xs = [mp.mpf(t) ** 2 for t in ts]
    ys = [(0.5 - phi_neg(mp.mpf(t))) / mp.mpf(t) for t in ts]
    cp, ep = fit(xs, ys, lambda s: [s ** k for k in range(deg_p + 1)],
                 lambda s: s)  # weight t^2 = s
    # Q(u) with u = 1/t^2 on [1/T_MAX^2, 1/T1^2]: t * Phi(-t) / phi(t).
    # GELU(-t) = -t*phi(t)*Q/t = -phi(t) Q: relative error of Q carries over.
    deg_q = 11
    ts2 = cheb(T1, T_MAX, 400)
    us = [1 / mp.mpf(t) ** 2 for t in ts2]
    qs = [mp.mpf(t) * phi_neg(mp.mpf(t)) / mp.npdf(mp.mpf(t)) for t in ts2]
    cq, eq = fit(us, qs, lambda u: [u ** k for k in range(deg_q + 1)],
                 lambda u: np.ones_like(u) / 1.0)
    print(f"T1 = {T1}; P degree {deg_p}: weighted max err {ep:.3e}; "
          f"Q degree {deg_q}: max err {eq:.3e}")
    print("P (highest first):", ", ".join(f"{v:.9e}f" for v in cp[::-1]))
    print("Q (highest first):", ", ".join(f"{v:.9e}f" for v in cq[::-1]))

    # float32 simulation of the kernel's formula.
    f = np.float32
    cpf = cp.astype(np.float32)[::-1]
    cqf = cq.astype(np.float32)[::-1]
    z = np.linspace(-10, 10, 400001).astype(np.float32)
    t = np.abs(z)
    s = t * t
    p = np.zeros_like(s)
    for c in cpf:
        p = p * s + c
    g_small = -t * (f(0.5) - t * p)
    u = f(1) / s
    q = np.zeros_like(u)
    for c in cqf:
        q = q * u + c
    g_big = -(np.exp(-f(0.5) * s) * f(0.3989422804014327)) * q
    g = np.where(t <= f(T1), g_small, g_big).astype(np.float32)
    gelu = np.where(z > 0, z + g, g).astype(np.float32)
    ref = np.array([float(0.5 * mp.mpf(float(v)) * (1 + mp.erf(mp.mpf(float(v)) / mp.sqrt(2))))
                    for v in z[::40]])
    err = np.abs(gelu[::40].astype(np.float64) - ref)
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    print(f"float32 sim: max abs err {err.max():.3e} at z={z[::40][err.argmax()]:.4f}; "
          f"max (err - ulp/2) {np.max(err - 0.5 * ulp):.3e}")


if __name__ == "__main__":
    main()
