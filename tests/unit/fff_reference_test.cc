// The scalar references: a hand-computed tree, and conditional ==
// masked-dense (the paper's training computation).
#include "src/kernels/reference/fff_reference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/testing/fff_testing.h"

namespace fff {
namespace {

TEST(FffReferenceTest, HandComputedDepthOne) {
  // d_in = 2, d_out = 1, one tree of depth 1 (nodes 0, 1, 2).
  FffShape s{2, 1, 1, 1};
  std::vector<double> w_in = {1, 0,    // node 0: z = x0
                              0, 1,    // node 1 (left): z = x1
                              0, -1};  // node 2 (right): z = -x1
  std::vector<double> b_in = {-0.5, 0.25, 0.0};
  std::vector<double> w_out = {2, 3, 5};  // node-major, d_out = 1
  std::vector<double> x = {1.0, 2.0};     // z0 = 0.5 > 0 -> right (node 2)
  std::vector<double> y(1);
  std::vector<int32_t> nodes(2);
  std::vector<double> logits(2);
  reference::FffForward(s, w_in.data(), b_in.data(), w_out.data(), x.data(), 2,
                        1, y.data(), 1, nodes.data(), logits.data());
  EXPECT_EQ(nodes[0], 0);
  EXPECT_EQ(nodes[1], 2);
  EXPECT_DOUBLE_EQ(logits[0], 0.5);
  EXPECT_DOUBLE_EQ(logits[1], -2.0);
  const double want = 2 * reference::Gelu(0.5) + 5 * reference::Gelu(-2.0);
  EXPECT_DOUBLE_EQ(y[0], want);
  // GELU itself: the erf form.
  EXPECT_NEAR(reference::Gelu(1.0), 0.8413447460685429, 1e-15);
}

TEST(FffReferenceTest, ZeroLogitGoesLeft) {
  FffShape s{1, 1, 1, 1};
  std::vector<double> w_in = {1, 1, 1}, b_in = {-1, 0, 0}, w_out = {1, 1, 1};
  std::vector<double> x = {1.0}, y(1);
  std::vector<int32_t> nodes(2);
  reference::FffForward(s, w_in.data(), b_in.data(), w_out.data(), x.data(), 1,
                        1, y.data(), 1, nodes.data(), (double*)nullptr);
  EXPECT_EQ(nodes[1], 1);  // z == 0 is not > 0
}

TEST(FffReferenceTest, ConditionalEqualsMaskedDense) {
  const FffShape shapes[] = {
      {17, 5, 0, 3}, {8, 3, 3, 2}, {33, 7, 6, 1}, {5, 9, 2, 16}};
  uint64_t seed = 1;
  for (const FffShape& s : shapes) {
    testing::FffWeights w = testing::MakeRandomWeights(s, seed++);
    const int64_t n_rows = 23;
    std::vector<float> xf =
        testing::MakeRandomRows(n_rows, s.d_in, s.d_in, 0, seed++);
    auto to_d = [](const auto& v) {
      return std::vector<double>(v.begin(), v.end());
    };
    std::vector<double> wi = to_d(w.w_in), bi = to_d(w.b_in),
                        wo = to_d(w.w_out), x = to_d(xf);
    const size_t ny = static_cast<size_t>(n_rows * s.d_out);
    const size_t nt = static_cast<size_t>(n_rows * s.n_visited());
    std::vector<double> y_c(ny), y_m(ny), z_c(nt), z_m(nt);
    std::vector<int32_t> n_c(nt), n_m(nt);
    reference::FffForward(s, wi.data(), bi.data(), wo.data(), x.data(), s.d_in,
                          n_rows, y_c.data(), s.d_out, n_c.data(), z_c.data());
    reference::FffForwardMaskedDense(s, wi.data(), bi.data(), wo.data(),
                                     x.data(), s.d_in, n_rows, y_m.data(),
                                     s.d_out, n_m.data(), z_m.data());
    EXPECT_EQ(n_c, n_m);
    EXPECT_EQ(z_c, z_m);
    for (size_t i = 0; i < ny; ++i) {
      // Same terms in the same order; masked nodes add exact zeros.
      ASSERT_EQ(y_c[i], y_m[i]) << "element " << i;
    }
  }
}

}  // namespace
}  // namespace fff
