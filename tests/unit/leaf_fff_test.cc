// The leaf FFF (fff/leaf_fff.h): every compiled SIMD target against the
// double reference with per-element error bounds derived from the float
// arithmetic, on seeded random inputs kept clear of zero router logits;
// bitwise independence of threads, batch splits and row order; the exact
// conversion from UltraFastBERT's FFF; hard inference as the limit of the
// soft training forward; bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fff/fff.h"
#include "fff/leaf_fff.h"
#include "src/kernels/leaf_fff_kernels.h"
#include "src/kernels/reference/leaf_fff_reference.h"
#include "tests/testing/expect_status.h"
#include "tests/testing/fff_testing.h"

namespace fff {
namespace {

using testing::kFloatU;
using testing::kGeluAbsError;
using testing::kGeluLipschitz;

// Seeded weights with router and hidden pre-activations of order one:
// input-side weights U(-1,1) sqrt(3/d_in), biases U(-0.5,0.5), output-side
// weights U(-1,1). Never all zero.
LeafFffWeights MakeLeafWeights(const LeafFffShape& s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const float in_scale = std::sqrt(3.0f / static_cast<float>(s.d_in));
  auto fill = [&](std::vector<float>* v, int64_t n, float scale) {
    v->resize(static_cast<size_t>(n));
    for (float& e : *v) e = u(rng) * scale;
  };
  LeafFffWeights w;
  w.shape = s;
  const int64_t units = s.n_leaves() * s.leaf_width;
  fill(&w.router_w, s.n_routers() * s.d_in, in_scale);
  fill(&w.router_b, s.n_routers(), 0.5f);
  fill(&w.leaf_w1, units * s.d_in, in_scale);
  fill(&w.leaf_b1, units, 0.5f);
  fill(&w.leaf_w2, units * s.d_out, 1.0f);
  fill(&w.leaf_b2, s.n_leaves() * s.d_out, 0.5f);
  return w;
}

// The double reference of a batch with the error a correct float kernel may
// show per element (u = 2^-24):
//   router / hidden pre-activation: |dz| <= (d_in + 2) u (sum |x w| + |b|)
//   activation: ReLU |dh|; GELU 1.13 |dh| + 2e-7 + u |a|
//   y_o: sum_k da_k |w2_ko| + (leaf_width + 2) u (sum_k |a_k w2_ko| + |b2_o|)
struct LeafReference {
  std::vector<double> y, y_bound;           // [n_rows, d_out]
  std::vector<int32_t> leaves;              // [n_rows]
  std::vector<double> logits, logit_bound;  // [n_rows, depth]
};

LeafReference ComputeLeafReference(const LeafFffWeights& w, const float* x,
                                   int64_t x_stride, int64_t n_rows) {
  const LeafFffShape& s = w.shape;
  LeafReference ref;
  ref.y.resize(static_cast<size_t>(n_rows * s.d_out));
  ref.y_bound.resize(ref.y.size());
  ref.leaves.resize(static_cast<size_t>(n_rows));
  ref.logits.resize(static_cast<size_t>(n_rows * s.depth));
  ref.logit_bound.resize(ref.logits.size());
  const double in_u = (s.d_in + 2) * kFloatU;
  const double out_u = (s.leaf_width + 2) * kFloatU;
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * x_stride;
    int64_t node = 0;
    for (int64_t level = 0; level < s.depth; ++level) {
      double z = w.router_b[node], mag = std::fabs(w.router_b[node]);
      for (int64_t i = 0; i < s.d_in; ++i) {
        const double t = double(xr[i]) * w.router_w[node * s.d_in + i];
        z += t;
        mag += std::fabs(t);
      }
      ref.logits[r * s.depth + level] = z;
      ref.logit_bound[r * s.depth + level] = in_u * mag;
      node = 2 * node + 1 + (z >= 0);
    }
    const int64_t leaf = node - s.n_routers();
    ref.leaves[r] = static_cast<int32_t>(leaf);
    double* y = ref.y.data() + r * s.d_out;
    double* yb = ref.y_bound.data() + r * s.d_out;
    std::vector<double> mag(static_cast<size_t>(s.d_out), 0.0);
    for (int64_t o = 0; o < s.d_out; ++o) {
      y[o] = 0;
      yb[o] = 0;
    }
    for (int64_t k = 0; k < s.leaf_width; ++k) {
      const int64_t unit = leaf * s.leaf_width + k;
      double h = w.leaf_b1[unit], hmag = std::fabs(w.leaf_b1[unit]);
      for (int64_t i = 0; i < s.d_in; ++i) {
        const double t = double(xr[i]) * w.leaf_w1[unit * s.d_in + i];
        h += t;
        hmag += std::fabs(t);
      }
      const double dh = in_u * hmag;
      const double a = reference::LeafActivate(s.activation, h);
      const double da =
          s.activation == LeafActivation::kGelu
              ? kGeluLipschitz * dh + kGeluAbsError + kFloatU * std::fabs(a)
              : dh;
      for (int64_t o = 0; o < s.d_out; ++o) {
        const double w2 = w.leaf_w2[unit * s.d_out + o];
        y[o] += a * w2;
        yb[o] += da * std::fabs(w2);
        mag[o] += std::fabs(a * w2);
      }
    }
    for (int64_t o = 0; o < s.d_out; ++o) {
      const double b2 = w.leaf_b2[leaf * s.d_out + o];
      y[o] += b2;
      yb[o] += out_u * (mag[o] + std::fabs(b2)) + 1e-30;
    }
  }
  return ref;
}

// Redraws rows until every router logit on the path is more than twice its
// bound (and more than `min_abs`) from zero: a correct float kernel then
// routes as the reference.
void ResampleLeafMargin(const LeafFffWeights& w, float* x, int64_t x_stride,
                        int64_t n_rows, uint64_t seed, double min_abs = 0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int attempt = 0;; ++attempt) {
      ASSERT_LT(attempt, 1000) << "no margin for row " << r;
      const LeafReference ref =
          ComputeLeafReference(w, x + r * x_stride, x_stride, 1);
      bool ok = true;
      for (size_t k = 0; k < ref.logits.size(); ++k) {
        ok &= std::fabs(ref.logits[k]) >
              std::max(2 * ref.logit_bound[k], min_abs);
      }
      if (ok) break;
      for (int64_t i = 0; i < w.shape.d_in; ++i) x[r * x_stride + i] = u(rng);
    }
  }
}

