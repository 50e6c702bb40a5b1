// FffLayer::Backward on every compiled SIMD target against the double
// precision gradients with derived error bounds (tests/testing/fff_testing.h),
// thread-count invariance, the reference against the masked-dense autograd
// computation and finite differences, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fff/fff.h"
#include "src/kernels/fff_kernels.h"
#include "src/kernels/reference/fff_reference.h"
#include "tests/testing/expect_status.h"
#include "tests/testing/fff_testing.h"

namespace fff {
namespace {

std::vector<float> RandomVector(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& e : v) {
    do e = u(rng);
    while (e == 0.0f);
  }
  return v;
}

// One forward + backward through an FffLayer; weight gradients start from
// the given initial values.
struct Grads {
  std::vector<float> dx, dw_in, db_in, dw_out;
  std::vector<int32_t> nodes;
  std::vector<float> logits;
};

Grads RunBackward(const testing::FffWeights& w, const std::vector<float>& x,
                  const std::vector<float>& dy, int64_t n_rows,
                  const FffOptions& opt, const Grads& init) {
  const FffShape& s = w.shape;
  auto layer = FffLayer::Create(s, w.view(), opt);
  EXPECT_TRUE(layer.ok()) << layer.status().ToString();
  Grads g = init;
  g.nodes.assign(static_cast<size_t>(n_rows * s.n_visited()), -1);
  g.logits.assign(g.nodes.size(), 0.0f);
  std::vector<float> y(static_cast<size_t>(n_rows * s.d_out));
  Status fwd = layer->Forward(MatrixView<const float>(x, n_rows, s.d_in),
                              MatrixView<float>(y, n_rows, s.d_out),
                              {g.nodes, g.logits});
  EXPECT_TRUE(fwd.ok()) << fwd.ToString();
  g.dx.assign(static_cast<size_t>(n_rows * s.d_in), -99.0f);
  Status bwd = layer->Backward(
      MatrixView<const float>(x, n_rows, s.d_in),
      MatrixView<const float>(dy, n_rows, s.d_out), {g.nodes, g.logits},
      {MatrixView<float>(g.dx, n_rows, s.d_in), g.dw_in, g.db_in, g.dw_out});
  EXPECT_TRUE(bwd.ok()) << bwd.ToString();
  return g;
}

Grads RandomInit(const FffShape& s, uint64_t seed) {
  const size_t total = static_cast<size_t>(s.n_total_nodes());
  Grads g;
  g.dw_in = RandomVector(total * s.d_in, seed, 0.1f);
  g.db_in = RandomVector(total, seed + 1, 0.1f);
  g.dw_out = RandomVector(total * s.d_out, seed + 2, 0.1f);
  return g;
}

struct Case {
  FffShape shape;
  std::vector<int64_t> n_rows;
};

// Depth 0 (one neuron) to 14 (a tree far larger than the batch: the sorted
// rather than counted bucketing), several trees, widths that are not vector
// multiples, and the UltraFastBERT-1x11 layer.
const Case kCases[] = {
    {{1, 1, 0, 1}, {1, 7, 300}},     {{3, 17, 1, 1}, {1, 64, 300}},
    {{17, 3, 2, 3}, {7, 300}},       {{64, 64, 4, 2}, {1, 64, 300}},
    {{773, 64, 5, 1}, {7, 100}},     {{16, 16, 0, 64}, {7, 64}},
    {{17, 5, 14, 1}, {1, 7, 64}},    {{768, 768, 11, 1}, {1, 64}},
};

TEST(FffBackwardTest, EveryTargetMatchesReference) {
  uint64_t seed = 500;
  for (const Case& c : kCases) {
    const FffShape& s = c.shape;
    const testing::FffWeights w = testing::MakeRandomWeights(s, seed++);
    for (int64_t n_rows : c.n_rows) {
      std::vector<float> x =
          testing::MakeRandomRows(n_rows, s.d_in, s.d_in, 0, seed++);
      testing::ResampleForMargin(w, x.data(), s.d_in, n_rows, seed++);
      const std::vector<float> dy =
          RandomVector(static_cast<size_t>(n_rows * s.d_out), seed++);
      const Grads init = RandomInit(s, seed++);
      const testing::FffReference fwd =
          testing::ComputeReference(w, x.data(), s.d_in, n_rows);
      const testing::FffBackwardReference ref =
          testing::ComputeBackwardReference(w, fwd, x.data(), s.d_in,
                                            dy.data(), s.d_out, init.dw_in,
                                            init.db_in, init.dw_out);
      for (const auto* t : kernels::SupportedFffKernelTables()) {
        const std::string name =
            std::string(t->name) + " d_in=" + std::to_string(s.d_in) +
            " d_out=" + std::to_string(s.d_out) +
            " depth=" + std::to_string(s.depth) +
            " n_trees=" + std::to_string(s.n_trees) +
            " n_rows=" + std::to_string(n_rows);
        FffOptions opt;
        opt.target = t->name;
        opt.n_threads = 2;
        const Grads g = RunBackward(w, x, dy, n_rows, opt, init);
        ASSERT_EQ(g.nodes, fwd.nodes) << name << ": routing flip";
        int64_t at = -1;
        double worst = testing::WorstRatio(g.dx.data(), ref.dx, ref.dx_bound,
                                           &at);
        ASSERT_LE(worst, 1.0) << name << ": dx[" << at << "] = " << g.dx[at]
                              << ", want " << ref.dx[at];
        worst = testing::WorstRatio(g.dw_in.data(), ref.dw_in, ref.dw_in_bound,
                                    &at);
        ASSERT_LE(worst, 1.0) << name << ": dw_in[" << at
                              << "] = " << g.dw_in[at] << ", want "
                              << ref.dw_in[at];
        worst = testing::WorstRatio(g.db_in.data(), ref.db_in, ref.db_in_bound,
                                    &at);
        ASSERT_LE(worst, 1.0) << name << ": db_in[" << at
                              << "] = " << g.db_in[at] << ", want "
                              << ref.db_in[at];
        worst = testing::WorstRatio(g.dw_out.data(), ref.dw_out,
                                    ref.dw_out_bound, &at);
        ASSERT_LE(worst, 1.0) << name << ": dw_out[" << at
                              << "] = " << g.dw_out[at] << ", want "
                              << ref.dw_out[at];
        // Rows of nodes no input visits are untouched, bit for bit.
        for (int64_t node = 0; node < s.n_total_nodes(); ++node) {
          if (ref.visited[node]) continue;
          ASSERT_EQ(0, std::memcmp(&g.dw_in[node * s.d_in],
                                   &init.dw_in[node * s.d_in],
                                   s.d_in * sizeof(float)))
              << name << ": dw_in row " << node << " touched";
          ASSERT_EQ(g.db_in[node], init.db_in[node]) << name;
          ASSERT_EQ(0, std::memcmp(&g.dw_out[node * s.d_out],
                                   &init.dw_out[node * s.d_out],
                                   s.d_out * sizeof(float)))
              << name << ": dw_out row " << node << " touched";
        }
      }
    }
  }
}

TEST(FffBackwardTest, BitwiseIndependentOfThreadsAndForwardStrategy) {
  for (const FffShape s :
       {FffShape{64, 48, 5, 2}, FffShape{40, 24, 12, 1}}) {
    const testing::FffWeights w = testing::MakeRandomWeights(s, 42);
    const int64_t n_rows = 1500;
    const std::vector<float> x =
        testing::MakeRandomRows(n_rows, s.d_in, s.d_in, 0, 43);
    const std::vector<float> dy =
        RandomVector(static_cast<size_t>(n_rows * s.d_out), 44);
    const Grads init = RandomInit(s, 45);
    for (const auto* t : kernels::SupportedFffKernelTables()) {
      FffOptions base;
      base.target = t->name;
      base.n_threads = 1;
      const Grads want = RunBackward(w, x, dy, n_rows, base, init);
      for (int threads : {2, 3, 5}) {
        for (FffStrategy st :
             {FffStrategy::kRowWalk, FffStrategy::kLevelBatched}) {
          FffOptions opt = base;
          opt.n_threads = threads;
          opt.strategy = st;
          const Grads got = RunBackward(w, x, dy, n_rows, opt, init);
          const std::string name = std::string(t->name) + " threads=" +
                                   std::to_string(threads) + " " +
                                   FffStrategyName(st);
          EXPECT_EQ(got.dx, want.dx) << name;
          EXPECT_EQ(got.dw_in, want.dw_in) << name;
          EXPECT_EQ(got.db_in, want.db_in) << name;
          EXPECT_EQ(got.dw_out, want.dw_out) << name;
        }
      }
    }
  }
}

// Accumulating two half batches equals one call over the whole batch, bit
// for bit (each weight row sums its rows in ascending order either way).
TEST(FffBackwardTest, AccumulatesAcrossCalls) {
  const FffShape s{24, 20, 4, 2};
  const testing::FffWeights w = testing::MakeRandomWeights(s, 7);
  const int64_t n = 200, half = 80;
  const std::vector<float> x = testing::MakeRandomRows(n, s.d_in, s.d_in, 0, 8);
  const std::vector<float> dy = RandomVector(static_cast<size_t>(n * s.d_out), 9);
  const Grads init = RandomInit(s, 10);
  FffOptions opt;
  opt.n_threads = 2;
  const Grads whole = RunBackward(w, x, dy, n, opt, init);
  const std::vector<float> x1(x.begin(), x.begin() + half * s.d_in);
  const std::vector<float> x2(x.begin() + half * s.d_in, x.end());
  const std::vector<float> dy1(dy.begin(), dy.begin() + half * s.d_out);
  const std::vector<float> dy2(dy.begin() + half * s.d_out, dy.end());
  const Grads first = RunBackward(w, x1, dy1, half, opt, init);
  const Grads second = RunBackward(w, x2, dy2, n - half, opt, first);
  EXPECT_EQ(second.dw_in, whole.dw_in);
  EXPECT_EQ(second.db_in, whole.db_in);
  EXPECT_EQ(second.dw_out, whole.dw_out);
  std::vector<float> dx = first.dx;
  dx.insert(dx.end(), second.dx.begin(), second.dx.end());
  EXPECT_EQ(dx, whole.dx);
}

// The conditional reference equals the gradients of the masked-dense
// computation (the paper's training module) and central finite differences
// of the forward, all in double.
TEST(FffBackwardTest, ReferenceMatchesMaskedDenseAndFiniteDifferences) {
  for (const FffShape s : {FffShape{5, 4, 0, 1}, FffShape{6, 3, 2, 1},
                           FffShape{4, 5, 3, 3}}) {
    const int64_t n = 9;
    std::mt19937_64 rng(77 + s.depth);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    auto fill = [&](std::vector<double>& v, size_t size) {
      v.resize(size);
      for (double& e : v) e = u(rng);
    };
    const int64_t total = s.n_total_nodes();
    std::vector<double> w_in, b_in, w_out, x, dy;
    fill(w_in, total * s.d_in);
    fill(b_in, total);
    fill(w_out, total * s.d_out);
    fill(x, n * s.d_in);
    fill(dy, n * s.d_out);
    std::vector<int32_t> nodes(n * s.n_visited());
    std::vector<double> logits(nodes.size()), y(n * s.d_out);
    reference::FffForward(s, w_in.data(), b_in.data(), w_out.data(), x.data(),
                          s.d_in, n, y.data(), s.d_out, nodes.data(),
                          logits.data());
    double min_logit = 1e9;
    for (double z : logits) min_logit = std::min(min_logit, std::fabs(z));
    std::vector<double> dx(n * s.d_in), dwi(w_in.size(), 0.0),
        dbi(b_in.size(), 0.0), dwo(w_out.size(), 0.0);
    reference::FffBackward(s, w_in.data(), w_out.data(), x.data(), s.d_in,
                           dy.data(), s.d_out, n, nodes.data(), logits.data(),
                           dx.data(), s.d_in, dwi.data(), dbi.data(),
                           dwo.data());
    std::vector<double> mdx(dx.size()), mdwi(dwi.size(), 0.0),
        mdbi(dbi.size(), 0.0), mdwo(dwo.size(), 0.0);
    reference::FffBackwardMaskedDense(
        s, w_in.data(), b_in.data(), w_out.data(), x.data(), s.d_in, dy.data(),
        s.d_out, n, mdx.data(), s.d_in, mdwi.data(), mdbi.data(), mdwo.data());
    auto expect_near = [](const std::vector<double>& a,
                          const std::vector<double>& b, double tol,
                          const char* what) {
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_NEAR(a[i], b[i], tol * (1.0 + std::fabs(b[i])))
            << what << "[" << i << "]";
      }
    };
    expect_near(dx, mdx, 1e-13, "dx vs masked dense");
    expect_near(dwi, mdwi, 1e-13, "dw_in vs masked dense");
    expect_near(dbi, mdbi, 1e-13, "db_in vs masked dense");
    expect_near(dwo, mdwo, 1e-13, "dw_out vs masked dense");

    // Finite differences of L = sum(y * dy), with steps far below the
    // smallest logit so no perturbation changes the routing.
    const double h = std::min(1e-6, 1e-3 * min_logit);
    auto loss = [&](const std::vector<double>& wi,
                    const std::vector<double>& bi,
                    const std::vector<double>& wo,
                    const std::vector<double>& xx) {
      std::vector<double> yy(n * s.d_out);
      reference::FffForward<double>(s, wi.data(), bi.data(), wo.data(),
                                    xx.data(), s.d_in, n, yy.data(), s.d_out,
                                    nullptr, nullptr);
      double l = 0;
      for (size_t i = 0; i < yy.size(); ++i) l += yy[i] * dy[i];
      return l;
    };
    auto check = [&](std::vector<double>& param, const std::vector<double>& grad,
                     const char* what) {
      for (size_t i = 0; i < param.size(); ++i) {
        const double keep = param[i];
        param[i] = keep + h;
        const double lp = loss(w_in, b_in, w_out, x);
        param[i] = keep - h;
        const double lm = loss(w_in, b_in, w_out, x);
        param[i] = keep;
        ASSERT_NEAR((lp - lm) / (2 * h), grad[i], 1e-6 * (1 + std::fabs(grad[i])))
            << what << "[" << i << "] depth " << s.depth;
      }
    };
    check(w_in, dwi, "dw_in");
    check(b_in, dbi, "db_in");
    check(w_out, dwo, "dw_out");
    check(x, dx, "dx");
  }
}

