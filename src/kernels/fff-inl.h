// SIMD building blocks shared by every FFF strategy (fff_cpu.cc), compiled
// once per Highway target.
//
// Determinism: a row's logit and output depend only on the row and the
// weights, never on which strategy, group or thread computed it, because all
// strategies call these functions and each keeps a fixed per-row operation
// order (documented at each function). Results therefore differ between SIMD
// targets (other vector widths sum in another order) but never within one.

// Per-target include guard.
#if defined(FFF_SRC_KERNELS_FFF_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef FFF_SRC_KERNELS_FFF_INL_H_
#undef FFF_SRC_KERNELS_FFF_INL_H_
#else
#define FFF_SRC_KERNELS_FFF_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace fff::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Floats in the widest vector of any target; sizes stack tail buffers.
inline constexpr size_t kMaxLanesF32 = HWY_MAX_BYTES / sizeof(float);

// out[r] = dot(xs[r][0..n), ws[r][0..n)) for r < R.
// Per-row order (the same for every R and for shared or distinct ws):
// four vector accumulators take consecutive vectors round-robin over whole
// blocks of 4 vectors; the 1..3 remaining whole vectors go to accumulators
// 0, 1, 2; a zero-padded partial vector goes to accumulator 3; then
// (a0 + a1) + (a2 + a3) is reduced across lanes by SumOfLanes.
// kSharedW: all ws[r] are the same row, loaded once per vector.
template <size_t R, bool kSharedW, class D>
HWY_INLINE void DotRows(D d, const float* const* HWY_RESTRICT xs,
                        const float* const* HWY_RESTRICT ws, size_t n,
                        float* HWY_RESTRICT out) {
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
  V acc[R][4];
  for (size_t r = 0; r < R; ++r) {
    for (size_t j = 0; j < 4; ++j) acc[r][j] = hn::Zero(d);
  }
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    for (size_t j = 0; j < 4; ++j) {
      if constexpr (kSharedW) {
        const V w = hn::LoadU(d, ws[0] + i + j * N);
        for (size_t r = 0; r < R; ++r) {
          acc[r][j] = hn::MulAdd(hn::LoadU(d, xs[r] + i + j * N), w, acc[r][j]);
        }
      } else {
        for (size_t r = 0; r < R; ++r) {
          acc[r][j] = hn::MulAdd(hn::LoadU(d, xs[r] + i + j * N),
                                 hn::LoadU(d, ws[r] + i + j * N), acc[r][j]);
        }
      }
    }
  }
  for (size_t j = 0; i + N <= n; i += N, ++j) {  // j <= 2
    for (size_t r = 0; r < R; ++r) {
      acc[r][j] = hn::MulAdd(hn::LoadU(d, xs[r] + i),
                             hn::LoadU(d, ws[kSharedW ? 0 : r] + i), acc[r][j]);
    }
  }
  if (i < n) {  // partial vector: zero-padded copies, never reads past n
    const size_t rem = n - i;
    HWY_ALIGN float xt[kMaxLanesF32] = {};
    HWY_ALIGN float wt[kMaxLanesF32] = {};
    for (size_t r = 0; r < R; ++r) {
      std::memcpy(xt, xs[r] + i, rem * sizeof(float));
      std::memcpy(wt, ws[kSharedW ? 0 : r] + i, rem * sizeof(float));
      acc[r][3] = hn::MulAdd(hn::Load(d, xt), hn::Load(d, wt), acc[r][3]);
    }
  }
  for (size_t r = 0; r < R; ++r) {
    const V sum =
        hn::Add(hn::Add(acc[r][0], acc[r][1]), hn::Add(acc[r][2], acc[r][3]));
    out[r] = hn::GetLane(hn::SumOfLanes(d, sum));
  }
}

