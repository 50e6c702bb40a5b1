// fff-cuda-bench's inputs: the random activations shared by every shape at
// one token count (x and dy, fp32 and bf16, in rotated sets), the FFF and
// dense weight sets, and the views of them the kernels take. Every tensor is
// drawn on the device from a hash of (--seed, its tags), never zeros; bf16
// tensors are the fp32 ones rounded.
#ifndef FFF_TOOLS_BENCH_CUDA_INPUTS_CUH_
#define FFF_TOOLS_BENCH_CUDA_INPUTS_CUH_

#include <cstdint>
#include <type_traits>
#include <vector>

#include "src/cuda/fff_cuda.h"
#include "tools/bench/cuda/bench_util.cuh"

namespace fff::cuda_bench {

// One FFF layer's weights, fp32 and bf16 (b_in is fp32 in both).
struct FffWeightSet {
  DevBuf w_in32, w_out32, b_in, w_in16, w_out16;
};

struct TokenInputs {
  int64_t n_rows = 0;
  int n_sets = 1;
  std::vector<DevBuf> x32, x16, dy32, dy16;  // [n_rows, 768] each
  DevBuf ones32, ones16;                     // [n_rows] of 1 (bias grads)
};

// w_in, w_out [n_total, 768] and b_in ~ N(0, 0.02), seeded by (tag, set).
void MakeWeights(Ctx& ctx, int64_t n_total, int64_t tag, int set,
                 FffWeightSet* w);
// n_sets sets of x, dy ~ N(0, 1) [n_rows, 768], seeded by (n_rows, set).
void MakeInputs(Ctx& ctx, int64_t n_rows, int n_sets, TokenInputs* in);

template <class T>
fff::cuda::FffDeviceWeights<T> DeviceWeights(const FffWeightSet& w) {
  if constexpr (std::is_same_v<T, float>) {
    return {w.w_in32.as<float>(), w.b_in.as<float>(), w.w_out32.as<float>()};
  } else {
    return {w.w_in16.as<Bf16>(), w.b_in.as<float>(), w.w_out16.as<Bf16>()};
  }
}

// The rows of input set rep (mod the number of sets).
template <class T>
const T* Rows(const std::vector<DevBuf>& sets, int rep) {
  return sets[rep % static_cast<int>(sets.size())].as<T>();
}

template <class T>
const char* TypeName() {
  return std::is_same_v<T, float> ? "fp32" : "bf16";
}

// The dense FF's weights in one precision.
struct DenseWeightSet {
  DevBuf w1, b1, w2, b2;  // w1 [3072, 768], b1 [3072], w2 [768, 3072], b2 [768]
};

// Weights and biases ~ N(0, 0.02) seeded by set, fp32 and bf16-rounded.
void MakeDenseWeights(Ctx& ctx, int set, DenseWeightSet* w32,
                      DenseWeightSet* w16);

}  // namespace fff::cuda_bench

#endif  // FFF_TOOLS_BENCH_CUDA_INPUTS_CUH_
