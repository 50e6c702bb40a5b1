// FffFeedForward: the module wrapper of fff_torch.h.
#include "src/torch/fff_torch.h"

namespace fff::torch_ext {

FffFeedForwardImpl::FffFeedForwardImpl(const FffFeedForwardOptions& options)
    : options_(options) {
  TORCH_CHECK(options.depth >= 0 && options.depth <= 29,
              "FffFeedForward: depth: expected 0..29, got ", options.depth);
  TORCH_CHECK(options.n_trees >= 1,
              "FffFeedForward: n_trees: expected >= 1, got ", options.n_trees);
  const int64_t total = options.n_trees * ((int64_t{2} << options.depth) - 1);
  linear_in = register_module(
      "linear_in",
      torch::nn::Linear(torch::nn::LinearOptions(options.d_in, total)));
  linear_out = register_module(
      "linear_out", torch::nn::Linear(torch::nn::LinearOptions(
                                          total, options.d_out)
                                          .bias(false)));
  torch::NoGradGuard no_grad;
  // Node-major storage for linear_out.weight [d_out, total]: the op reads
  // each visited node's output vector as one contiguous row.
  linear_out->weight.set_data(torch::empty({total, options.d_out}).t());
  linear_in->weight.normal_(0.0, options.init_std);
  linear_in->bias.zero_();
  linear_out->weight.normal_(0.0, options.init_std);
}

at::Tensor FffFeedForwardImpl::forward(const at::Tensor& x) {
  return Fff(x, linear_in->weight, linear_in->bias, linear_out->weight,
             options_.n_trees);
}

}  // namespace fff::torch_ext