// One step of DotTile: acc[r][c] += x[r][at..] * w[c][at..] for one vector.
// (The unroll pragmas keep acc in registers: GCC 12 does not fully unroll
// these nests by itself and then keeps the accumulators on the stack.)
template <size_t R, size_t C, class D, class V = hn::Vec<D>>
HWY_INLINE void DotTileStep(D d, const float* const* HWY_RESTRICT x,
                            const float* const* HWY_RESTRICT w, size_t at,
                            V (&acc)[R][C]) {
  V xv[R];
#pragma GCC unroll 16
  for (size_t r = 0; r < R; ++r) {
    xv[r] = hn::LoadU(d, x[r] + at);
  }
#pragma GCC unroll 16
  for (size_t c = 0; c < C; ++c) {
    const V wv = hn::LoadU(d, w[c] + at);
#pragma GCC unroll 16
    for (size_t r = 0; r < R; ++r) {
      acc[r][c] = hn::MulAdd(xv[r], wv, acc[r][c]);
    }
  }
}

// Accumulator j (DotRows' order) of every product of DotTile: vectors
// 4b + j for ascending b, then remainder vector j, then for j == 3 the
// zero-padded partial vector (xt, wt). j == 0 and 2 store the accumulators
// to a01 / a2, j == 1 adds them to a01, j == 3 finishes:
// out = SumOfLanes(a01 + (a2 + a3)).
template <size_t R, size_t C, class D>
HWY_INLINE void DotTilePhase(D d, const float* const* HWY_RESTRICT xs,
                             const float* const* HWY_RESTRICT ws, size_t tail,
                             size_t n_rem, bool partial, const float* const* xt,
                             const float* const* wt, size_t j,
                             float* HWY_RESTRICT a01, float* HWY_RESTRICT a2,
                             float* HWY_RESTRICT out) {
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
  V acc[R][C];
#pragma GCC unroll 16
  for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 16
    for (size_t c = 0; c < C; ++c) acc[r][c] = hn::Zero(d);
  }
  for (size_t i = j * N; i < tail; i += 4 * N) {
    DotTileStep<R, C>(d, xs, ws, i, acc);
  }
  if (j < n_rem) DotTileStep<R, C>(d, xs, ws, tail + j * N, acc);
  if (j == 3 && partial) DotTileStep<R, C>(d, xt, wt, 0, acc);
#pragma GCC unroll 16
  for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 16
    for (size_t c = 0; c < C; ++c) {
      float* p01 = a01 + (r * C + c) * N;
      float* p2 = a2 + (r * C + c) * N;
      if (j == 0) {
        hn::Store(acc[r][c], d, p01);
      } else if (j == 1) {
        hn::Store(hn::Add(hn::Load(d, p01), acc[r][c]), d, p01);
      } else if (j == 2) {
        hn::Store(acc[r][c], d, p2);
      } else {
        const V sum =
            hn::Add(hn::Load(d, p01), hn::Add(hn::Load(d, p2), acc[r][c]));
        out[r * C + c] = hn::GetLane(hn::SumOfLanes(d, sum));
      }
    }
  }
}

// out[r * C + c] = dot(xs[r][0..n), ws[c][0..n)) for r < R, c < C: every
// row against every weight row, each x and w vector loaded once per step for
// all the products using it (R x C accumulators in registers). Each product
// follows DotRows' per-row order exactly (its four accumulators are
// computed one after another here, then (a0 + a1) + (a2 + a3) is reduced by
// SumOfLanes), so its bits equal DotRows' for the same row and weight row.
template <size_t R, size_t C, class D>
HWY_INLINE void DotTile(D d, const float* const* HWY_RESTRICT xs,
                        const float* const* HWY_RESTRICT ws, size_t n,
                        float* HWY_RESTRICT out) {
  const size_t N = hn::Lanes(d);
  const size_t tail = n / (4 * N) * (4 * N);
  const size_t n_rem = (n - tail) / N;  // whole vectors after the blocks: 0..3
  const size_t part = n - tail - n_rem * N;  // floats of the partial vector
  HWY_ALIGN float xbuf[R][kMaxLanesF32];
  HWY_ALIGN float wbuf[C][kMaxLanesF32];
  const float* xt[R];
  const float* wt[C];
  for (size_t r = 0; r < R; ++r) xt[r] = xbuf[r];
  for (size_t c = 0; c < C; ++c) wt[c] = wbuf[c];
  if (part != 0) {
    const size_t at = tail + n_rem * N;
    for (size_t r = 0; r < R; ++r) {
      std::fill(xbuf[r], xbuf[r] + kMaxLanesF32, 0.0f);
      std::memcpy(xbuf[r], xs[r] + at, part * sizeof(float));
    }
    for (size_t c = 0; c < C; ++c) {
      std::fill(wbuf[c], wbuf[c] + kMaxLanesF32, 0.0f);
      std::memcpy(wbuf[c], ws[c] + at, part * sizeof(float));
    }
  }
  // a0 + a1 and a2 of every product, spilled while the others are computed.
  HWY_ALIGN float a01[R * C * kMaxLanesF32];
  HWY_ALIGN float a2[R * C * kMaxLanesF32];
  const bool partial = part != 0;
  DotTilePhase<R, C>(d, xs, ws, tail, n_rem, partial, xt, wt, 0, a01, a2, out);
  DotTilePhase<R, C>(d, xs, ws, tail, n_rem, partial, xt, wt, 1, a01, a2, out);
  DotTilePhase<R, C>(d, xs, ws, tail, n_rem, partial, xt, wt, 2, a01, a2, out);
  DotTilePhase<R, C>(d, xs, ws, tail, n_rem, partial, xt, wt, 3, a01, a2, out);
}