class FffBackwardErrorsTest : public ::testing::Test {
 protected:
  const FffShape s{8, 6, 2, 2};
  const int64_t n = 5;
  testing::FffWeights w = testing::MakeRandomWeights(s, 3);
  std::vector<float> x = testing::MakeRandomRows(n, s.d_in, s.d_in, 0, 4);
  std::vector<float> dy = RandomVector(n * s.d_out, 5);
  std::vector<float> dx = std::vector<float>(n * s.d_in);
  std::vector<float> dwi = std::vector<float>(s.n_total_nodes() * s.d_in);
  std::vector<float> dbi = std::vector<float>(s.n_total_nodes());
  std::vector<float> dwo = std::vector<float>(s.n_total_nodes() * s.d_out);
  std::vector<int32_t> nodes = std::vector<int32_t>(n * s.n_visited());
  std::vector<float> logits = std::vector<float>(n * s.n_visited());
  Result<FffLayer> layer = FffLayer::Create(s, w.view());

  void SetUp() override {
    ASSERT_TRUE(layer.ok());
    std::vector<float> y(n * s.d_out);
    ASSERT_TRUE(layer
                    ->Forward(MatrixView<const float>(x, n, s.d_in),
                              MatrixView<float>(y, n, s.d_out),
                              {nodes, logits})
                    .ok());
  }
  Status Run() {
    return layer->Backward(MatrixView<const float>(x, n, s.d_in),
                           MatrixView<const float>(dy, n, s.d_out),
                           {nodes, logits},
                           {MatrixView<float>(dx, n, s.d_in), dwi, dbi, dwo});
  }
};

