// LeafFffFeedForward (leaf_fff_torch.h): composed libtorch operations.
#include <ATen/Parallel.h>

#include <cmath>
#include <span>

#include "src/torch/leaf_fff_torch.h"

namespace fff::torch_ext {

LeafFffFeedForwardImpl::LeafFffFeedForwardImpl(
    const LeafFffFeedForwardOptions& o)
    : options_(o) {
  TORCH_CHECK(o.depth >= 0 && o.depth <= 20,
              "LeafFffFeedForward: depth: expected 0..20, got ", o.depth);
  TORCH_CHECK(o.d_in >= 1 && o.d_out >= 1 && o.leaf_width >= 1,
              "LeafFffFeedForward: expected d_in, d_out, leaf_width >= 1, got ",
              o.d_in, ", ", o.d_out, ", ", o.leaf_width);
  TORCH_CHECK(o.region_leak >= 0 && o.region_leak <= 1,
              "LeafFffFeedForward: region_leak: expected 0..1, got ",
              o.region_leak);
  TORCH_CHECK(o.leaf_dropout >= 0 && o.leaf_dropout < 1,
              "LeafFffFeedForward: leaf_dropout: expected [0, 1), got ",
              o.leaf_dropout);
  const int64_t nr = n_routers(), nl = n_leaves();
  const double k1 = 1.0 / std::sqrt(static_cast<double>(o.d_in));
  const double k2 = 1.0 / std::sqrt(static_cast<double>(o.leaf_width));
  auto uniform = [](std::vector<int64_t> shape, double k) {
    return torch::empty(shape).uniform_(-k, k);
  };
  node_weights = register_parameter("node_weights", uniform({nr, o.d_in}, k1));
  node_biases = register_parameter("node_biases", uniform({nr, 1}, k1));
  w1s = register_parameter("w1s", uniform({nl, o.d_in, o.leaf_width}, k1));
  b1s = register_parameter("b1s", uniform({nl, o.leaf_width}, k1));
  w2s = register_parameter("w2s", uniform({nl, o.leaf_width, o.d_out}, k2));
  b2s = register_parameter("b2s", uniform({nl, o.d_out}, k2));
  ResetUsage();
}

void LeafFffFeedForwardImpl::ResetUsage() {
  usage_hard = torch::zeros({n_leaves()}, torch::kFloat64);
  usage_soft = torch::zeros({n_leaves()}, torch::kFloat64);
}

torch::Tensor LeafFffFeedForwardImpl::Activate(const torch::Tensor& h) const {
  return options_.activation == LeafActivation::kGelu ? torch::gelu(h)
                                                      : torch::relu(h);
}

torch::Tensor LeafFffFeedForwardImpl::RouteHard(const torch::Tensor& z,
                                                int64_t n) const {
  auto node = torch::zeros({n}, torch::TensorOptions().dtype(torch::kLong));
  if (options_.depth == 0) return node;
  node = node.to(z.device());
  for (int64_t level = 0; level < options_.depth; ++level) {
    auto zl = z.gather(1, node.unsqueeze(1)).squeeze(1);
    node = node * 2 + 1 + (zl >= 0).to(torch::kLong);
  }
  return node - n_routers();
}

torch::Tensor LeafFffFeedForwardImpl::Soft(const torch::Tensor& x,
                                           torch::Tensor* entropy,
                                           torch::Tensor* mixture,
                                           torch::Tensor* logits) {
  const LeafFffFeedForwardOptions& o = options_;
  TORCH_CHECK(x.dim() == 2 && x.size(1) == o.d_in,
              "LeafFffFeedForward: x: expected [N, ", o.d_in, "], got ",
              x.sizes());
  const int64_t n = x.size(0), nl = n_leaves(), w = o.leaf_width;
  // Mixture weights, level by level: the children of local index i are
  // 2i (left, 1 - s) and 2i + 1 (right, s) of the next level.
  auto m = torch::ones({n, 1}, x.options());
  if (o.depth > 0) {
    auto z = torch::addmm(node_biases.t(), x, node_weights.t());  // [N, nr]
    if (logits != nullptr) *logits = z;
    auto s = torch::sigmoid(z);
    if (entropy != nullptr) {
      // -s ln s - (1-s) ln(1-s) written in z, softplus(z) - z s: finite, with
      // a finite gradient -z s (1-s), also where s rounds to 0 or 1 (the
      // entr form's gradient is 0 * inf = NaN there).
      *entropy = torch::softplus(z) - z * s;
    }
    if (is_training() && o.region_leak > 0) {
      auto leak =
          torch::bernoulli(torch::full_like(s, o.region_leak)).to(torch::kBool);
      s = torch::where(leak, 1 - s, s);
    }
    if (is_training() && o.train_hardened) s = torch::round(s);
    for (int64_t level = 0; level < o.depth; ++level) {
      const int64_t first = (int64_t{1} << level) - 1;
      auto sl = s.narrow(1, first, int64_t{1} << level);  // [N, 2^level]
      m = torch::stack({m * (1 - sl), m * sl}, 2).reshape({n, 2 * sl.size(1)});
    }
  } else if (entropy != nullptr) {
    *entropy = torch::zeros({n, 0}, x.options());
  }
  if (mixture != nullptr) *mixture = m;
  // Every leaf's hidden units in one product: [N, d_in] x [d_in, nl * w].
  auto w1_all = w1s.permute({1, 0, 2}).reshape({o.d_in, nl * w});
  auto h = Activate(torch::addmm(b1s.reshape({1, nl * w}), x, w1_all));
  if (is_training() && o.leaf_dropout > 0) {
    h = torch::dropout(h, o.leaf_dropout, /*train=*/true);
  }
  if (o.soft_mixture == SoftMixture::kFlattened) {
    // sum_l m_l (h_l W2_l + b2_l) = [m_l h_l]_l W2_all + m B2.
    auto mh = (h.view({n, nl, w}) * m.unsqueeze(2)).reshape({n, nl * w});
    return torch::addmm(torch::mm(m, b2s), mh, w2s.reshape({nl * w, o.d_out}));
  }
  // The package's form: every leaf's output [nl, N, d_out], then the mix.
  auto hl = h.view({n, nl, w}).transpose(0, 1);         // [nl, N, w]
  auto yl = torch::baddbmm(b2s.unsqueeze(1), hl, w2s);  // [nl, N, d_out]
  return (yl * m.t().unsqueeze(2)).sum(0);
}

torch::Tensor LeafFffFeedForwardImpl::HardKernel(const torch::Tensor& x,
                                                 torch::Tensor* leaves) {
  const LeafFffFeedForwardOptions& o = options_;
  const LeafFffShape shape{o.d_in, o.d_out, o.depth, o.leaf_width,
                           o.activation};
  auto c = [](const torch::Tensor& t) { return t.detach().contiguous(); };
  // fff's hidden-major W1: [n_leaves, width, d_in].
  const torch::Tensor rw = c(node_weights), rb = c(node_biases),
                      w1 = c(w1s.transpose(1, 2)), b1 = c(b1s), w2 = c(w2s),
                      b2 = c(b2s), xc = c(x);
  auto span = [](const torch::Tensor& t) {
    return std::span<const float>(t.data_ptr<float>(),
                                  static_cast<size_t>(t.numel()));
  };
  LeafFffOptions lo;
  lo.n_threads = at::get_num_threads();
  auto layer = LeafFffLayer::Create(
      shape, {span(rw), span(rb), span(w1), span(b1), span(w2), span(b2)}, lo);
  TORCH_CHECK(layer.ok(), "LeafFffFeedForward: ", layer.status().ToString());
  const int64_t n = x.size(0);
  auto y = torch::empty({n, o.d_out}, x.options());
  auto leaf32 = torch::empty({n}, x.options().dtype(torch::kInt));
  const Status st = layer->Forward(
      MatrixView<const float>(span(xc), n, o.d_in),
      MatrixView<float>(
          std::span<float>(y.data_ptr<float>(), static_cast<size_t>(y.numel())),
          n, o.d_out),
      std::span<int32_t>(leaf32.data_ptr<int32_t>(), static_cast<size_t>(n)));
  TORCH_CHECK(st.ok(), "LeafFffFeedForward: ", st.ToString());
  if (leaves != nullptr) *leaves = leaf32.to(torch::kLong);
  return y;
}

torch::Tensor LeafFffFeedForwardImpl::Hard(const torch::Tensor& x,
                                           torch::Tensor* leaves) {
  const LeafFffFeedForwardOptions& o = options_;
  TORCH_CHECK(x.dim() == 2 && x.size(1) == o.d_in,
              "LeafFffFeedForward: x: expected [N, ", o.d_in, "], got ",
              x.sizes());
  // Inference on the CPU in float32: fff's kernel (one leaf per row, read
  // once per group of rows), ~400x the gather-based composition below.
  if (!torch::GradMode::is_enabled() && x.device().is_cpu() &&
      x.scalar_type() == torch::kFloat && w1s.scalar_type() == torch::kFloat &&
      w1s.device().is_cpu()) {
    return HardKernel(x, leaves);
  }
  torch::Tensor z;
  if (o.depth > 0) z = torch::addmm(node_biases.t(), x, node_weights.t());
  const torch::Tensor leaf = RouteHard(z, x.size(0)).to(x.device());
  if (leaves != nullptr) *leaves = leaf;
  // Each row's own leaf: [N, 1, d_in] x [N, d_in, w] -> [N, w].
  auto h = Activate(
      torch::bmm(x.unsqueeze(1), w1s.index_select(0, leaf)).squeeze(1) +
      b1s.index_select(0, leaf));
  return torch::bmm(h.unsqueeze(1), w2s.index_select(0, leaf)).squeeze(1) +
         b2s.index_select(0, leaf);
}

torch::Tensor LeafFffFeedForwardImpl::forward(const torch::Tensor& x) {
  const auto sizes = x.sizes().vec();
  auto flat = x.reshape({-1, options_.d_in});
  torch::Tensor y;
  if (is_training() || soft_in_eval) {
    torch::Tensor entropy, mixture, z;
    y = Soft(flat, &entropy, &mixture, &z);
    last_mean_entropy =
        entropy.numel() > 0 ? entropy.mean() : torch::zeros({}, x.options());
    if (collect_usage) {
      torch::NoGradGuard no_grad;
      usage_soft += mixture.sum(0).to(torch::kFloat64).cpu();
      usage_hard +=
          torch::bincount(RouteHard(z, flat.size(0)).cpu(), {}, n_leaves())
              .to(torch::kFloat64);
    }
  } else {
    torch::Tensor leaf;
    y = Hard(flat, &leaf);
    if (collect_usage) {
      torch::NoGradGuard no_grad;
      usage_hard +=
          torch::bincount(leaf.cpu(), {}, n_leaves()).to(torch::kFloat64);
    }
  }
  std::vector<int64_t> out = sizes;
  out.back() = options_.d_out;
  return y.reshape(out);
}

}  // namespace fff::torch_ext
