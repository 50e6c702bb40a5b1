// Encoder kernels for every Highway target (compiled once per target through
// foreach_target.h): the attention core, vectorised over keys for the scores
// and over the head dimension for the context.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "src/kernels/encoder_kernels.h"
#include "src/kernels/encoder_ops.h"
#include "src/kernels/target_tables.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/encoder_cpu.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace fff::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;

// Register blocking: NQ queries (<= kMaxQ) share every key/value vector loaded,
// so a vector from L1/L2 feeds NQ fused multiply-adds. Per output lane the
// sum runs in one chain in a fixed order (over head dimensions for scores,
// over keys for the context), the same for every NQ, NB, NC and n: results
// depend only on the sequence itself.

// acc[qi][b] = q_qi . k for the keys of blocks b < NB starting at `col`.
template <int NQ, int NB, class D, class V = hn::Vec<D>>
HWY_INLINE void ScoreTile(D d, const float* const* HWY_RESTRICT q,
                          const float* HWY_RESTRICT col, int64_t n_pad,
                          int64_t d_head, V (*acc)[2]) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  for (int qi = 0; qi < NQ; ++qi) {
    for (int b = 0; b < NB; ++b) acc[qi][b] = hn::Zero(d);
  }
  for (int64_t c = 0; c < d_head; ++c) {
    const float* row = col + c * n_pad;
    V k[NB];
    for (int b = 0; b < NB; ++b) k[b] = hn::LoadU(d, row + b * N);
    for (int qi = 0; qi < NQ; ++qi) {
      const V qv = hn::Set(d, q[qi][c]);
      for (int b = 0; b < NB; ++b) acc[qi][b] = hn::MulAdd(qv, k[b], acc[qi][b]);
    }
  }
}

// out_qi[k*N ...] = inv_qi * sum_j p_qi[j] v_j for column vectors k < NC.
template <int NQ, int NC, class D, class V = hn::Vec<D>>
HWY_INLINE void ContextTile(D d, const float* HWY_RESTRICT p, int64_t p_stride,
                            const float* HWY_RESTRICT v, int64_t v_stride,
                            int64_t n, const V* inv, float* const* out) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  V acc[NQ][NC];
  for (int qi = 0; qi < NQ; ++qi) {
    for (int k = 0; k < NC; ++k) acc[qi][k] = hn::Zero(d);
  }
  for (int64_t j = 0; j < n; ++j) {
    const float* vj = v + j * v_stride;
    V x[NC];
    for (int k = 0; k < NC; ++k) x[k] = hn::LoadU(d, vj + k * N);
    for (int qi = 0; qi < NQ; ++qi) {
      const V pv = hn::Set(d, p[qi * p_stride + j]);
      for (int k = 0; k < NC; ++k) acc[qi][k] = hn::MulAdd(pv, x[k], acc[qi][k]);
    }
  }
  for (int qi = 0; qi < NQ; ++qi) {
    for (int k = 0; k < NC; ++k) {
      hn::StoreU(hn::Mul(acc[qi][k], inv[qi]), d, out[qi] + k * N);
    }
  }
}

template <int NQ, class D, class V = hn::Vec<D>>
HWY_INLINE void ScoreDispatch(D d, int nb, const float* const* q,
                              const float* col, int64_t n_pad, int64_t d_head,
                              V (*acc)[2]) {
  if (nb == 2) {
    ScoreTile<NQ, 2>(d, q, col, n_pad, d_head, acc);
  } else {
    ScoreTile<NQ, 1>(d, q, col, n_pad, d_head, acc);
  }
}

template <int NQ, class D, class V = hn::Vec<D>>
HWY_INLINE void ContextDispatch(D d, int nc, const float* p, int64_t p_stride,
                                const float* v, int64_t v_stride, int64_t n,
                                const V* inv, float* const* out) {
  if (nc == 2) {
    ContextTile<NQ, 2>(d, p, p_stride, v, v_stride, n, inv, out);
  } else {
    ContextTile<NQ, 1>(d, p, p_stride, v, v_stride, n, inv, out);
  }
}

// Scratch layout: kt [d_head][n_pad] (keys transposed, zero padded), then
// scores [kMaxQ][n_pad].
// Queries per register tile: 8 with 32 vector registers (16 accumulators),
// 4 with 16. Sharing each loaded key/value vector among more queries halves
// the L1/L2 traffic per multiply-add, which bounds this kernel.
constexpr int kMaxQ = HWY_MAX_BYTES >= 64 ? 8 : 4;

