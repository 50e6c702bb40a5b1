// The original fast feedforward network (fff/leaf_fff.h) as a libtorch
// module for training: a soft forward that mixes every leaf (the package's
// training mode), the hard forward of inference, router entropies for the
// hardening loss, and usage statistics.
//
// Parameters carry the `fastfeedforward` package's names and layouts, so a
// checkpoint's tensors are theirs:
//   node_weights [n_routers, d_in]        node_biases [n_routers, 1]
//   w1s [n_leaves, d_in, leaf_width]      b1s [n_leaves, leaf_width]
//   w2s [n_leaves, leaf_width, d_out]     b2s [n_leaves, d_out]
// (the engine repacks w1s to its hidden-major layout at load).
//
// Soft forward (training): s_r = sigmoid(x . w_r + b_r) for every router;
// with probability region_leak a router's two weights are swapped
// (s -> 1 - s, per row); with train_hardened s is rounded; a leaf's mixture
// weight m_l is the product of its path's weights (right child s, left
// 1 - s); h_l = dropout(act(x W1_l + b1_l)); y = sum_l m_l (h_l W2_l + b2_l).
// It is composed of libtorch operations (autograd differentiates it); the
// mixing is folded into one matrix product (kFlattened: y = [m_l h_l]_l
// W2_all + m b2) because that measured faster than computing every leaf's
// output and mixing those (kPerLeafOutputs, the package's form):
// docs/leaf_fff.md. Both give the same function (tested).
//
// Hard forward (eval, and `Hard` at any time): route right iff z >= 0 and
// evaluate only the reached leaf (with b2s, which the package's own eval
// path omits); fff's CPU kernel when no gradient is needed.
#ifndef FFF_SRC_TORCH_LEAF_FFF_TORCH_H_
#define FFF_SRC_TORCH_LEAF_FFF_TORCH_H_

#include <torch/torch.h>

#include <cstdint>

#include "fff/leaf_fff.h"

namespace fff::torch_ext {

enum class SoftMixture { kFlattened, kPerLeafOutputs };

struct LeafFffFeedForwardOptions {
  int64_t d_in = 768;
  int64_t d_out = 768;
  int64_t depth = 3;
  int64_t leaf_width = 32;
  LeafActivation activation = LeafActivation::kRelu;
  double region_leak = 0.0;   // training only
  double leaf_dropout = 0.0;  // training only, on leaf hidden activations
  bool train_hardened = false;
  SoftMixture soft_mixture = SoftMixture::kFlattened;
};

class LeafFffFeedForwardImpl : public torch::nn::Module {
 public:
  // Parameters initialised as the package does: U(-k, k) with k =
  // 1/sqrt(d_in) for node_weights, w1s, b1s... and 1/sqrt(leaf_width) for
  // w2s, b2s; node_biases U(-1/sqrt(d_in), 1/sqrt(d_in)).
  explicit LeafFffFeedForwardImpl(const LeafFffFeedForwardOptions& options);

  // Training mode: Soft (records the mean router entropy and, if
  // collecting, usage). Eval mode: Hard, or Soft without leak, dropout and
  // rounding when `soft_in_eval` (to measure what hard routing loses).
  // x [..., d_in] -> [..., d_out].
  torch::Tensor forward(const torch::Tensor& x);
  bool soft_in_eval = false;

  // x [N, d_in] -> y [N, d_out]. `entropy`, when given, receives the
  // Bernoulli entropy of every router [N, n_routers] (nats, before leak and
  // rounding; differentiable); `mixture` the leaf weights [N, n_leaves];
  // `logits` the router logits [N, n_routers].
  torch::Tensor Soft(const torch::Tensor& x, torch::Tensor* entropy = nullptr,
                     torch::Tensor* mixture = nullptr,
                     torch::Tensor* logits = nullptr);
  // x [N, d_in] -> y [N, d_out]; `leaves` receives int64 [N]. Without
  // gradient, on the CPU in float32, this runs fff's LeafFffLayer kernel;
  // otherwise a differentiable libtorch composition (a gather of each row's
  // leaf weights).
  torch::Tensor Hard(const torch::Tensor& x, torch::Tensor* leaves = nullptr);

  // Mean router entropy of the last training forward (a scalar with
  // gradient, for the hardening loss; undefined before one).
  torch::Tensor last_mean_entropy;

  // Usage statistics, summed over forwards while `collect_usage` is true:
  // hard counts of rows per leaf (the leaf hard routing picks, z >= 0 going
  // right) and, in training, soft sums of the mixture weights per leaf
  // ([n_leaves], float64, no grad).
  bool collect_usage = false;
  torch::Tensor usage_hard, usage_soft;
  void ResetUsage();

  const LeafFffFeedForwardOptions& options() const { return options_; }
  int64_t n_routers() const { return (int64_t{1} << options_.depth) - 1; }
  int64_t n_leaves() const { return int64_t{1} << options_.depth; }

  torch::Tensor node_weights, node_biases, w1s, b1s, w2s, b2s;

 private:
  torch::Tensor Activate(const torch::Tensor& h) const;
  torch::Tensor HardKernel(const torch::Tensor& x, torch::Tensor* leaves);
  // Leaf index each row reaches (int64 [N]) from router logits [N, n_routers]
  // (undefined when depth is 0: every row is at leaf 0).
  torch::Tensor RouteHard(const torch::Tensor& z, int64_t n) const;

  LeafFffFeedForwardOptions options_;
};
TORCH_MODULE(LeafFffFeedForward);

}  // namespace fff::torch_ext

#endif  // FFF_SRC_TORCH_LEAF_FFF_TORCH_H_
