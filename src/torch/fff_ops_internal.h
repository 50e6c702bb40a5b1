// Argument checks and layouts shared by the CPU and CUDA kernels of the fff
// torch operators (fff_ops.cc, fff_ops_cuda.cc). Internal to fff_torch.
#ifndef FFF_SRC_TORCH_FFF_OPS_INTERNAL_H_
#define FFF_SRC_TORCH_FFF_OPS_INTERNAL_H_

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "fff/fff.h"

namespace fff::torch_ext {

// Checked shapes of one call.
struct Dims {
  FffShape shape;
  int64_t n_rows = 0;  // rows of x flattened to [n_rows, d_in]
};

// TORCH_CHECKs every argument of fff_forward / fff_backward (shapes, a
// depth that n_nodes implies, float32 or float64, one device), naming the
// argument with expected vs got.
Dims CheckArgs(const at::Tensor& x, const at::Tensor& w_in,
               const at::Tensor& b_in, const at::Tensor& w_out,
               int64_t n_trees);

// TORCH_CHECKs fff_backward's dy, nodes and logits against the checked
// forward arguments: dy [n_rows, d_out] and logits in x's dtype, int32
// nodes, n_rows * n_visited routing entries, everything on x's device.
void CheckBackwardArgs(const at::Tensor& dy, const at::Tensor& nodes,
                       const at::Tensor& logits, const at::Tensor& x,
                       const Dims& d);

// TORCH_CHECK(st.ok()) with the Status's text.
void CheckStatus(const Status& st);

// The weights in the kernels' layouts: contiguous, w_out node-major (no copy
// when linear_out.weight is stored node-major).
struct Weights {
  at::Tensor w_in, b_in, w_out;
};
Weights KernelLayout(const at::Tensor& w_in, const at::Tensor& b_in,
                     const at::Tensor& w_out);

// The forward's outputs for x flattened to [n_rows, d_in]: y
// [n_rows, d_out] with x's options, and the routing trace (int32 nodes,
// logits in x's dtype), each [n_rows, n_trees, depth+1].
struct ForwardOutputs {
  at::Tensor y, nodes, logits;
};
ForwardOutputs EmptyForwardOutputs(const Dims& d, const at::Tensor& x);

// x's sizes with the last one replaced.
std::vector<int64_t> OutShape(const at::Tensor& x, int64_t last);

}  // namespace fff::torch_ext

#endif  // FFF_SRC_TORCH_FFF_OPS_INTERNAL_H_