void AttentionHead(const float* qkv, float* ctx, int64_t n, int64_t head,
                   int64_t n_heads, int64_t d_head, float scale,
                   float* scratch) {
  const DF d;
  using V = hn::Vec<DF>;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  if (d_head % N != 0) {  // narrow heads: the plain version
    AttentionCore(qkv, ctx, n, head, head + 1, n_heads, d_head, scale, scratch);
    return;
  }
  const int64_t d_model = n_heads * d_head;
  const int64_t stride = 3 * d_model;
  const int64_t q_off = head * 3 * d_head;
  const int64_t k_off = q_off + d_head;
  const int64_t v_off = q_off + 2 * d_head;
  const int64_t n_pad = (n + N - 1) / N * N;
  float* kt = scratch;
  float* scores = scratch + d_head * n_pad;  // 4 rows of n_pad

  // Keys transposed, a vector of N tokens at a time (one gather per head
  // dimension): element by element this took 13 % of the kernel.
  {
    const hn::RebindToSigned<DF> di;
    for (int64_t j0 = 0; j0 < n_pad; j0 += N) {
      const auto valid = hn::FirstN(d, static_cast<size_t>(n - j0));
      const auto idx = hn::IfThenElseZero(
          hn::RebindMask(di, valid),
          hn::Mul(hn::Iota(di, static_cast<int32_t>(j0)),
                  hn::Set(di, static_cast<int32_t>(stride))));
      const float* key = qkv + k_off;
      for (int64_t c = 0; c < d_head; ++c) {
        hn::StoreU(hn::IfThenElseZero(valid, hn::GatherIndex(d, key + c, idx)),
                   d, kt + c * n_pad + j0);
      }
    }
  }
  const V neg_inf = hn::Set(d, -std::numeric_limits<float>::infinity());
  const V vscale = hn::Set(d, scale);
  const int64_t n_blocks = n_pad / N;
  for (int64_t i0 = 0; i0 < n; i0 += kMaxQ) {
    const int nq = static_cast<int>(std::min<int64_t>(kMaxQ, n - i0));
    const float* q[kMaxQ];
    float* out[kMaxQ];
    for (int qi = 0; qi < kMaxQ; ++qi) {
      const int64_t i = i0 + std::min(qi, nq - 1);
      q[qi] = qkv + i * stride + q_off;
      out[qi] = ctx + i * d_model + head * d_head;
    }
    V vmax[kMaxQ];
    for (V& m : vmax) m = neg_inf;
    for (int64_t b0 = 0; b0 < n_blocks; b0 += 2) {
      const int nb = static_cast<int>(std::min<int64_t>(2, n_blocks - b0));
      V acc[kMaxQ][2];
      const float* col = kt + b0 * N;
      switch (nq) {
        case 8: ScoreDispatch<8>(d, nb, q, col, n_pad, d_head, acc); break;
        case 7: ScoreDispatch<7>(d, nb, q, col, n_pad, d_head, acc); break;
        case 6: ScoreDispatch<6>(d, nb, q, col, n_pad, d_head, acc); break;
        case 5: ScoreDispatch<5>(d, nb, q, col, n_pad, d_head, acc); break;
        case 4: ScoreDispatch<4>(d, nb, q, col, n_pad, d_head, acc); break;
        case 3: ScoreDispatch<3>(d, nb, q, col, n_pad, d_head, acc); break;
        case 2: ScoreDispatch<2>(d, nb, q, col, n_pad, d_head, acc); break;
        default: ScoreDispatch<1>(d, nb, q, col, n_pad, d_head, acc); break;
      }
      for (int qi = 0; qi < nq; ++qi) {
        for (int b = 0; b < nb; ++b) {
          const int64_t blk = b0 + b;
          V sc = hn::Mul(acc[qi][b], vscale);
          if ((blk + 1) * N > n) {  // padded keys never win and weigh nothing
            sc = hn::IfThenElse(
                hn::FirstN(d, static_cast<size_t>(n - blk * N)), sc, neg_inf);
          }
          hn::StoreU(sc, d, scores + qi * n_pad + blk * N);
          vmax[qi] = hn::Max(vmax[qi], sc);
        }
      }
    }
    V inv[kMaxQ];
    for (int qi = 0; qi < nq; ++qi) {
      const V m = hn::Set(d, hn::GetLane(hn::MaxOfLanes(d, vmax[qi])));
      V vsum = hn::Zero(d);
      float* row = scores + qi * n_pad;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const V e = hn::Exp(d, hn::Sub(hn::LoadU(d, row + b * N), m));
        hn::StoreU(e, d, row + b * N);
        vsum = hn::Add(vsum, e);
      }
      inv[qi] = hn::Set(d, 1.0f / hn::GetLane(hn::SumOfLanes(d, vsum)));
    }
    for (int64_t c0 = 0; c0 < d_head; c0 += 2 * N) {
      const int nc = static_cast<int>(std::min<int64_t>(2, (d_head - c0) / N));
      const float* v = qkv + v_off + c0;
      float* o[kMaxQ];
      for (int qi = 0; qi < kMaxQ; ++qi) o[qi] = out[qi] + c0;
      switch (nq) {
        case 8: ContextDispatch<8>(d, nc, scores, n_pad, v, stride, n, inv, o); break;
        case 7: ContextDispatch<7>(d, nc, scores, n_pad, v, stride, n, inv, o); break;
        case 6: ContextDispatch<6>(d, nc, scores, n_pad, v, stride, n, inv, o); break;
        case 5: ContextDispatch<5>(d, nc, scores, n_pad, v, stride, n, inv, o); break;
        case 4: ContextDispatch<4>(d, nc, scores, n_pad, v, stride, n, inv, o); break;
        case 3: ContextDispatch<3>(d, nc, scores, n_pad, v, stride, n, inv, o); break;
        case 2: ContextDispatch<2>(d, nc, scores, n_pad, v, stride, n, inv, o); break;
        default: ContextDispatch<1>(d, nc, scores, n_pad, v, stride, n, inv, o); break;
      }
    }
  }
}

