// Micro-benchmarks: the FFF building blocks on every supported SIMD target
// (dot product, GELU), the encoder's attention core per target, and whole
// FFF / dense layers at a few batch sizes.
//   build/release/bench/fff_micro_bench --benchmark_filter=Fff
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fff/dense_ff.h"
#include "fff/fff.h"
#include "src/base/aligned_buffer.h"
#include "src/kernels/encoder_kernels.h"
#include "src/kernels/fff_kernels.h"
#include "tests/testing/fff_testing.h"

namespace fff {
namespace {

void BM_Dot(benchmark::State& state, const kernels::FffKernelTable* t) {
  const int64_t n = state.range(0);
  std::vector<float> x = testing::MakeRandomRows(1, n, n, 0, 1);
  std::vector<float> w = testing::MakeRandomRows(1, n, n, 0, 2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(t->dot(x.data(), w.data(), n));
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_Gelu(benchmark::State& state, const kernels::FffKernelTable* t) {
  const int64_t n = state.range(0);
  std::vector<float> x = testing::MakeRandomRows(1, n, n, 0, 3);
  std::vector<float> y(n);
  for (auto _ : state) {
    t->gelu(x.data(), y.data(), n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// args: batch, n_trees, depth, threads
void BM_FffLayer(benchmark::State& state) {
  const int64_t batch = state.range(0);
  const FffShape s{768, 768, state.range(2), state.range(1)};
  const testing::FffWeights w = testing::MakeRandomWeights(s, 4);
  const std::vector<float> x0 = testing::MakeRandomRows(batch, 768, 768, 0, 5);
  const AlignedVector<float> x(x0.begin(), x0.end());  // as the model's rows
  AlignedVector<float> y(batch * 768);
  FffOptions opt;
  opt.n_threads = static_cast<int>(state.range(3));
  auto layer = FffLayer::Create(s, w.view(), opt);
  if (!layer.ok()) {
    state.SkipWithError(layer.status().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    Status st = layer->Forward(
        MatrixView<const float>(std::span<const float>(x), batch, 768),
        MatrixView<float>(std::span<float>(y), batch, 768));
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetLabel(FffStrategyName(layer->StrategyFor(batch)));
}
BENCHMARK(BM_FffLayer)
    ->ArgNames({"batch", "n_trees", "depth", "threads"})
    ->Args({1, 1, 11, 1})
    ->Args({128, 1, 11, 1})
    ->Args({2048, 1, 11, 1})
    ->Args({2048, 1, 11, 2})
    ->Args({128, 8, 8, 1})
    ->UseRealTime();

// The grouped router alone (kernel table's route_group), FFF-1x11 at
// d = 768: `blocks` blocks of `block` rows, each routed from the root through
// `levels` levels, as the level-batched strategy's top pass does. Reports
// ns per dot (one row at one level). With one block everything stays in
// L1/L2, so this is the router's cost per dot without DRAM traffic; with
// many blocks the inputs stream from L3/DRAM (docs/benchmarks.md, Zen 4).
// args: block, levels, blocks
void BM_FffRouteBlocks(benchmark::State& state,
                       const kernels::FffKernelTable* t) {
  const int64_t block = state.range(0), levels = state.range(1),
                blocks = state.range(2);
  const int64_t rows = block * blocks;
  const FffShape s{768, 768, 11, 1};
  const testing::FffWeights w = testing::MakeInitWeights(s, 4);
  const std::vector<float> x0 = testing::MakeRandomRows(rows, 768, 768, 0, 5);
  const AlignedVector<float> x(x0.begin(), x0.end());
  kernels::FffProblem p;
  p.d_in = p.d_out = 768;
  p.depth = s.depth;
  p.n_trees = s.n_trees;
  p.n_nodes = s.n_nodes();
  p.w_in = w.w_in.data();
  p.b_in = w.b_in.data();
  p.w_out = w.w_out.data();
  p.w_in_stride = p.w_out_stride = 768;
  p.x = x.data();
  p.x_stride = 768;
  const int64_t nv = s.n_visited();
  AlignedVector<int32_t> nodes(rows * nv), order(rows), next(rows);
  AlignedVector<float> acts(rows * nv);
  const int64_t stride = (block + 16) / 16 * 16;
  AlignedVector<int32_t> group(4 * stride);
  kernels::FffGroupScratch gs;
  gs.max_rows = block;
  gs.perm_next = group.data();
  gs.node = group.data() + stride;
  gs.node_next = group.data() + 2 * stride;
  gs.z = reinterpret_cast<float*>(group.data() + 3 * stride);
  const kernels::FffRouting routing{nodes.data(), acts.data()};
  for (auto _ : state) {
    for (int64_t i = 0; i < rows; ++i) order[i] = static_cast<int32_t>(i);
    for (int64_t b = 0; b < blocks; ++b) {
      t->route_group(p, 0, 0, nullptr, 0, levels, order.data() + b * block,
                     block, routing, gs, next.data() + b * block);
    }
    benchmark::ClobberMemory();
  }
  state.counters["ns/dot"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * rows * levels,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert,
      benchmark::Counter::kIs1000);
}

// args: batch, width, threads
void BM_DenseFf(benchmark::State& state) {
  const int64_t batch = state.range(0), h = state.range(1);
  std::vector<float> w1 = testing::MakeRandomRows(h, 768, 768, 0, 6);
  std::vector<float> w2 = testing::MakeRandomRows(768, h, h, 0, 7);
  std::vector<float> b1(h, 0.1f), b2(768, 0.1f);
  std::vector<float> x = testing::MakeRandomRows(batch, 768, 768, 0, 8);
  std::vector<float> y(batch * 768);
  DenseFfOptions opt;
  opt.n_threads = static_cast<int>(state.range(2));
  auto op = DenseFf::Create({768, h, 768}, {w1, b1, w2, b2}, opt);
  if (!op.ok()) {
    state.SkipWithError(op.status().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    Status st = op->Forward(
        MatrixView<const float>(std::span<const float>(x), batch, 768),
        MatrixView<float>(y, batch, 768));
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_DenseFf)
    ->ArgNames({"batch", "width", "threads"})
    ->Args({1, 3072, 1})
    ->Args({128, 3072, 1})
    ->Args({2048, 3072, 1})
    ->Args({2048, 3072, 2})
    ->UseRealTime();

// One sequence's attention core, all heads (args: tokens, heads, d_head);
// FLOPs: QK^T and PV, 2 * 2 * n^2 * d_head per head (softmax not counted).
void BM_Attention(benchmark::State& state,
                  const kernels::EncoderKernelTable* t) {
  const int64_t n = state.range(0), heads = state.range(1),
                d_head = state.range(2);
  const int64_t d_model = heads * d_head;
  std::vector<float> qkv =
      testing::MakeRandomRows(n, 3 * d_model, 3 * d_model, 0, 9);
  std::vector<float> ctx(static_cast<size_t>(n * d_model));
  std::vector<float> scratch(
      static_cast<size_t>(kernels::AttentionScratchFloats(n, d_head) + 16));
  float* aligned = reinterpret_cast<float*>(
      (reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
  for (auto _ : state) {
    for (int64_t h = 0; h < heads; ++h) {
      t->attention_head(qkv.data(), ctx.data(), n, h, heads, d_head, 0.125f,
                        aligned);
    }
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * heads * 4.0 * n * n * d_head,
      benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// Per-target kernels, registered at start-up for the targets this CPU has.
int RegisterPerTarget() {
  for (const kernels::FffKernelTable* t : kernels::SupportedFffKernelTables()) {
    benchmark::RegisterBenchmark((std::string("BM_Dot/") + t->name).c_str(),
                                 BM_Dot, t)
        ->Arg(768)
        ->Arg(773);
    benchmark::RegisterBenchmark((std::string("BM_Gelu/") + t->name).c_str(),
                                 BM_Gelu, t)
        ->Arg(12)
        ->Arg(4096);
    benchmark::RegisterBenchmark(
        (std::string("BM_FffRouteBlocks/") + t->name).c_str(),
        BM_FffRouteBlocks, t)
        ->ArgNames({"block", "levels", "blocks"})
        ->Args({16, 1, 1})
        ->Args({16, 7, 1})
        ->Args({16, 12, 1})
        ->Args({4, 12, 1})
        ->Args({16, 7, 128})
        ->UseRealTime();
  }
  for (const kernels::EncoderKernelTable* t :
       kernels::SupportedEncoderKernelTables()) {
    benchmark::RegisterBenchmark(
        (std::string("BM_Attention/") + t->name).c_str(), BM_Attention, t)
        ->ArgNames({"tokens", "heads", "d_head"})
        ->Args({128, 12, 64})
        ->Args({21, 12, 64})
        ->Args({512, 12, 64});
  }
  return 0;
}
const int kRegistered = RegisterPerTarget();

}  // namespace
}  // namespace fff
