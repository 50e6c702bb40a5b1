// Google Benchmark: the leaf FFF's soft training step (forward + backward)
// in its two composed forms, and its hard inference in libtorch and in
// fff's kernel. The soft form LeafFffFeedForward uses by default is the
// faster one measured here (docs/leaf_fff.md):
//   build/release/bench/leaf_fff_torch_bench --benchmark_format=json
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <vector>

#include "fff/leaf_fff.h"
#include "src/torch/leaf_fff_torch.h"

namespace {

using fff::torch_ext::LeafFffFeedForward;
using fff::torch_ext::LeafFffFeedForwardOptions;
using fff::torch_ext::SoftMixture;

LeafFffFeedForwardOptions Options(const benchmark::State& state) {
  LeafFffFeedForwardOptions o;
  o.d_in = o.d_out = 256;
  o.depth = state.range(0);
  o.leaf_width = state.range(1);
  return o;
}

constexpr int64_t kTokens = 4096;

void BM_SoftStep(benchmark::State& state, SoftMixture form) {
  torch::manual_seed(1);
  LeafFffFeedForwardOptions o = Options(state);
  o.soft_mixture = form;
  LeafFffFeedForward m(o);
  m->train();
  auto x = torch::randn({kTokens, o.d_in}, torch::requires_grad());
  for (auto _ : state) {
    auto y = m->forward(x);
    (y.sum() + m->last_mean_entropy).backward();
  }
  state.SetItemsProcessed(state.iterations() * kTokens);
}
BENCHMARK_CAPTURE(BM_SoftStep, flattened, SoftMixture::kFlattened)
    ->Args({3, 32})
    ->Args({5, 8})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_SoftStep, per_leaf_outputs, SoftMixture::kPerLeafOutputs)
    ->Args({3, 32})
    ->Args({5, 8})
    ->Unit(benchmark::kMillisecond);

// The module's hard forward: with gradient on, the differentiable libtorch
// composition (gather of each row's leaf); without, fff's kernel (plus
// the per-call repack of w1s and the layer's planning).
void BM_HardModule(benchmark::State& state, bool grad) {
  torch::manual_seed(1);
  LeafFffFeedForward m(Options(state));
  m->eval();
  torch::AutoGradMode mode(grad);
  auto x = torch::randn({kTokens, 256});
  for (auto _ : state) benchmark::DoNotOptimize(m->forward(x));
  state.SetItemsProcessed(state.iterations() * kTokens);
}
BENCHMARK_CAPTURE(BM_HardModule, composed_with_grad, true)
    ->Args({3, 32})
    ->Args({5, 8})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_HardModule, kernel_no_grad, false)
    ->Args({3, 32})
    ->Args({5, 8})
    ->Unit(benchmark::kMillisecond);

void BM_HardKernel(benchmark::State& state) {
  torch::manual_seed(1);
  const LeafFffFeedForwardOptions o = Options(state);
  LeafFffFeedForward m(o);
  auto vec = [](const torch::Tensor& t) {
    auto c = t.detach().contiguous();
    return std::vector<float>(c.data_ptr<float>(),
                              c.data_ptr<float>() + c.numel());
  };
  fff::LeafFffWeights w;
  w.shape = {o.d_in, o.d_out, o.depth, o.leaf_width, o.activation};
  w.router_w = vec(m->node_weights);
  w.router_b = vec(m->node_biases);
  w.leaf_w1 = vec(m->w1s.transpose(1, 2));
  w.leaf_b1 = vec(m->b1s);
  w.leaf_w2 = vec(m->w2s);
  w.leaf_b2 = vec(m->b2s);
  auto layer = fff::LeafFffLayer::Create(w.shape, w.view());
  if (!layer.ok()) {
    state.SkipWithError(layer.status().ToString().c_str());
    return;
  }
  const std::vector<float> x = vec(torch::randn({kTokens, o.d_in}));
  std::vector<float> y(kTokens * o.d_out);
  for (auto _ : state) {
    auto st = layer->Forward(fff::MatrixView<const float>(
                                 std::span<const float>(x), kTokens, o.d_in),
                             fff::MatrixView<float>(y, kTokens, o.d_out));
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(state.iterations() * kTokens);
}
BENCHMARK(BM_HardKernel)
    ->Args({3, 32})
    ->Args({5, 8})
    ->Unit(benchmark::kMillisecond);

}  // namespace