std::string Name(const char* target, const LeafFffShape& s, int64_t n_rows) {
  return std::string(target) + " d_in=" + std::to_string(s.d_in) +
         " d_out=" + std::to_string(s.d_out) +
         " depth=" + std::to_string(s.depth) +
         " width=" + std::to_string(s.leaf_width) + " " +
         LeafActivationName(s.activation) + " n_rows=" + std::to_string(n_rows);
}

struct Case {
  LeafFffShape shape;
  std::vector<int64_t> n_rows;
};

// Widths that are not multiples of any vector width, depth 0 (one leaf) to
// 12, leaf widths 1 to 33, both activations.
const Case kCases[] = {
    {{1, 1, 0, 1, LeafActivation::kRelu}, {0, 1, 7, 64}},
    {{3, 17, 1, 3, LeafActivation::kGelu}, {1, 7, 64, 1000}},
    {{17, 3, 2, 8, LeafActivation::kRelu}, {1, 7, 64, 1000}},
    {{64, 64, 4, 33, LeafActivation::kGelu}, {1, 7, 64, 1000}},
    {{773, 64, 5, 4, LeafActivation::kRelu}, {1, 7, 64, 300}},
    {{64, 773, 3, 16, LeafActivation::kGelu}, {1, 7, 64}},
    {{17, 5, 12, 2, LeafActivation::kGelu}, {1, 7, 64, 1000}},
    {{768, 768, 6, 12, LeafActivation::kGelu}, {1, 64, 300}},
};