TEST_F(FffBackwardErrorsTest, ValidCallSucceeds) { EXPECT_TRUE(Run().ok()); }

TEST_F(FffBackwardErrorsTest, WrongShapes) {
  Status st = layer->Backward(MatrixView<const float>(x, n, s.d_in),
                              MatrixView<const float>(dy, n, s.d_out - 1),
                              {nodes, logits},
                              {MatrixView<float>(dx, n, s.d_in), dwi, dbi, dwo});
  testing::ExpectError(st, StatusCode::kInvalidArgument,
                       {"dy", "expected 6 columns", "got 5"});
  st = layer->Backward(MatrixView<const float>(x, n, s.d_in),
                       MatrixView<const float>(dy, n - 1, s.d_out),
                       {nodes, logits},
                       {MatrixView<float>(dx, n, s.d_in), dwi, dbi, dwo});
  testing::ExpectError(st, StatusCode::kInvalidArgument,
                       {"dy", "expected 5 rows", "got 4"});
  dwi.pop_back();
  testing::ExpectError(Run(), StatusCode::kInvalidArgument,
                       {"dw_in", "expected 112 elements", "got 111"});
  dwi.push_back(0);
  logits.pop_back();
  testing::ExpectError(Run(), StatusCode::kInvalidArgument,
                       {"trace.logits", "expected 30 elements", "got 29"});
}

