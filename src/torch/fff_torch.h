// fff's FFF layer as PyTorch operators (libtorch), for training.
//
// Operators (namespace `fff`, loadable from Python with
// torch.ops.load_library on libfff_torch.so):
//   fff::fff(Tensor x, Tensor w_in, Tensor b_in, Tensor w_out, int n_trees)
//       -> Tensor y                                   (differentiable)
//   fff::fff_forward(x, w_in, b_in, w_out, n_trees) -> (y, nodes, logits)
//   fff::fff_backward(dy, x, w_in, b_in, w_out, nodes, logits, n_trees)
//       -> (dx, dw_in, db_in, dw_out)
// Shapes are those of UltraFastBERT's training module (its parameter
// layouts, so checkpoints carry over unchanged):
//   x      [..., d_in]                 y [..., d_out]
//   w_in   [n_trees*n_nodes, d_in]     linear_in.weight
//   b_in   [n_trees*n_nodes]           linear_in.bias
//   w_out  [d_out, n_trees*n_nodes]    linear_out.weight
//   nodes  int32 [N, n_trees, depth+1] visited node within its tree (N = rows
//   logits [N, n_trees, depth+1]       of x flattened); depth follows from
//                                      n_nodes = 2^(depth+1) - 1.
// Semantics and gradients: include/fff/fff.h (only visited nodes are read or
// written; the routing carries no gradient; the backward is not itself
// differentiable). float32 runs fff's SIMD kernels on at::get_num_threads()
// threads (results independent of that number); float64 runs the scalar
// double reference (for gradcheck). w_out is read node-major: pass a
// linear_out.weight whose transpose is contiguous (as FffFeedForward
// allocates it) and no copy is made; otherwise the op transposes it per
// call. dw_out comes back with that same node-major layout.
// Kernels are registered per dispatch key (CPU here); a CUDA implementation
// registers the same schemas for the CUDA key.
#ifndef FFF_SRC_TORCH_FFF_TORCH_H_
#define FFF_SRC_TORCH_FFF_TORCH_H_

#include <torch/torch.h>

#include <cstdint>

namespace fff::torch_ext {

// The differentiable operator fff::fff through the dispatcher.
at::Tensor Fff(const at::Tensor& x, const at::Tensor& w_in,
               const at::Tensor& b_in, const at::Tensor& w_out,
               int64_t n_trees);

// The depth of a tree of n_nodes = 2^(depth+1) - 1 nodes, or -1 when
// n_nodes has no such form.
int64_t DepthOfNodes(int64_t n_nodes);

// UltraFastBERT's FFF feedforward as a module: submodules `linear_in`
// (weight [n_trees*n_nodes, d_in], bias) and `linear_out` (weight
// [d_out, n_trees*n_nodes], no bias), the tensor names of the published
// checkpoint. linear_out.weight is stored node-major (its transpose is
// contiguous), which the op reads without a copy. Initialised as
// crammedBERT does: every weight N(0, init_std), biases zero.
struct FffFeedForwardOptions {
  int64_t d_in = 768;
  int64_t d_out = 768;
  int64_t depth = 11;
  int64_t n_trees = 1;
  double init_std = 0.02;
};

class FffFeedForwardImpl : public torch::nn::Module {
 public:
  explicit FffFeedForwardImpl(const FffFeedForwardOptions& options);
  at::Tensor forward(const at::Tensor& x);
  const FffFeedForwardOptions& options() const { return options_; }

  torch::nn::Linear linear_in{nullptr};
  torch::nn::Linear linear_out{nullptr};

 private:
  FffFeedForwardOptions options_;
};
TORCH_MODULE(FffFeedForward);

}  // namespace fff::torch_ext

#endif  // FFF_SRC_TORCH_FFF_TORCH_H_