// Columns [c, c + C*N) of the R rows for visits [k0, k1): each element starts
// from zero (k0 == 0) or from its partial sum in y, then takes one MulAdd per
// visit in ascending order. shared[k - k0]: every row visits the same node at
// visit k, so its w_out vectors are loaded once for all R rows. kStream:
// store the results with streaming stores (y[r] + c aligned).
template <size_t R, size_t C, bool kStream, class D>
HWY_INLINE void OutputColumns(D d, const float* HWY_RESTRICT w_out,
                              size_t w_stride,
                              const int32_t* const* HWY_RESTRICT nodes,
                              const float* const* HWY_RESTRICT acts, size_t k0,
                              size_t k1, const bool* shared, size_t c,
                              float* const* y) {
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
  V acc[R][C];
  for (size_t r = 0; r < R; ++r) {
    for (size_t j = 0; j < C; ++j) {
      acc[r][j] = k0 == 0 ? hn::Zero(d) : hn::LoadU(d, y[r] + c + j * N);
    }
  }
  for (size_t k = k0; k < k1; ++k) {
    if (shared[k - k0]) {
      const float* HWY_RESTRICT w =
          w_out + static_cast<size_t>(nodes[0][k]) * w_stride + c;
      V a[R];
      for (size_t r = 0; r < R; ++r) a[r] = hn::Set(d, acts[r][k]);
      for (size_t j = 0; j < C; ++j) {
        const V wj = hn::LoadU(d, w + j * N);
        for (size_t r = 0; r < R; ++r) {
          acc[r][j] = hn::MulAdd(a[r], wj, acc[r][j]);
        }
      }
    } else {
      for (size_t r = 0; r < R; ++r) {
        const float* HWY_RESTRICT w =
            w_out + static_cast<size_t>(nodes[r][k]) * w_stride + c;
        const V a = hn::Set(d, acts[r][k]);
        for (size_t j = 0; j < C; ++j) {
          acc[r][j] = hn::MulAdd(a, hn::LoadU(d, w + j * N), acc[r][j]);
        }
      }
    }
  }
  for (size_t r = 0; r < R; ++r) {
    for (size_t j = 0; j < C; ++j) {
      if constexpr (kStream) {
        hn::Stream(acc[r][j], d, y[r] + c + j * N);
      } else {
        hn::StoreU(acc[r][j], d, y[r] + c + j * N);
      }
    }
  }
}

// OutputColumns over the whole vectors of the rows, columns [0, vec_end):
// blocks of kWide vectors, then single vectors.
template <size_t R, size_t kWide, bool kStream, class D>
HWY_INLINE void OutputVectors(D d, const float* HWY_RESTRICT w_out,
                              size_t w_stride,
                              const int32_t* const* HWY_RESTRICT nodes,
                              const float* const* HWY_RESTRICT acts, size_t k0,
                              size_t k1, const bool* shared, size_t vec_end,
                              float* const* y) {
  const size_t N = hn::Lanes(d);
  size_t c = 0;
  for (; c + kWide * N <= vec_end; c += kWide * N) {
    OutputColumns<R, kWide, kStream>(d, w_out, w_stride, nodes, acts, k0, k1,
                                     shared, c, y);
  }
  for (; c < vec_end; c += N) {
    OutputColumns<R, 1, kStream>(d, w_out, w_stride, nodes, acts, k0, k1,
                                 shared, c, y);
  }
}

