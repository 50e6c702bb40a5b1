// Properties of FffLayer: valid routing, permutation equivariance, agreement
// with the masked-dense (training-time) computation, and bitwise determinism
// across thread counts, batch splits and strategies — on every target.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "fff/fff.h"
#include "src/kernels/fff_kernels.h"
#include "src/kernels/reference/fff_reference.h"
#include "tests/testing/fff_testing.h"

namespace fff {
namespace {

struct Batch {
  testing::FffWeights w;
  std::vector<float> x;
  int64_t n_rows;
};

Batch MakeBatch(const FffShape& s, int64_t n_rows, uint64_t seed) {
  Batch b{testing::MakeRandomWeights(s, seed), {}, n_rows};
  b.x = testing::MakeRandomRows(n_rows, s.d_in, s.d_in, 0, seed + 1);
  testing::ResampleForMargin(b.w, b.x.data(), s.d_in, n_rows, seed + 2);
  return b;
}

struct Output {
  std::vector<float> y;
  std::vector<int32_t> nodes;
  std::vector<float> logits;
};

// Rows [row_begin, row_begin + n_rows) of the batch through `layer`.
Output RunRows(FffLayer& layer, const Batch& b, int64_t row_begin,
               int64_t n_rows) {
  const FffShape& s = b.w.shape;
  Output out;
  out.y.resize(static_cast<size_t>(n_rows * s.d_out));
  out.nodes.resize(static_cast<size_t>(n_rows * s.n_visited()));
  out.logits.resize(out.nodes.size());
  MatrixView<const float> x(std::span<const float>(b.x).subspan(
                                static_cast<size_t>(row_begin * s.d_in),
                                static_cast<size_t>(n_rows * s.d_in)),
                            n_rows, s.d_in);
  MatrixView<float> y(out.y, n_rows, s.d_out);
  Status st = layer.Forward(x, y, {out.nodes, out.logits});
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

Output RunLayer(const Batch& b, const FffOptions& opt) {
  auto layer = FffLayer::Create(b.w.shape, b.w.view(), opt);
  EXPECT_TRUE(layer.ok()) << layer.status().ToString();
  if (!layer.ok()) return {};
  return RunRows(*layer, b, 0, b.n_rows);
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// One thread, row walk, on `target`: the baseline the other configurations
// must match bit for bit.
FffOptions RowWalkOptions(const char* target) {
  FffOptions opt;
  opt.target = target;
  opt.n_threads = 1;
  opt.strategy = FffStrategy::kRowWalk;
  return opt;
}

// 1x11 as published; a mid-depth forest; a wide depth-0 layer (every tree
// one neuron, so the dense top level is the whole routing); a shallow forest
// with 90 visits per row, so outputs take two passes (kOutputPassVisits).
const FffShape kShapes[] = {
    {768, 768, 11, 1}, {37, 29, 4, 5}, {5, 3, 0, 64}, {17, 19, 2, 30}};

TEST(FffPropertiesTest, RoutingFollowsChildLinks) {
  for (const FffShape& s : kShapes) {
    const Batch b = MakeBatch(s, 300, 11);
    for (const auto* t : kernels::SupportedFffKernelTables()) {
      for (auto st : {FffStrategy::kRowWalk, FffStrategy::kLevelBatched}) {
        FffOptions opt;
        opt.target = t->name;
        opt.strategy = st;
        const Output o = RunLayer(b, opt);
        for (int64_t r = 0; r < b.n_rows; ++r) {
          for (int64_t tr = 0; tr < s.n_trees; ++tr) {
            const int64_t at = (r * s.n_trees + tr) * (s.depth + 1);
            ASSERT_EQ(o.nodes[at], 0) << t->name << " row " << r;
            for (int64_t l = 0; l < s.depth; ++l) {
              const int32_t n = o.nodes[at + l];
              const int32_t want = 2 * n + 1 + (o.logits[at + l] > 0 ? 1 : 0);
              ASSERT_EQ(o.nodes[at + l + 1], want)
                  << t->name << " row " << r << " tree " << tr << " level "
                  << l;
            }
            ASSERT_LT(o.nodes[at + s.depth], s.n_nodes());
            ASSERT_GE(o.nodes[at + s.depth], (1 << s.depth) - 1);  // a leaf
          }
        }
      }
    }
  }
}

TEST(FffPropertiesTest, PermutingRowsPermutesOutputs) {
  for (const FffShape& s : kShapes) {
    Batch b = MakeBatch(s, 97, 21);
    std::vector<int64_t> perm(static_cast<size_t>(b.n_rows));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), std::mt19937_64(5));
    Batch p = b;
    for (int64_t r = 0; r < b.n_rows; ++r) {
      std::memcpy(&p.x[r * s.d_in], &b.x[perm[r] * s.d_in],
                  s.d_in * sizeof(float));
    }
    for (const auto* t : kernels::SupportedFffKernelTables()) {
      FffOptions opt;
      opt.target = t->name;
      const Output ob = RunLayer(b, opt), op = RunLayer(p, opt);
      for (int64_t r = 0; r < b.n_rows; ++r) {
        ASSERT_EQ(std::memcmp(&op.y[r * s.d_out], &ob.y[perm[r] * s.d_out],
                              s.d_out * sizeof(float)),
                  0)
            << t->name << " row " << r;
      }
    }
  }
}

TEST(FffPropertiesTest, AgreesWithMaskedDenseReference) {
  for (const FffShape& s : kShapes) {
    const Batch b = MakeBatch(s, 40, 31);
    std::vector<double> wi(b.w.w_in.begin(), b.w.w_in.end());
    std::vector<double> bi(b.w.b_in.begin(), b.w.b_in.end());
    std::vector<double> wo(b.w.w_out.begin(), b.w.w_out.end());
    std::vector<double> x(b.x.begin(), b.x.end());
    testing::FffReference ref = testing::ComputeReference(
        b.w, b.x.data(), s.d_in, b.n_rows);  // for the bounds
    reference::FffForwardMaskedDense(
        s, wi.data(), bi.data(), wo.data(), x.data(), s.d_in, b.n_rows,
        ref.y.data(), s.d_out, ref.nodes.data(), ref.logits.data());
    for (const auto* t : kernels::SupportedFffKernelTables()) {
      FffOptions opt;
      opt.target = t->name;
      const Output o = RunLayer(b, opt);
      const testing::FffComparison c =
          testing::Compare(ref, o.y.data(), s.d_out, o.nodes.data());
      EXPECT_TRUE(c.ok) << t->name << ": " << c.Describe();
    }
  }
}

TEST(FffPropertiesTest, BitsIndependentOfThreadsSplitsAndStrategy) {
  for (const FffShape& s : kShapes) {
    const Batch b = MakeBatch(s, 1000, 41);
    for (const auto* t : kernels::SupportedFffKernelTables()) {
      const FffOptions base = RowWalkOptions(t->name);
      const Output want = RunLayer(b, base);
      for (int threads : {1, 2, 3}) {
        for (auto st : {FffStrategy::kAuto, FffStrategy::kRowWalk,
                        FffStrategy::kLevelBatched}) {
          FffOptions opt = base;
          opt.n_threads = threads;
          opt.strategy = st;
          const Output got = RunLayer(b, opt);
          ASSERT_TRUE(SameBits(got.y, want.y))
              << t->name << " threads=" << threads << " strategy "
              << FffStrategyName(st);
          ASSERT_EQ(got.nodes, want.nodes);
          ASSERT_TRUE(SameBits(got.logits, want.logits));
        }
      }
      // Any split of the batch into consecutive calls.
      for (int64_t piece : {1, 7, 64, 333}) {
        FffOptions opt = base;
        opt.n_threads = 2;
        opt.strategy = FffStrategy::kAuto;
        auto layer = FffLayer::Create(s, b.w.view(), opt);
        ASSERT_TRUE(layer.ok()) << layer.status().ToString();
        std::vector<float> y;
        for (int64_t r0 = 0; r0 < b.n_rows; r0 += piece) {
          const int64_t n = std::min(piece, b.n_rows - r0);
          const Output part = RunRows(*layer, b, r0, n);
          y.insert(y.end(), part.y.begin(), part.y.end());
        }
        ASSERT_TRUE(SameBits(y, want.y)) << t->name << " piece " << piece;
      }
    }
  }
}

// Dense top levels (every node of a tree's top levels computed for every
// row, several weight rows per pass over the inputs, DotTile) must give each
// row exactly the logits, path and output of a row walk: for every level
// count, on every target, with d_in covering 0 to 3 whole vectors after the
// 4-vector blocks and a partial vector, and batches that leave partial row
// and column tiles.
TEST(FffPropertiesTest, DenseTopLevelsMatchRowWalkBits) {
  struct Case {
    FffShape shape;
    int64_t n_rows;
  };
  const Case cases[] = {{{1, 3, 0, 13}, 5},    {{3, 5, 1, 7}, 64},
                        {{17, 9, 2, 11}, 70},  {{40, 6, 3, 3}, 37},
                        {{50, 7, 6, 2}, 40},   {{64, 33, 5, 4}, 19},
                        {{773, 17, 2, 9}, 66}, {{768, 20, 11, 1}, 16}};
  for (const Case& c : cases) {
    const FffShape& s = c.shape;
    const Batch b = MakeBatch(s, c.n_rows, 53 + s.d_in);
    for (const auto* t : kernels::SupportedFffKernelTables()) {
      const FffOptions base = RowWalkOptions(t->name);
      const Output want = RunLayer(b, base);
      for (int64_t dense = 0; dense <= kernels::kMaxDenseLevels; ++dense) {
        for (int threads : {1, 2}) {
          FffOptions opt = base;
          opt.strategy = FffStrategy::kLevelBatched;
          opt.dense_top_levels = dense;
          opt.n_threads = threads;
          const Output got = RunLayer(b, opt);
          const std::string where = std::string(t->name) +
                                    " d_in=" + std::to_string(s.d_in) +
                                    " depth=" + std::to_string(s.depth) +
                                    " dense=" + std::to_string(dense) +
                                    " threads=" + std::to_string(threads);
          ASSERT_EQ(got.nodes, want.nodes) << where;
          ASSERT_TRUE(SameBits(got.logits, want.logits)) << where;
          ASSERT_TRUE(SameBits(got.y, want.y)) << where;
        }
      }
    }
  }
}

// Runs the batch into y rows y_stride floats apart, starting `offset` floats
// into a 64-byte-aligned buffer whose other elements hold a sentinel;
// returns [n_rows, d_out] unpadded and checks that no sentinel changed.
std::vector<float> RunIntoStridedY(const Batch& b, const FffOptions& opt,
                                   int64_t y_stride, int64_t offset = 0) {
  const FffShape& s = b.w.shape;
  constexpr float kSentinel = -1234.5f;
  AlignedVector<float> y(static_cast<size_t>(offset + b.n_rows * y_stride),
                         kSentinel);
  auto layer = FffLayer::Create(s, b.w.view(), opt);
  EXPECT_TRUE(layer.ok()) << layer.status().ToString();
  const Status st =
      layer->Forward(MatrixView<const float>(b.x, b.n_rows, s.d_in),
                     MatrixView<float>(std::span<float>(y).subspan(offset),
                                       b.n_rows, s.d_out, y_stride));
  EXPECT_TRUE(st.ok()) << st.ToString();
  for (int64_t i = 0; i < offset; ++i) EXPECT_EQ(y[i], kSentinel);
  std::vector<float> out;
  for (int64_t r = 0; r < b.n_rows; ++r) {
    const float* row = y.data() + offset + r * y_stride;
    out.insert(out.end(), row, row + s.d_out);
    for (int64_t c = s.d_out; c < y_stride; ++c) {
      EXPECT_EQ(row[c], kSentinel) << "row " << r << " padding column " << c;
    }
  }
  return out;
}

TEST(FffPropertiesTest, StreamedOutputsEqualCachedOnes) {
  // Streaming stores (forced with a zero threshold) write exactly what
  // regular stores write, on every target and for both strategies, for
  // whole vectors and the scalar tail (d_out 517 in rows of 528 floats,
  // 64-byte aligned), and never touch the padding between rows.
  // The second shape has 80 visits per row, more than one output pass (64):
  // only the last pass streams.
  for (const FffShape& s : {FffShape{37, 517, 6, 3}, FffShape{9, 517, 3, 20}}) {
    const Batch b = MakeBatch(s, 700, 61);
    for (const auto* t : kernels::SupportedFffKernelTables()) {
      for (auto strategy :
           {FffStrategy::kRowWalk, FffStrategy::kLevelBatched}) {
        FffOptions cached;
        cached.target = t->name;
        cached.n_threads = 2;
        cached.strategy = strategy;
        cached.stream_outputs_min_bytes = int64_t{1} << 40;  // never
        FffOptions streamed = cached;
        streamed.stream_outputs_min_bytes = 0;  // always (rows are aligned)
        const std::vector<float> want = RunIntoStridedY(b, cached, 528);
        const std::vector<float> got = RunIntoStridedY(b, streamed, 528);
        ASSERT_TRUE(SameBits(got, want))
            << t->name << " strategy " << FffStrategyName(strategy);
        // Rows that are not 64-byte aligned (odd stride, or a misaligned
        // start) fall back to regular stores instead of faulting.
        ASSERT_TRUE(SameBits(RunIntoStridedY(b, streamed, 517), want))
            << t->name;
        ASSERT_TRUE(SameBits(RunIntoStridedY(b, streamed, 528, 1), want))
            << t->name;
      }
    }
  }
}

TEST(FffPropertiesTest, LargeBatchSplitsRecursivelyAndChunks) {
  // 20000 rows: more than one 16384-row chunk, and enough rows per subtree
  // for the grouped router to split twice (top pass, then again inside
  // each subtree). Must equal the reference and the row walk bit for bit.
  const FffShape s{9, 5, 13, 1};
  const Batch b = MakeBatch(s, 20000, 51);
  const testing::FffReference ref =
      testing::ComputeReference(b.w, b.x.data(), s.d_in, b.n_rows);
  for (const auto* t : kernels::SupportedFffKernelTables()) {
    FffOptions opt;
    opt.target = t->name;
    opt.strategy = FffStrategy::kLevelBatched;
    const Output grouped = RunLayer(b, opt);
    const testing::FffComparison c =
        testing::Compare(ref, grouped.y.data(), s.d_out, grouped.nodes.data());
    ASSERT_TRUE(c.ok) << t->name << ": " << c.Describe();
    opt.strategy = FffStrategy::kRowWalk;
    const Output walk = RunLayer(b, opt);
    ASSERT_TRUE(SameBits(grouped.y, walk.y)) << t->name;
    ASSERT_EQ(grouped.nodes, walk.nodes) << t->name;
  }
}

TEST(FffPropertiesTest, FlipAtTinyLogitIsReportedAsRoutingDifference) {
  // d_in = 2, one tree of depth 1. Root logit in exact arithmetic:
  // 1*1 + 1e-8*1 - 1 = 1e-8 > 0 (go right), but in float 1 + 1e-8 rounds
  // to 1, so a float kernel computes exactly 0 and goes left.
  FffShape s{2, 3, 1, 1};
  testing::FffWeights w;
  w.shape = s;
  w.w_in = {1.0f, 1.0f, 0.5f, 0.25f, -0.5f, 0.75f};
  w.b_in = {-1.0f, 0.1f, 0.2f};
  w.w_out = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<float> x = {1.0f, 1e-8f};
  const testing::FffReference ref =
      testing::ComputeReference(w, x.data(), 2, 1);
  ASSERT_EQ(ref.nodes[1], 2);                               // exact: right
  ASSERT_LT(std::fabs(ref.logits[0]), ref.logit_bound[0]);  // no margin
  for (const auto* t : kernels::SupportedFffKernelTables()) {
    FffOptions opt;
    opt.target = t->name;
    auto layer = FffLayer::Create(s, w.view(), opt);
    ASSERT_TRUE(layer.ok());
    std::vector<float> y(3);
    std::vector<int32_t> nodes(2);
    ASSERT_TRUE(
        layer
            ->Forward(MatrixView<const float>(std::span<const float>(x), 1, 2),
                      MatrixView<float>(y, 1, 3), {nodes, {}})
            .ok());
    EXPECT_EQ(nodes[1], 1) << t->name;  // float: left
    const testing::FffComparison c =
        testing::Compare(ref, y.data(), 3, nodes.data());
    EXPECT_FALSE(c.ok);
    EXPECT_EQ(c.n_flips, 1);
    EXPECT_EQ(c.flip_row, 0);
    EXPECT_EQ(c.flip_level, 0);
    EXPECT_NEAR(c.flip_logit, 1e-8, 1e-9);
    EXPECT_NE(c.Describe().find("routing flip"), std::string::npos);
  }
}

}  // namespace
}  // namespace fff
