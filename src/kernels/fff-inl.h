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
    const V sum = hn::Add(hn::Add(acc[r][0], acc[r][1]),
                          hn::Add(acc[r][2], acc[r][3]));
    out[r] = hn::GetLane(hn::SumOfLanes(d, sum));
  }
}

// y[0..d_out) = sum over k < n_vis of acts[k] * w_out[nodes[k]][0..d_out).
// Per-element order: k ascending, starting from zero, one MulAdd per term
// (fused where the target has FMA; the columns of a final partial vector use
// std::fma). Overwrites y.
template <class D>
HWY_INLINE void AccumulateOutputRow(D d, const float* HWY_RESTRICT w_out,
                                    size_t d_out,
                                    const int32_t* HWY_RESTRICT nodes,
                                    const float* HWY_RESTRICT acts,
                                    size_t n_vis, float* HWY_RESTRICT y) {
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
  size_t c = 0;
  for (; c + 4 * N <= d_out; c += 4 * N) {
    V a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
    for (size_t k = 0; k < n_vis; ++k) {
      const float* HWY_RESTRICT w =
          w_out + static_cast<size_t>(nodes[k]) * d_out + c;
      const V a = hn::Set(d, acts[k]);
      a0 = hn::MulAdd(a, hn::LoadU(d, w), a0);
      a1 = hn::MulAdd(a, hn::LoadU(d, w + N), a1);
      a2 = hn::MulAdd(a, hn::LoadU(d, w + 2 * N), a2);
      a3 = hn::MulAdd(a, hn::LoadU(d, w + 3 * N), a3);
    }
    hn::StoreU(a0, d, y + c);
    hn::StoreU(a1, d, y + c + N);
    hn::StoreU(a2, d, y + c + 2 * N);
    hn::StoreU(a3, d, y + c + 3 * N);
  }
  for (; c + N <= d_out; c += N) {
    V a0 = hn::Zero(d);
    for (size_t k = 0; k < n_vis; ++k) {
      const float* HWY_RESTRICT w =
          w_out + static_cast<size_t>(nodes[k]) * d_out + c;
      a0 = hn::MulAdd(hn::Set(d, acts[k]), hn::LoadU(d, w), a0);
    }
    hn::StoreU(a0, d, y + c);
  }
  for (; c < d_out; ++c) {
    float acc = 0.0f;
    for (size_t k = 0; k < n_vis; ++k) {
      acc = std::fma(acts[k], w_out[static_cast<size_t>(nodes[k]) * d_out + c],
                     acc);
    }
    y[c] = acc;
  }
}

}  // namespace fff::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