// Visits per output pass: each pass flags which of its visits all R rows
// share, then continues from the partial sums the previous pass left in y.
inline constexpr size_t kOutputPassVisits = 64;

// One pass of AccumulateOutputRows: visits [k0, k1) (k1 - k0 <=
// kOutputPassVisits) of the R rows, starting from zero (k0 == 0) or from the
// partial sums in y; kStream: this is the last pass and its whole vectors go
// to y with streaming stores.
template <size_t R, bool kStream, class D>
HWY_INLINE void AccumulateOutputPass(D d, const float* HWY_RESTRICT w_out,
                                     size_t w_stride, size_t d_out,
                                     const int32_t* const* HWY_RESTRICT nodes,
                                     const float* const* HWY_RESTRICT acts,
                                     size_t k0, size_t k1, float* const* y) {
  const size_t N = hn::Lanes(d);
  // Vectors per column block: enough independent FMA chains to hide the FMA
  // latency, while R*kWide accumulators + R broadcasts + 1 weight vector fit
  // the register file (32 vectors on AVX-512, where R = 4; 16 elsewhere,
  // where R <= 2). Wider blocks also read each w_out row in longer runs
  // (6 vectors = 384 bytes on AVX-512): measured 2-5 % faster than 2-vector
  // blocks at 16 to 2048 rows (docs/benchmarks.md).
  constexpr size_t kWide = R == 1 ? 4 : (HWY_MAX_BYTES >= 64 ? 6 : 4);
  const size_t vec_end = d_out / N * N;
  bool shared[kOutputPassVisits];
  for (size_t k = k0; k < k1; ++k) {
    bool same = true;
    for (size_t r = 1; r < R; ++r) same &= nodes[r][k] == nodes[0][k];
    shared[k - k0] = same;
  }
  OutputVectors<R, kWide, kStream>(d, w_out, w_stride, nodes, acts, k0, k1,
                                   shared, vec_end, y);
  for (size_t c = vec_end; c < d_out; ++c) {
    for (size_t r = 0; r < R; ++r) {
      float acc = k0 == 0 ? 0.0f : y[r][c];
      for (size_t k = k0; k < k1; ++k) {
        acc = std::fma(acts[r][k],
                       w_out[static_cast<size_t>(nodes[r][k]) * w_stride + c],
                       acc);
      }
      y[r][c] = acc;
    }
  }
}

// For r < R: y[r][c] = sum over k < n_vis of acts[r][k] * w_out[nodes[r][k]][c]
// for all d_out columns (overwriting y[r]); w_out's rows are w_stride floats
// apart. Per-element order: k ascending,
// starting from zero, one MulAdd per term (fused where the target has FMA);
// columns past the last whole vector of the row use std::fma. The result of
// a row therefore does not depend on R, on how columns are blocked, on how
// visits are cut into passes or on the other rows: R only lets rows that
// visit the same node at visit k (grouped rows share their upper levels)
// load that w_out row once for all of them.
// kStream: the whole vectors of the final pass go to y with streaming
// (non-temporal) stores, which need every y[r] aligned to the vector size;
// the values are the same, and the caller drains the stores (FlushStream).
template <size_t R, bool kStream = false, class D>
HWY_INLINE void AccumulateOutputRows(D d, const float* HWY_RESTRICT w_out,
                                     size_t w_stride, size_t d_out,
                                     const int32_t* const* HWY_RESTRICT nodes,
                                     const float* const* HWY_RESTRICT acts,
                                     size_t n_vis, float* const* y) {
  for (size_t k0 = 0; k0 < n_vis; k0 += kOutputPassVisits) {
    const size_t k1 = std::min(n_vis, k0 + kOutputPassVisits);
    if (kStream && k1 == n_vis) {
      AccumulateOutputPass<R, true>(d, w_out, w_stride, d_out, nodes, acts, k0,
                                    k1, y);
    } else {
      AccumulateOutputPass<R, false>(d, w_out, w_stride, d_out, nodes, acts, k0,
                                     k1, y);
    }
  }
}

}  // namespace fff::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
