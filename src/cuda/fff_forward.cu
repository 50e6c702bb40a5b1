// FFF forward on CUDA (fff_cuda.h): one warp per row.
//
// A warp walks its row through every tree: at each level its 32 lanes split
// the dot product x . w_in[g] (16-byte loads where rows allow), sum it with
// an xor butterfly (every lane gets the same bits, so all take the same
// branch), and lane 0 records the visit (global node, GELU(z)) in the warp's
// shared memory. Then each lane owns columns of y and adds the visits' w_out
// rows in visit order, in registers, and stores y once. Each output element
// is therefore computed by one thread in a fixed order: deterministic.
// Design notes and measurements: docs/cuda.md; versions leading here:
// dev/cuda/fff_forward.cu.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "src/cuda/cuda_status.h"
#include "src/cuda/fff_cuda.h"
#include "src/cuda/fff_cuda_common.cuh"

namespace fff::cuda {
namespace {

using detail::kWarpSize;

template <class T>
struct ForwardParams {
  const T* w_in;
  const float* b_in;
  const T* w_out;
  const T* x;
  T* y;
  int32_t* nodes;  // optional trace (with logits)
  float* logits;
  int64_t n_rows, d_in, d_out, depth, n_trees, n_nodes;
};

template <class T, int V>
__global__ void __launch_bounds__(detail::kMaxWarpsPerBlock* kWarpSize)
    FffForwardKernel(ForwardParams<T> p) {
  extern __shared__ unsigned char smem[];
  const int64_t levels = p.depth + 1;
  const int64_t nv = p.n_trees * levels;
  const detail::WarpRows wr = detail::GetWarpRows(smem, nv);
  const int lane = wr.lane;
  int32_t* s_node = wr.node;
  float* s_act = wr.value;
  for (int64_t row = wr.first_row(); row < p.n_rows; row += wr.row_stride()) {
    const T* x = p.x + row * p.d_in;
    for (int64_t t = 0; t < p.n_trees; ++t) {
      int64_t node = 0;
      for (int64_t level = 0; level < levels; ++level) {
        const int64_t g = t * p.n_nodes + node;
        const float z = detail::WarpSum(detail::DotPart<T, V>(
                            x, p.w_in + g * p.d_in, p.d_in, lane)) +
                        p.b_in[g];
        const int64_t k = t * levels + level;
        if (lane == 0) {
          s_node[k] = static_cast<int32_t>(g);
          s_act[k] = detail::Gelu(z);
          if (p.nodes != nullptr) {
            p.nodes[row * nv + k] = static_cast<int32_t>(node);
            p.logits[row * nv + k] = z;
          }
        }
        node = 2 * node + 1 + (z > 0.0f ? 1 : 0);
      }
    }
    __syncwarp();
    T* y = p.y + row * p.d_out;
    for (int64_t c = int64_t{lane} * V; c < p.d_out; c += kWarpSize * V) {
      float acc[V];
#pragma unroll
      for (int j = 0; j < V; ++j) acc[j] = 0.0f;
#pragma unroll 4
      for (int64_t k = 0; k < nv; ++k) {
        float w[V];
        detail::LoadF<T, V>(p.w_out + int64_t{s_node[k]} * p.d_out + c, w);
        const float a = s_act[k];
#pragma unroll
        for (int j = 0; j < V; ++j) acc[j] = fmaf(a, w[j], acc[j]);
      }
      detail::StoreF<T, V>(y + c, acc);
    }
    __syncwarp();  // the next row overwrites this warp's visits
  }
}

template <class T, int V>
Status Launch(const ForwardParams<T>& p, cudaStream_t stream) {
  return detail::LaunchWarpRows(&FffForwardKernel<T, V>, p, stream,
                                "FffForwardKernel");
}

}  // namespace

template <class T>
Status FffForward(const FffShape& shape, const FffDeviceWeights<T>& w,
                  const T* x, int64_t n_rows, T* y, int32_t* nodes,
                  float* logits, cudaStream_t stream) {
  FFF_RETURN_IF_ERROR(detail::CheckCommon(shape, n_rows));
  if ((nodes == nullptr) != (logits == nullptr)) {
    return InvalidArgumentError(
        "fff cuda: nodes and logits: expected both or neither, got only " +
        std::string(nodes != nullptr ? "nodes" : "logits"));
  }
  if (n_rows == 0) return Status::Ok();
  FFF_RETURN_IF_ERROR(detail::CheckPointer(w.w_in, "w_in"));
  FFF_RETURN_IF_ERROR(detail::CheckPointer(w.b_in, "b_in"));
  FFF_RETURN_IF_ERROR(detail::CheckPointer(w.w_out, "w_out"));
  FFF_RETURN_IF_ERROR(detail::CheckPointer(x, "x"));
  FFF_RETURN_IF_ERROR(detail::CheckPointer(y, "y"));
  ForwardParams<T> p{
      w.w_in,      w.b_in,        w.w_out,        x,          y,
      nodes,       logits,        n_rows,         shape.d_in, shape.d_out,
      shape.depth, shape.n_trees, shape.n_nodes()};
  constexpr int kV = detail::kVecElems<T>;
  const bool vec = shape.d_in % kV == 0 && shape.d_out % kV == 0 &&
                   detail::Aligned16(x) && detail::Aligned16(y) &&
                   detail::Aligned16(w.w_in) && detail::Aligned16(w.w_out);
  return vec ? Launch<T, kV>(p, stream) : Launch<T, 1>(p, stream);
}

template Status FffForward<float>(const FffShape&,
                                  const FffDeviceWeights<float>&, const float*,
                                  int64_t, float*, int32_t*, float*,
                                  cudaStream_t);
template Status FffForward<__nv_bfloat16>(
    const FffShape&, const FffDeviceWeights<__nv_bfloat16>&,
    const __nv_bfloat16*, int64_t, __nv_bfloat16*, int32_t*, float*,
    cudaStream_t);

}  // namespace fff::cuda
