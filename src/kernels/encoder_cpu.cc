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

// Scratch layout: kt [d_head][n_pad] (keys transposed, zero padded), then
// scores [n_pad].
void AttentionHead(const float* qkv, float* ctx, int64_t n, int64_t head,
                   int64_t n_heads, int64_t d_head, float scale,
                   float* scratch) {
  const DF d;
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
  float* scores = scratch + d_head * n_pad;

  for (int64_t c = 0; c < d_head; ++c) {
    float* row = kt + c * n_pad;
    for (int64_t j = 0; j < n; ++j) row[j] = qkv[j * stride + k_off + c];
    for (int64_t j = n; j < n_pad; ++j) row[j] = 0.0f;
  }
  const auto neg_inf = hn::Set(d, -std::numeric_limits<float>::infinity());
  const auto vscale = hn::Set(d, scale);
  const int64_t n_blocks = n_pad / N;
  for (int64_t i = 0; i < n; ++i) {
    const float* q = qkv + i * stride + q_off;
    // Scores, up to 4 key blocks at a time; per key lane the even and odd
    // head dimensions run in two chains summed at the end: a fixed order for
    // every key whatever n is.
    auto vmax = neg_inf;
    for (int64_t b0 = 0; b0 < n_blocks; b0 += 4) {
      const int64_t nb = std::min<int64_t>(4, n_blocks - b0);
      decltype(hn::Zero(d)) acc[8];
      for (auto& a : acc) a = hn::Zero(d);
      const float* col = kt + b0 * N;
      for (int64_t c = 0; c < d_head; c += 2) {
        const auto q0 = hn::Set(d, q[c]);
        const auto q1 = hn::Set(d, q[c + 1]);
        const float* r0 = col + c * n_pad;
        const float* r1 = r0 + n_pad;
        for (int64_t b = 0; b < nb; ++b) {
          acc[2 * b] = hn::MulAdd(q0, hn::LoadU(d, r0 + b * N), acc[2 * b]);
          acc[2 * b + 1] =
              hn::MulAdd(q1, hn::LoadU(d, r1 + b * N), acc[2 * b + 1]);
        }
      }
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t blk = b0 + b;
        auto s = hn::Mul(hn::Add(acc[2 * b], acc[2 * b + 1]), vscale);
        if ((blk + 1) * N > n) {  // padded keys never win and weigh nothing
          s = hn::IfThenElse(hn::FirstN(d, static_cast<size_t>(n - blk * N)),
                             s, neg_inf);
        }
        hn::StoreU(s, d, scores + blk * N);
        vmax = hn::Max(vmax, s);
      }
    }
    const auto m = hn::Set(d, hn::GetLane(hn::MaxOfLanes(d, vmax)));
    auto vsum = hn::Zero(d);
    for (int64_t b = 0; b < n_blocks; ++b) {
      const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, scores + b * N), m));
      hn::StoreU(e, d, scores + b * N);
      vsum = hn::Add(vsum, e);
    }
    const auto inv = hn::Set(d, 1.0f / hn::GetLane(hn::SumOfLanes(d, vsum)));
    // Context: sum_j p_j v_j, up to 4 column vectors at a time, even and odd
    // keys in two chains each.
    float* out = ctx + i * d_model + head * d_head;
    for (int64_t c0 = 0; c0 < d_head; c0 += 4 * N) {
      const int64_t nc = std::min<int64_t>(4, (d_head - c0) / N);
      decltype(hn::Zero(d)) acc[8];
      for (auto& a : acc) a = hn::Zero(d);
      const float* v = qkv + v_off + c0;
      int64_t j = 0;
      for (; j + 1 < n; j += 2) {
        const auto p0 = hn::Set(d, scores[j]);
        const auto p1 = hn::Set(d, scores[j + 1]);
        const float* v0 = v + j * stride;
        const float* v1 = v0 + stride;
        for (int64_t k = 0; k < nc; ++k) {
          acc[2 * k] = hn::MulAdd(p0, hn::LoadU(d, v0 + k * N), acc[2 * k]);
          acc[2 * k + 1] =
              hn::MulAdd(p1, hn::LoadU(d, v1 + k * N), acc[2 * k + 1]);
        }
      }
      if (j < n) {
        const auto p0 = hn::Set(d, scores[j]);
        const float* v0 = v + j * stride;
        for (int64_t k = 0; k < nc; ++k) {
          acc[2 * k] = hn::MulAdd(p0, hn::LoadU(d, v0 + k * N), acc[2 * k]);
        }
      }
      for (int64_t k = 0; k < nc; ++k) {
        hn::StoreU(hn::Mul(hn::Add(acc[2 * k], acc[2 * k + 1]), inv), d,
                   out + c0 + k * N);
      }
    }
  }
}

const EncoderKernelTable* GetEncoderKernelTable() {
  static const EncoderKernelTable table = {
      HWY_TARGET, hwy::TargetName(HWY_TARGET), &AttentionHead};
  return &table;
}

}  // namespace fff::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fff::kernels {

HWY_EXPORT(GetEncoderKernelTable);

int64_t AttentionScratchFloats(int64_t n_tokens, int64_t d_head) {
  const int64_t n_pad = (n_tokens + 15) / 16 * 16;  // widest target: 16 lanes
  return (d_head + 1) * n_pad;
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