TEST(LeafFffLayerTest, EveryTargetMatchesReference) {
  uint64_t seed = 500;
  for (const Case& c : kCases) {
    const LeafFffShape& s = c.shape;
    const LeafFffWeights w = MakeLeafWeights(s, seed++);
    for (const int64_t n_rows : c.n_rows) {
      // Misaligned, strided views: x 1 float into its buffer with 3 floats
      // of padding per row, y 3 floats in with 5.
      const int64_t xs = s.d_in + 3, ys = s.d_out + 5;
      std::vector<float> xbuf =
          testing::MakeRandomRows(n_rows, s.d_in, xs, 1, seed++);
      ResampleLeafMargin(w, xbuf.data() + 1, xs, n_rows, seed++);
      const LeafReference ref =
          ComputeLeafReference(w, xbuf.data() + 1, xs, n_rows);
      for (const auto* t : kernels::SupportedLeafFffKernelTables()) {
        const std::string name = Name(t->name, s, n_rows);
        LeafFffOptions opt;
        opt.target = t->name;
        opt.n_threads = 2;
        auto layer = LeafFffLayer::Create(s, w.view(), opt);
        ASSERT_TRUE(layer.ok()) << name << ": " << layer.status().ToString();
        ASSERT_STREQ(layer->target_name(), t->name);
        const float kSentinel = -12345.0f;
        std::vector<float> ybuf(
            static_cast<size_t>(
                3 + (n_rows > 0 ? (n_rows - 1) * ys + s.d_out : 0) + 2),
            kSentinel);
        std::vector<int32_t> leaves(static_cast<size_t>(n_rows), -7);
        MatrixView<const float> x(std::span<const float>(xbuf).subspan(1),
                                  n_rows, s.d_in, xs);
        MatrixView<float> y(std::span<float>(ybuf).subspan(3), n_rows, s.d_out,
                            ys);
        const Status st = layer->Forward(x, y, leaves);
        ASSERT_TRUE(st.ok()) << name << ": " << st.ToString();
        ASSERT_EQ(leaves, ref.leaves) << name;
        for (int64_t r = 0; r < n_rows; ++r) {
          for (int64_t o = 0; o < s.d_out; ++o) {
            const double got = ybuf[3 + r * ys + o];
            const double want = ref.y[r * s.d_out + o];
            const double bound = ref.y_bound[r * s.d_out + o];
            ASSERT_LE(std::fabs(got - want), bound)
                << name << ": row " << r << " col " << o << " got " << got
                << " want " << want << " bound " << bound;
          }
        }
        for (size_t i = 0; i < ybuf.size(); ++i) {
          const int64_t rel = static_cast<int64_t>(i) - 3;
          const bool inside =
              rel >= 0 && rel < y.ExtentElements() && rel % ys < s.d_out;
          if (!inside) {
            ASSERT_EQ(ybuf[i], kSentinel) << name << ": padding " << i;
          }
        }
      }
    }
  }
}

// Forward of `x` with the given threads, split into calls of `split` rows.
std::vector<float> RunLayer(const LeafFffWeights& w,
                            const std::vector<float>& x, int64_t n_rows,
                            int n_threads, int64_t split, const char* target) {
  const LeafFffShape& s = w.shape;
  LeafFffOptions opt;
  opt.n_threads = n_threads;
  opt.target = target;
  auto layer = LeafFffLayer::Create(s, w.view(), opt);
  EXPECT_TRUE(layer.ok()) << layer.status().ToString();
  std::vector<float> y(static_cast<size_t>(n_rows * s.d_out));
  for (int64_t r0 = 0; r0 < n_rows; r0 += split) {
    const int64_t n = std::min(split, n_rows - r0);
    MatrixView<const float> xv(std::span<const float>(x).subspan(r0 * s.d_in),
                               n, s.d_in);
    MatrixView<float> yv(std::span<float>(y).subspan(r0 * s.d_out), n, s.d_out);
    EXPECT_TRUE(layer->Forward(xv, yv).ok());
  }
  return y;
}

TEST(LeafFffLayerTest, BitsIndependentOfThreadsSplitsAndRowOrder) {
  // Enough rows per leaf for full groups, partial groups and several tasks.
  const LeafFffShape s{96, 40, 3, 7, LeafActivation::kGelu};
  const LeafFffWeights w = MakeLeafWeights(s, 11);
  const int64_t n = 5000;  // more than one chunk of 4096
  const std::vector<float> x = testing::MakeNormalRows(n, s.d_in, 12);
  for (const auto* t : kernels::SupportedLeafFffKernelTables()) {
    const std::vector<float> base = RunLayer(w, x, n, 1, n, t->name);
    for (const int threads : {2, 3, 5}) {
      const std::vector<float> y = RunLayer(w, x, n, threads, n, t->name);
      ASSERT_EQ(0, std::memcmp(y.data(), base.data(), y.size() * 4))
          << t->name << " threads " << threads;
    }
    for (const int64_t split : {1, 3, 17, 1000}) {
      const std::vector<float> y = RunLayer(w, x, n, 2, split, t->name);
      ASSERT_EQ(0, std::memcmp(y.data(), base.data(), y.size() * 4))
          << t->name << " split " << split;
    }
    // Rows reversed: outputs reversed, bit for bit.
    std::vector<float> xr(x.size());
    for (int64_t r = 0; r < n; ++r) {
      std::copy_n(x.begin() + r * s.d_in, s.d_in,
                  xr.begin() + (n - 1 - r) * s.d_in);
    }
    const std::vector<float> yr = RunLayer(w, xr, n, 2, n, t->name);
    for (int64_t r = 0; r < n; ++r) {
      ASSERT_EQ(0, std::memcmp(yr.data() + (n - 1 - r) * s.d_out,
                               base.data() + r * s.d_out, s.d_out * 4))
          << t->name << " row " << r;
    }
  }
}

