// FffLayer on every compiled SIMD target and strategy against the double
// precision reference, with error bounds derived per element
// (tests/testing/fff_testing.h), on seeded random inputs kept clear of zero
// logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "fff/fff.h"
#include "src/kernels/fff_kernels.h"
#include "tests/testing/fff_testing.h"

namespace fff {
namespace {

struct Case {
  FffShape shape;
  std::vector<int64_t> n_rows;
};

// Edge sizes: widths that are not multiples of any vector width, depth 0 (a
// single neuron) to 14, 1 to 64 trees, and the UltraFastBERT-1x11 layer.
const Case kCases[] = {
    {{1, 1, 0, 1}, {0, 1, 7, 64, 1000}}, {{3, 17, 1, 1}, {1, 7, 64, 1000}},
    {{17, 3, 2, 3}, {1, 7, 64, 1000}},   {{64, 64, 4, 2}, {1, 7, 64, 1000}},
    {{773, 64, 5, 1}, {1, 7, 64, 1000}}, {{64, 773, 3, 4}, {1, 7, 64}},
    {{17, 1, 14, 1}, {1, 7, 64, 1000}},  {{3, 3, 6, 64}, {1, 7, 64, 1000}},
    {{16, 16, 0, 64}, {1, 7, 64}},       {{768, 768, 11, 1}, {1, 7, 64, 200}},
};

std::string Name(const kernels::FffKernelTable* t, FffStrategy st,
                 const FffShape& s, int64_t n_rows) {
  return std::string(t->name) + "/" + FffStrategyName(st) +
         " d_in=" + std::to_string(s.d_in) +
         " d_out=" + std::to_string(s.d_out) +
         " depth=" + std::to_string(s.depth) +
         " n_trees=" + std::to_string(s.n_trees) +
         " n_rows=" + std::to_string(n_rows);
}

TEST(FffLayerTest, EveryTargetAndStrategyMatchesReference) {
  uint64_t seed = 100;
  for (const Case& c : kCases) {
    const FffShape& s = c.shape;
    const testing::FffWeights w = testing::MakeRandomWeights(s, seed++);
    for (int64_t n_rows : c.n_rows) {
      // Misaligned, strided views: x starts 1 float into its buffer with 3
      // floats of NaN padding per row; y starts 3 floats in with 5.
      const int64_t xs = s.d_in + 3, ys = s.d_out + 5;
      std::vector<float> xbuf =
          testing::MakeRandomRows(n_rows, s.d_in, xs, 1, seed++);
      testing::ResampleForMargin(w, xbuf.data() + 1, xs, n_rows, seed++);
      const testing::FffReference ref =
          testing::ComputeReference(w, xbuf.data() + 1, xs, n_rows);
      for (const auto* t : kernels::SupportedFffKernelTables()) {
        for (FffStrategy st :
             {FffStrategy::kRowWalk, FffStrategy::kLevelBatched}) {
          const std::string name = Name(t, st, s, n_rows);
          FffOptions opt;
          opt.target = t->name;
          opt.strategy = st;
          opt.n_threads = 2;
          auto layer = FffLayer::Create(s, w.view(), opt);
          ASSERT_TRUE(layer.ok()) << name << ": " << layer.status().ToString();
          ASSERT_STREQ(layer->target_name(), t->name);
          const float kSentinel = -12345.0f;
          std::vector<float> ybuf(
              static_cast<size_t>(
                  3 + (n_rows > 0 ? (n_rows - 1) * ys + s.d_out : 0) + 2),
              kSentinel);
          std::vector<int32_t> nodes(
              static_cast<size_t>(n_rows * s.n_visited()), -7);
          std::vector<float> logits(nodes.size());
          MatrixView<const float> x(std::span<const float>(xbuf).subspan(1),
                                    n_rows, s.d_in, xs);
          MatrixView<float> y(std::span<float>(ybuf).subspan(3), n_rows,
                              s.d_out, ys);
          Status st_fwd = layer->Forward(x, y, {nodes, logits});
          ASSERT_TRUE(st_fwd.ok()) << name << ": " << st_fwd.ToString();
          const testing::FffComparison cmp =
              testing::Compare(ref, ybuf.data() + 3, ys, nodes.data());
          ASSERT_TRUE(cmp.ok) << name << ": " << cmp.Describe();
          // Trace logits within their bounds.
          for (size_t k = 0; k < logits.size(); ++k) {
            ASSERT_LE(std::fabs(logits[k] - ref.logits[k]), ref.logit_bound[k])
                << name << ": logit " << k;
          }
          // Padding between y rows and around y untouched.
          for (size_t i = 0; i < ybuf.size(); ++i) {
            const int64_t rel = static_cast<int64_t>(i) - 3;
            const bool inside =
                rel >= 0 && rel < y.ExtentElements() && rel % ys < s.d_out;
            if (!inside) {
              ASSERT_EQ(ybuf[i], kSentinel) << name << ": wrote padding " << i;
            }
          }
        }
      }
    }
  }
}

// Weights viewed with row strides (the zero-copy record layout: each node's
// w_in row and w_out row in one padded record, NaN in the padding) give
// outputs, routing and gradients bitwise equal to contiguous weights, on
// every target and strategy.
TEST(FffLayerTest, StridedRecordWeightsEqualContiguousBitwise) {
  FffShape s;
  s.d_in = 37;
  s.d_out = 21;
  s.depth = 5;
  s.n_trees = 2;
  const testing::FffWeights w = testing::MakeRandomWeights(s, 77);
  const int64_t total = s.n_total_nodes();
  const int64_t record = s.d_in + s.d_out + 6;  // padding between rows
  std::vector<float> records(static_cast<size_t>(total * record),
                             std::numeric_limits<float>::quiet_NaN());
  for (int64_t g = 0; g < total; ++g) {
    std::copy_n(w.w_in.begin() + g * s.d_in, s.d_in,
                records.begin() + g * record);
    std::copy_n(w.w_out.begin() + g * s.d_out, s.d_out,
                records.begin() + g * record + s.d_in);
  }
  FffWeightsView strided;
  strided.w_in = std::span<const float>(records).first(
      static_cast<size_t>((total - 1) * record + s.d_in));
  strided.w_out = std::span<const float>(records).subspan(
      static_cast<size_t>(s.d_in),
      static_cast<size_t>((total - 1) * record + s.d_out));
  strided.b_in = w.b_in;
  strided.w_in_stride = record;
  strided.w_out_stride = record;
  const int64_t n_rows = 300;
  const std::vector<float> x =
      testing::MakeRandomRows(n_rows, s.d_in, s.d_in, 0, 78);
  const std::vector<float> dy =
      testing::MakeRandomRows(n_rows, s.d_out, s.d_out, 0, 79);
  for (const auto* t : kernels::SupportedFffKernelTables()) {
    for (FffStrategy st : {FffStrategy::kRowWalk, FffStrategy::kLevelBatched}) {
      FffOptions opt;
      opt.target = t->name;
      opt.strategy = st;
      opt.n_threads = 2;
      std::vector<float> y[2], dx[2], dw_in[2], db_in[2], dw_out[2];
      std::vector<int32_t> nodes[2];
      std::vector<float> logits[2];
      for (int k = 0; k < 2; ++k) {
        auto layer = FffLayer::Create(s, k == 0 ? w.view() : strided, opt);
        ASSERT_TRUE(layer.ok()) << layer.status().ToString();
        y[k].assign(static_cast<size_t>(n_rows * s.d_out), 0.0f);
        nodes[k].assign(static_cast<size_t>(n_rows * s.n_visited()), 0);
        logits[k].assign(nodes[k].size(), 0.0f);
        ASSERT_TRUE(layer
                        ->Forward(MatrixView<const float>(x, n_rows, s.d_in),
                                  MatrixView<float>(y[k], n_rows, s.d_out),
                                  {nodes[k], logits[k]})
                        .ok());
        dx[k].assign(x.size(), 0.0f);
        dw_in[k].assign(static_cast<size_t>(total * s.d_in), 0.0f);
        db_in[k].assign(static_cast<size_t>(total), 0.0f);
        dw_out[k].assign(static_cast<size_t>(total * s.d_out), 0.0f);
        const Status b = layer->Backward(
            MatrixView<const float>(x, n_rows, s.d_in),
            MatrixView<const float>(dy, n_rows, s.d_out), {nodes[k], logits[k]},
            {MatrixView<float>(dx[k], n_rows, s.d_in), dw_in[k], db_in[k],
             dw_out[k]});
        ASSERT_TRUE(b.ok()) << b.ToString();
      }
      const std::string name = std::string(t->name) + " " + FffStrategyName(st);
      EXPECT_EQ(y[0], y[1]) << name;
      EXPECT_EQ(nodes[0], nodes[1]) << name;
      EXPECT_EQ(dx[0], dx[1]) << name;
      EXPECT_EQ(dw_in[0], dw_in[1]) << name;
      EXPECT_EQ(dw_out[0], dw_out[1]) << name;
    }
  }
  // A stride shorter than the row, or a span too short for the strides.
  FffWeightsView bad = strided;
  bad.w_in_stride = s.d_in - 1;
  EXPECT_FALSE(FffLayer::Create(s, bad).ok());
  bad = strided;
  bad.w_out = bad.w_out.first(bad.w_out.size() - 1);
  const auto r = FffLayer::Create(s, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("w_out"), std::string::npos)
      << r.status().ToString();
}

TEST(FffLayerTest, AutoStrategyFollowsThreshold) {
  const FffShape s{8, 8, 3, 1};
  const testing::FffWeights w = testing::MakeRandomWeights(s, 7);
  FffOptions opt;
  opt.n_threads = 1;
  opt.level_batched_min_rows = 10;
  auto layer = FffLayer::Create(s, w.view(), opt);
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ(layer->StrategyFor(9), FffStrategy::kRowWalk);
  EXPECT_EQ(layer->StrategyFor(10), FffStrategy::kLevelBatched);
}

TEST(FffLayerTest, RepackTorchLinearOutTransposes) {
  const FffShape s{4, 3, 1, 2};  // 6 nodes in total
  const int64_t total = s.n_total_nodes();
  std::vector<float> torch(static_cast<size_t>(s.d_out * total));
  for (int64_t o = 0; o < s.d_out; ++o) {
    for (int64_t g = 0; g < total; ++g) torch[o * total + g] = 100.0f * o + g;
  }
  std::vector<float> node_major(torch.size());
  ASSERT_TRUE(RepackTorchLinearOut(s, torch, node_major).ok());
  for (int64_t g = 0; g < total; ++g) {
    for (int64_t o = 0; o < s.d_out; ++o) {
      EXPECT_EQ(node_major[g * s.d_out + o], 100.0f * o + g);
    }
  }
  std::vector<float> short_out(torch.size() - 1);
  Status bad = RepackTorchLinearOut(s, torch, short_out);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("w_out"), std::string::npos) << bad.message();
  Status overlap = RepackTorchLinearOut(
      s, torch, std::span<float>(torch.data(), torch.size()));
  EXPECT_EQ(overlap.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fff