// LayerNorm rows with the statistics and the normalisation in double (as
// the plain LayerNormRows): lanes of 8 (AVX-512) doubles, the row's tail in
// scalar; z rounded to float once, then z * gamma (+ beta) in float.
void LayerNormRowsSimd(const float* x, float* y, int64_t n_rows, int64_t d,
                       const float* gamma, const float* beta, float eps) {
  using DD = hn::ScalableTag<double>;
  const DD dd;
  const hn::Rebind<float, DD> dfh;
  const int64_t N = static_cast<int64_t>(hn::Lanes(dd));
  const int64_t d_vec = d / N * N;
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    auto vsum = hn::Zero(dd);
    for (int64_t i = 0; i < d_vec; i += N) {
      vsum = hn::Add(vsum, hn::PromoteTo(dd, hn::LoadU(dfh, xr + i)));
    }
    double sum = hn::GetLane(hn::SumOfLanes(dd, vsum));
    for (int64_t i = d_vec; i < d; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(d);
    const auto vmean = hn::Set(dd, mean);
    auto vsq = hn::Zero(dd);
    for (int64_t i = 0; i < d_vec; i += N) {
      const auto c = hn::Sub(hn::PromoteTo(dd, hn::LoadU(dfh, xr + i)), vmean);
      vsq = hn::MulAdd(c, c, vsq);
    }
    double sq = hn::GetLane(hn::SumOfLanes(dd, vsq));
    for (int64_t i = d_vec; i < d; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
    const double inv = 1.0 / std::sqrt(sq / static_cast<double>(d) + eps);
    const auto vinv = hn::Set(dd, inv);
    for (int64_t i = 0; i < d_vec; i += N) {
      const auto c = hn::Sub(hn::PromoteTo(dd, hn::LoadU(dfh, xr + i)), vmean);
      const auto z = hn::DemoteTo(dfh, hn::Mul(c, vinv));
      auto out = hn::Mul(z, hn::LoadU(dfh, gamma + i));
      if (beta != nullptr) out = hn::Add(out, hn::LoadU(dfh, beta + i));
      hn::StoreU(out, dfh, yr + i);
    }
    for (int64_t i = d_vec; i < d; ++i) {
      const float z = static_cast<float>((xr[i] - mean) * inv);
      yr[i] = beta != nullptr ? z * gamma[i] + beta[i] : z * gamma[i];
    }
  }
}

const EncoderKernelTable* GetEncoderKernelTable() {
  static const EncoderKernelTable table = {
      HWY_TARGET, hwy::TargetName(HWY_TARGET), &AttentionHead,
      &LayerNormRowsSimd};
  return &table;
}

}  // namespace fff::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fff::kernels {

HWY_EXPORT(GetEncoderKernelTable);

int64_t AttentionScratchFloats(int64_t n_tokens, int64_t d_head) {
  const int64_t n_pad = (n_tokens + 15) / 16 * 16;  // widest target: 16 lanes
  return (d_head + 8) * n_pad;  // kt, then up to 8 rows of scores
}

std::vector<const EncoderKernelTable*> CompiledEncoderKernelTables() {
  return CompiledTables<EncoderKernelTable>(
      HWY_DISPATCH_TABLE(GetEncoderKernelTable),
      sizeof(HWY_DISPATCH_TABLE(GetEncoderKernelTable)) /
          sizeof(HWY_DISPATCH_TABLE(GetEncoderKernelTable)[0]));
}

std::vector<const EncoderKernelTable*> SupportedEncoderKernelTables() {
  return SupportedTables(CompiledEncoderKernelTables());
}

const EncoderKernelTable* FindEncoderKernelTable(std::string_view name) {
  return FindTable(SupportedEncoderKernelTables(), name);
}

}  // namespace fff::kernels
#endif  // HWY_ONCE