TEST(LeafFffLayerTest, UltraFastBertConvertsExactly) {
  uint64_t seed = 900;
  for (const int64_t depth : {0, 1, 3, 6}) {
    const FffShape us{37, 21, depth, 1};
    const testing::FffWeights uw = testing::MakeRandomWeights(us, seed++);
    auto lw = LeafFffFromUltraFastBert(us, uw.view());
    ASSERT_TRUE(lw.ok()) << lw.status().ToString();
    EXPECT_EQ(lw->shape.depth, depth);
    EXPECT_EQ(lw->shape.leaf_width, depth + 1);
    EXPECT_EQ(lw->shape.activation, LeafActivation::kGelu);
    const int64_t n = 300;
    std::vector<float> x =
        testing::MakeRandomRows(n, us.d_in, us.d_in, 0, seed++);
    testing::ResampleForMargin(uw, x.data(), us.d_in, n, seed++);
    for (const auto* t : kernels::SupportedLeafFffKernelTables()) {
      FffOptions fo;
      fo.target = t->name;
      auto ufb = FffLayer::Create(us, uw.view(), fo);
      ASSERT_TRUE(ufb.ok());
      LeafFffOptions lo;
      lo.target = t->name;
      auto leaf = LeafFffLayer::Create(lw->shape, lw->view(), lo);
      ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();
      std::vector<float> y_ufb(static_cast<size_t>(n * us.d_out));
      std::vector<float> y_leaf(y_ufb.size());
      std::vector<int32_t> nodes(static_cast<size_t>(n * (depth + 1)));
      std::vector<float> logits(nodes.size());
      std::vector<int32_t> leaves(static_cast<size_t>(n));
      MatrixView<const float> xv(std::span<const float>(x), n, us.d_in);
      ASSERT_TRUE(ufb->Forward(xv, MatrixView<float>(y_ufb, n, us.d_out),
                               {nodes, logits})
                      .ok());
      ASSERT_TRUE(
          leaf->Forward(xv, MatrixView<float>(y_leaf, n, us.d_out), leaves)
              .ok());
      for (int64_t r = 0; r < n; ++r) {
        // The leaf reached is UltraFastBERT's last node on the path.
        ASSERT_EQ(leaves[r] + lw->shape.n_routers(),
                  nodes[r * (depth + 1) + depth])
            << t->name << " depth " << depth << " row " << r;
      }
      // Same dot products, same activation, same output order (level k =
      // unit k), plus a zero bias: equal bit for bit on one target (up to
      // the sign of a zero).
      for (size_t i = 0; i < y_ufb.size(); ++i) {
        ASSERT_EQ(y_ufb[i] + 0.0f, y_leaf[i] + 0.0f)
            << t->name << " depth " << depth << " element " << i;
      }
    }
  }
}

TEST(LeafFffLayerTest, ConversionDiffersOnlyAtAZeroLogit) {
  // d_in = 1, x = 0: every logit is its bias. With the root's bias exactly 0
  // UltraFastBERT goes left, the leaf FFF right.
  const FffShape us{1, 2, 1, 1};
  testing::FffWeights uw = testing::MakeRandomWeights(us, 3);
  uw.b_in[0] = 0.0f;
  auto lw = LeafFffFromUltraFastBert(us, uw.view());
  ASSERT_TRUE(lw.ok());
  auto leaf = LeafFffLayer::Create(lw->shape, lw->view());
  auto ufb = FffLayer::Create(us, uw.view());
  ASSERT_TRUE(leaf.ok() && ufb.ok());
  const std::vector<float> x = {0.0f};
  std::vector<float> y1(2), y2(2);
  std::vector<int32_t> nodes(2), leaves(1);
  std::vector<float> logits(2);
  ASSERT_TRUE(
      ufb->Forward(MatrixView<const float>(std::span<const float>(x), 1, 1),
                   MatrixView<float>(y1, 1, 2), {nodes, logits})
          .ok());
  ASSERT_TRUE(
      leaf->Forward(MatrixView<const float>(std::span<const float>(x), 1, 1),
                    MatrixView<float>(y2, 1, 2), leaves)
          .ok());
  EXPECT_EQ(nodes[1], 1);   // left child
  EXPECT_EQ(leaves[0], 1);  // right leaf (node 2)
  EXPECT_NE(y1, y2);
}

