// Linear (src/kernels/linear.h, oneDNN) against a double-precision
// reference, its bitwise independence of batch position and thread count,
// and the tiled weight layout: tile/untile round trip, and a Linear made
// from tiled weights - read in place where the kernel reads that layout -
// computes exactly the bits of one made from PyTorch-layout weights.
#include "src/kernels/linear.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tests/testing/expect_status.h"

namespace fff {
namespace {

using ::fff::testing::ExpectError;

constexpr double kU = 1.0 / (1 << 24);  // float unit roundoff

std::vector<float> Uniform(size_t n, uint64_t seed, float lo = -1,
                           float hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(LinearTest, MatchesReferenceAndIsBitwiseIndependentOfBatch) {
  for (int64_t tile_cols : {0, 16}) {  // one tile; 3 tiles (16 + 16 + 13)
    for (auto act : {LinearActivation::kNone, LinearActivation::kGelu,
                     LinearActivation::kTanh}) {
      const int64_t d_in = 67, d_out = 45;
      const std::vector<float> w =
          Uniform(static_cast<size_t>(d_in * d_out), 11);
      const std::vector<float> b = Uniform(static_cast<size_t>(d_out), 12);
      LinearOptions lo;
      lo.activation = act;
      lo.n_threads = 2;
      lo.block_rows = 8;
      lo.tile_cols = tile_cols;
      Result<Linear> lr = Linear::Create(d_in, d_out, w, b, lo, "test");
      ASSERT_TRUE(lr.ok()) << lr.status().ToString();
      const int64_t rows = 29;
      const std::vector<float> x =
          Uniform(static_cast<size_t>(rows * d_in), 13);
      std::vector<float> y(static_cast<size_t>(rows * d_out));
      ASSERT_TRUE(lr->Forward(MatrixView<const float>(x, rows, d_in),
                              MatrixView<float>(y, rows, d_out), 2)
                      .ok());
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t o = 0; o < d_out; ++o) {
          double z = b[o], mag = std::fabs(b[o]);
          for (int64_t i = 0; i < d_in; ++i) {
            z += double{x[r * d_in + i]} * w[o * d_in + i];
            mag += std::fabs(double{x[r * d_in + i]} * w[o * d_in + i]);
          }
          double want = z;
          if (act == LinearActivation::kGelu)
            want = 0.5 * z * (1 + std::erf(z / std::sqrt(2.0)));
          if (act == LinearActivation::kTanh) want = std::tanh(z);
          const double tol =
              (d_in + 2) * kU * mag * 1.13 + 4e-7 * (1 + std::fabs(want));
          EXPECT_NEAR(y[r * d_out + o], want, tol)
              << "row " << r << " out " << o;
        }
      }
      // Each row alone, 1 thread: the same bits.
      for (int64_t r = 0; r < rows; r += 5) {
        std::vector<float> y1(static_cast<size_t>(d_out));
        ASSERT_TRUE(
            lr->Forward(MatrixView<const float>(
                            std::span<const float>(x).subspan(r * d_in, d_in),
                            1, d_in),
                        MatrixView<float>(y1, 1, d_out), 1)
                .ok());
        EXPECT_TRUE(std::equal(y1.begin(), y1.end(), y.begin() + r * d_out))
            << "row " << r << " tile_cols " << tile_cols;
      }
    }
  }
}

TEST(LinearTest, RejectsBadArguments) {
  const std::vector<float> w(12, 0.5f);
  EXPECT_FALSE(
      Linear::Create(4, 3, std::span<const float>(w).first(11), {}, {}, "w")
          .ok());
  Result<Linear> bad_b =
      Linear::Create(4, 3, w, std::vector<float>(2), {}, "bias");
  ASSERT_FALSE(bad_b.ok());
  EXPECT_NE(bad_b.status().message().find("bias"), std::string::npos);
  Result<Linear> l = Linear::Create(4, 3, w, {}, {}, "ok");
  ASSERT_TRUE(l.ok());
  std::vector<float> x(8), y(6);
  EXPECT_FALSE(l->Forward(MatrixView<const float>(x, 2, 4),
                          MatrixView<float>(y, 3, 2), 1)
                   .ok());
  EXPECT_FALSE(l->Forward(MatrixView<const float>(x, 1, 4, 8),
                          MatrixView<float>(y, 2, 3), 1)
                   .ok());
  EXPECT_TRUE(l->Forward(MatrixView<const float>(x, 2, 4),
                         MatrixView<float>(y, 2, 3), 1)
                  .ok());
}

TEST(LinearTiledTest, TileAndUntileRoundTripAndFollowTheFormula) {
  // One tile, exactly two tiles, and tiles with a narrow last one.
  for (int64_t d_out :
       {int64_t{5}, 2 * kLinearTileCols, 2 * kLinearTileCols + 45}) {
    const int64_t d_in = 7;
    const std::vector<float> w = Uniform(static_cast<size_t>(d_in * d_out), 21);
    std::vector<float> t(w.size()), back(w.size());
    ASSERT_STATUS_OK(TileLinearWeights(d_in, d_out, w, t));
    ASSERT_STATUS_OK(UntileLinearWeights(d_in, d_out, t, back));
    EXPECT_EQ(back, w);
    for (int64_t n : {int64_t{0}, d_out / 2, d_out - 1}) {
      for (int64_t k : {int64_t{0}, d_in - 1}) {
        const int64_t tile = n / kLinearTileCols;
        const int64_t cols =
            std::min(kLinearTileCols, d_out - tile * kLinearTileCols);
        EXPECT_EQ(t[static_cast<size_t>(tile * kLinearTileCols * d_in +
                                        k * cols + n % kLinearTileCols)],
                  w[static_cast<size_t>(n * d_in + k)])
            << "n " << n << " k " << k;
      }
    }
  }
  std::vector<float> w(12), t(11);
  EXPECT_FALSE(TileLinearWeights(4, 3, w, t).ok());
  EXPECT_FALSE(UntileLinearWeights(4, 3, t, w).ok());
}

TEST(LinearTiledTest, SameBitsAsPlainWeightsAndReadInPlace) {
  // d_out > one tile: each tile writes rows d_out apart, where oneDNN picks
  // its sgemm ("gemm:jit"), which reads exactly the tiled layout; one tile
  // may get another kernel (then the weights are repacked, same bits).
  for (int64_t d_out : {int64_t{45}, 2 * kLinearTileCols + 64}) {
    SCOPED_TRACE(d_out);
    const int64_t d_in = 96;
    const std::vector<float> w = Uniform(static_cast<size_t>(d_in * d_out), 31);
    const std::vector<float> b = Uniform(static_cast<size_t>(d_out), 32);
    std::vector<float> tiled(w.size());
    ASSERT_STATUS_OK(TileLinearWeights(d_in, d_out, w, tiled));
    LinearOptions lo;
    lo.activation = LinearActivation::kGelu;
    lo.n_threads = 2;
    lo.block_rows = 16;
    Result<Linear> plain = Linear::Create(d_in, d_out, w, b, lo, "plain");
    Result<Linear> viewed =
        Linear::CreateFromTiled(d_in, d_out, tiled, b, lo, "tiled");
    LinearOptions copy = lo;
    copy.view_tiled = false;
    Result<Linear> copied =
        Linear::CreateFromTiled(d_in, d_out, tiled, b, copy, "copied");
    ASSERT_STATUS_OK(plain.status());
    ASSERT_STATUS_OK(viewed.status());
    ASSERT_STATUS_OK(copied.status());
    EXPECT_FALSE(plain->views_weights());
    EXPECT_FALSE(copied->views_weights());
    if (d_out > kLinearTileCols &&
        viewed->impl_name().rfind("gemm:jit", 0) == 0) {
      EXPECT_TRUE(viewed->views_weights()) << viewed->impl_name();
    }
    const int64_t rows = 37;
    const std::vector<float> x = Uniform(static_cast<size_t>(rows * d_in), 33);
    std::vector<float> y0(static_cast<size_t>(rows * d_out)), y1(y0.size()),
        y2(y0.size());
    const MatrixView<const float> xv(x, rows, d_in);
    ASSERT_STATUS_OK(plain->Forward(xv, MatrixView<float>(y0, rows, d_out), 2));
    ASSERT_STATUS_OK(
        viewed->Forward(xv, MatrixView<float>(y1, rows, d_out), 2));
    ASSERT_STATUS_OK(
        copied->Forward(xv, MatrixView<float>(y2, rows, d_out), 1));
    EXPECT_EQ(y1, y0);
    EXPECT_EQ(y2, y0);
    // The in-place Linear reads the caller's array: a changed weight shows.
    if (viewed->views_weights()) {
      tiled[0] += 1.0f;  // W[0][0]
      std::vector<float> y3(y0.size());
      ASSERT_STATUS_OK(
          viewed->Forward(xv, MatrixView<float>(y3, rows, d_out), 2));
      EXPECT_NE(y3[0], y0[0]);
      EXPECT_EQ(y3[1], y0[1]);
    }
  }
}

TEST(LinearTiledTest, RejectsBadArguments) {
  const std::vector<float> t(12, 0.5f);
  ExpectError(Linear::CreateFromTiled(4, 3, std::span<const float>(t).first(11),
                                      {}, {}, "w")
                  .status(),
              StatusCode::kInvalidArgument, {"w", "tiled", "12", "11"});
  LinearOptions lo;
  lo.tile_cols = 16;
  ExpectError(Linear::CreateFromTiled(4, 3, t, {}, lo, "w").status(),
              StatusCode::kInvalidArgument, {"tile_cols", "384", "16"});
}

}  // namespace
}  // namespace fff
