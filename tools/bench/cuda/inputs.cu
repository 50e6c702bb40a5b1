// fff-cuda-bench's random inputs and weight sets (inputs.cuh).
#include "tools/bench/cuda/inputs.cuh"

#include <cstddef>
#include <cstdint>

#include "tools/bench/cuda/bench_util.cuh"
#include "tools/bench/cuda/config.h"

namespace fff::cuda_bench {

void MakeWeights(Ctx& ctx, int64_t n_total, int64_t tag, int set,
                 FffWeightSet* w) {
  const size_t n = static_cast<size_t>(n_total * kDModel);
  w->w_in32 = DevBuf(n * 4);
  w->w_out32 = DevBuf(n * 4);
  w->b_in = DevBuf(static_cast<size_t>(n_total) * 4);
  w->w_in16 = DevBuf(n * 2);
  w->w_out16 = DevBuf(n * 2);
  FillNormal(w->w_in32.as<float>(), n, SeedFor(1, tag, set), kWeightStd,
             ctx.stream);
  FillNormal(w->w_out32.as<float>(), n, SeedFor(2, tag, set), kWeightStd,
             ctx.stream);
  FillNormal(w->b_in.as<float>(), n_total, SeedFor(3, tag, set), kWeightStd,
             ctx.stream);
  ToBf16(w->w_in32.as<float>(), w->w_in16.as<Bf16>(), n, ctx.stream);
  ToBf16(w->w_out32.as<float>(), w->w_out16.as<Bf16>(), n, ctx.stream);
}

void MakeInputs(Ctx& ctx, int64_t n_rows, int n_sets, TokenInputs* in) {
  in->n_rows = n_rows;
  in->n_sets = n_sets;
  const size_t n = static_cast<size_t>(n_rows * kDModel);
  for (int s = 0; s < n_sets; ++s) {
    in->x32.emplace_back(n * 4);
    in->x16.emplace_back(n * 2);
    in->dy32.emplace_back(n * 4);
    in->dy16.emplace_back(n * 2);
    FillNormal(in->x32[s].as<float>(), n, SeedFor(10, n_rows, s), 1.0f,
               ctx.stream);
    FillNormal(in->dy32[s].as<float>(), n, SeedFor(11, n_rows, s), 1.0f,
               ctx.stream);
    ToBf16(in->x32[s].as<float>(), in->x16[s].as<Bf16>(), n, ctx.stream);
    ToBf16(in->dy32[s].as<float>(), in->dy16[s].as<Bf16>(), n, ctx.stream);
  }
  in->ones32 = DevBuf(static_cast<size_t>(n_rows) * 4);
  in->ones16 = DevBuf(static_cast<size_t>(n_rows) * 2);
  FillValue(in->ones32.as<float>(), n_rows, 1.0f, ctx.stream);
  FillValue(in->ones16.as<Bf16>(), n_rows, 1.0f, ctx.stream);
}

void MakeDenseWeights(Ctx& ctx, int set, DenseWeightSet* w32,
                      DenseWeightSet* w16) {
  const size_t n = static_cast<size_t>(kDenseHidden * kDModel);
  w32->w1 = DevBuf(n * 4);
  w32->w2 = DevBuf(n * 4);
  w32->b1 = DevBuf(kDenseHidden * 4);
  w32->b2 = DevBuf(kDModel * 4);
  w16->w1 = DevBuf(n * 2);
  w16->w2 = DevBuf(n * 2);
  w16->b1 = DevBuf(kDenseHidden * 2);
  w16->b2 = DevBuf(kDModel * 2);
  FillNormal(w32->w1.as<float>(), n, SeedFor(30, set), kWeightStd, ctx.stream);
  FillNormal(w32->w2.as<float>(), n, SeedFor(31, set), kWeightStd, ctx.stream);
  FillNormal(w32->b1.as<float>(), kDenseHidden, SeedFor(32, set), kWeightStd,
             ctx.stream);
  FillNormal(w32->b2.as<float>(), kDModel, SeedFor(33, set), kWeightStd,
             ctx.stream);
  ToBf16(w32->w1.as<float>(), w16->w1.as<Bf16>(), n, ctx.stream);
  ToBf16(w32->w2.as<float>(), w16->w2.as<Bf16>(), n, ctx.stream);
  ToBf16(w32->b1.as<float>(), w16->b1.as<Bf16>(), kDenseHidden, ctx.stream);
  ToBf16(w32->b2.as<float>(), w16->b2.as<Bf16>(), kDModel, ctx.stream);
}

}  // namespace fff::cuda_bench