TEST(LeafFffLayerTest, HardInferenceIsTheLimitOfSaturatedSoftRouting) {
  const LeafFffShape s{12, 5, 4, 6, LeafActivation::kGelu};
  LeafFffWeights w = MakeLeafWeights(s, 21);
  const int64_t n = 200;
  std::vector<float> x = testing::MakeRandomRows(n, s.d_in, s.d_in, 0, 22);
  // |z| > 0.01 for every router on every path: at scale 1e4 each sigmoid
  // is within e^-100 of 0 or 1.
  ResampleLeafMargin(w, x.data(), s.d_in, n, 23, 0.01);
  auto as_double = [](const std::vector<float>& v) {
    return std::vector<double>(v.begin(), v.end());
  };
  const std::vector<double> xd = as_double(x), w1 = as_double(w.leaf_w1),
                            b1 = as_double(w.leaf_b1),
                            w2 = as_double(w.leaf_w2),
                            b2 = as_double(w.leaf_b2);
  std::vector<double> hard(static_cast<size_t>(n * s.d_out));
  std::vector<int32_t> leaves(static_cast<size_t>(n));
  {
    const std::vector<double> rw = as_double(w.router_w),
                              rb = as_double(w.router_b);
    reference::LeafFffRefWeights<double> rwts{rw.data(), rb.data(), w1.data(),
                                              b1.data(), w2.data(), b2.data()};
    reference::LeafFffHard(s, rwts, xd.data(), s.d_in, n, hard.data(), s.d_out,
                           leaves.data(), static_cast<double*>(nullptr));
  }
  // The kernel agrees with the double hard reference.
  auto layer = LeafFffLayer::Create(s, w.view());
  ASSERT_TRUE(layer.ok());
  std::vector<float> y(hard.size());
  ASSERT_TRUE(layer
                  ->Forward(MatrixView<const float>(std::span<const float>(x),
                                                    n, s.d_in),
                            MatrixView<float>(y, n, s.d_out))
                  .ok());
  // Scaling every router by c multiplies its logit by c: the soft mixture
  // tends to the hard path, and its distance to the hard output shrinks.
  double prev_err = 1e300, prev_entropy = 1e300;
  for (const double c : {1.0, 10.0, 100.0, 1e4}) {
    std::vector<double> rw = as_double(w.router_w), rb = as_double(w.router_b);
    for (double& v : rw) v *= c;
    for (double& v : rb) v *= c;
    reference::LeafFffRefWeights<double> rwts{rw.data(), rb.data(), w1.data(),
                                              b1.data(), w2.data(), b2.data()};
    std::vector<double> soft(hard.size());
    std::vector<double> entropy(static_cast<size_t>(n * s.n_routers()));
    reference::LeafFffSoft(s, rwts, xd.data(), s.d_in, n, soft.data(), s.d_out,
                           static_cast<double*>(nullptr), entropy.data());
    double err = 0, mean_entropy = 0;
    for (size_t i = 0; i < soft.size(); ++i)
      err = std::max(err, std::fabs(soft[i] - hard[i]));
    for (double e : entropy) mean_entropy += e / entropy.size();
    EXPECT_LT(err, prev_err) << "scale " << c;
    // Every router's entropy falls as |z| grows (off-path routers included,
    // whose logits have no margin, so the mean need not reach zero).
    EXPECT_LT(mean_entropy, prev_entropy) << "scale " << c;
    prev_err = err;
    prev_entropy = mean_entropy;
    if (c == 1e4) {
      EXPECT_LT(err, 1e-9);
      for (size_t i = 0; i < y.size(); ++i) {
        EXPECT_NEAR(y[i], soft[i], 1e-4 * (1 + std::fabs(soft[i]))) << i;
      }
    }
  }
}