TEST_F(FffBackwardErrorsTest, TraceThatIsNotThePathOfItsLogits) {
  nodes[4] = nodes[4] == 3 ? 4 : 3;  // row 0, tree 1, level 1
  testing::ExpectError(Run(), StatusCode::kInvalidArgument,
                       {"trace.nodes", "row 0 tree 1 level 1"});
  nodes[4] = 1000;
  testing::ExpectError(Run(), StatusCode::kInvalidArgument,
                       {"trace.nodes", "got 1000"});
}

TEST_F(FffBackwardErrorsTest, OverlappingBuffers) {
  Status st = layer->Backward(
      MatrixView<const float>(x, n, s.d_in),
      MatrixView<const float>(dy, n, s.d_out), {nodes, logits},
      {MatrixView<float>(x, n, s.d_in), dwi, dbi, dwo});
  testing::ExpectError(st, StatusCode::kInvalidArgument, {"dx and x overlap"});
  st = layer->Backward(
      MatrixView<const float>(x, n, s.d_in),
      MatrixView<const float>(dy, n, s.d_out), {nodes, logits},
      {MatrixView<float>(dx, n, s.d_in), dwi, std::span<float>(dwi).first(dbi.size()), dwo});
  testing::ExpectError(st, StatusCode::kInvalidArgument,
                       {"dw_in and db_in overlap"});
}

TEST_F(FffBackwardErrorsTest, EmptyBatchIsANoOp) {
  std::vector<float> before = dwi;
  Status st = layer->Backward(MatrixView<const float>(x, 0, s.d_in),
                              MatrixView<const float>(dy, 0, s.d_out), {},
                              {MatrixView<float>(dx, 0, s.d_in), dwi, dbi, dwo});
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(dwi, before);
}

}  // namespace
}  // namespace fff