TEST(LeafFffLayerTest, RepackFromThePackageLayout) {
  const LeafFffShape s{5, 2, 2, 3, LeafActivation::kRelu};
  const int64_t n = s.n_leaves() * s.d_in * s.leaf_width;
  std::vector<float> pkg(static_cast<size_t>(n)), ours(pkg.size());
  for (int64_t i = 0; i < n; ++i) pkg[i] = static_cast<float>(i);
  ASSERT_TRUE(RepackFastFeedForwardW1(s, pkg, ours).ok());
  // w1s[l][i][k] -> leaf_w1[l][k][i]
  for (int64_t l = 0; l < s.n_leaves(); ++l) {
    for (int64_t i = 0; i < s.d_in; ++i) {
      for (int64_t k = 0; k < s.leaf_width; ++k) {
        ASSERT_EQ(ours[(l * s.leaf_width + k) * s.d_in + i],
                  pkg[(l * s.d_in + i) * s.leaf_width + k]);
      }
    }
  }
  testing::ExpectError(
      RepackFastFeedForwardW1(s, pkg, std::span<float>(ours).first(4)),
      StatusCode::kInvalidArgument, {"leaf_w1", std::to_string(n)});
  testing::ExpectError(RepackFastFeedForwardW1(s, pkg, std::span<float>(pkg)),
                       StatusCode::kInvalidArgument, {"overlap"});
}

TEST(LeafFffLayerTest, BadInputIsAnErrorNamingTheField) {
  using testing::ExpectError;
  const LeafFffShape s{4, 3, 2, 2, LeafActivation::kRelu};
  const LeafFffWeights w = MakeLeafWeights(s, 1);
  ExpectError(ValidateLeafFffShape({0, 3, 2, 2}), StatusCode::kInvalidArgument,
              {"d_in", "got 0"});
  ExpectError(ValidateLeafFffShape({4, 3, 31, 2}), StatusCode::kOutOfRange,
              {"depth", "0..30", "got 31"});
  ExpectError(ValidateLeafFffShape({4, 3, 2, 0}), StatusCode::kInvalidArgument,
              {"leaf_width", "got 0"});
  ExpectError(ValidateLeafFffShape({1 << 20, 1, 30, 1 << 20}),
              StatusCode::kOutOfRange, {"overflow"});
  LeafFffWeightsView v = w.view();
  v.leaf_b2 = v.leaf_b2.first(5);
  ExpectError(LeafFffLayer::Create(s, v).status(), StatusCode::kInvalidArgument,
              {"leaf_b2", "12", "got 5"});
  v = w.view();
  v.router_w = {};
  ExpectError(LeafFffLayer::Create(s, v).status(), StatusCode::kInvalidArgument,
              {"router_w"});
  LeafFffOptions bad_target;
  bad_target.target = "AVX9";
  ExpectError(LeafFffLayer::Create(s, w.view(), bad_target).status(),
              StatusCode::kNotFound, {"AVX9", "available"});
  auto layer = LeafFffLayer::Create(s, w.view());
  ASSERT_TRUE(layer.ok());
  std::vector<float> x(8), y(6);
  std::vector<int32_t> leaves(3);
  ExpectError(
      layer->Forward(MatrixView<const float>(std::span<const float>(x), 2, 4),
                     MatrixView<float>(y, 2, 3), leaves),
      StatusCode::kInvalidArgument, {"leaves", "expected 2", "got 3"});
  ExpectError(
      layer->Forward(MatrixView<const float>(std::span<const float>(x), 2, 4),
                     MatrixView<float>(std::span<float>(y).first(4), 2, 2)),
      StatusCode::kInvalidArgument, {"y", "3 columns", "got 2"});
  ExpectError(
      layer->Forward(MatrixView<const float>(std::span<const float>(x), 2, 4),
                     MatrixView<float>(std::span<float>(x).first(6), 2, 3)),
      StatusCode::kInvalidArgument, {"overlap"});
  const FffShape two_trees{4, 3, 2, 2};
  const testing::FffWeights uw = testing::MakeRandomWeights(two_trees, 2);
  ExpectError(LeafFffFromUltraFastBert(two_trees, uw.view()).status(),
              StatusCode::kInvalidArgument, {"n_trees", "got 2"});
}

}  // namespace
}  // namespace fff
