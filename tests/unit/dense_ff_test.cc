// fff::DenseFf against the double-precision reference, with a tolerance
// derived from float32 error analysis (reference::DenseFfErrorBound), on both
// execution paths (large-batch sgemm, small-batch brgemm pieces), odd shapes,
// strided and misaligned views, 1 and 2 threads, and every invalid input.
#include "fff/dense_ff.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "src/kernels/reference/dense_ff_reference.h"

namespace fff {
namespace {

constexpr float kSentinel = -12345.0f;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_PRED2(Contains, (haystack), (needle))

// Uniform in +-[lo, hi]: never zero, random sign.
float NonZero(std::mt19937_64& rng, float lo, float hi) {
  std::uniform_real_distribution<float> mag(lo, hi);
  std::bernoulli_distribution sign(0.5);
  const float v = mag(rng);
  return sign(rng) ? v : -v;
}

struct Weights {
  DenseFfShape shape;
  std::vector<float> w1, b1, w2, b2;

  DenseFfWeightsView View() const { return {w1, b1, w2, b2}; }
};

// Scaled like a trained layer so pre-activations are O(1), where GELU is
// non-linear.
Weights MakeWeights(const DenseFfShape& s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Weights w;
  w.shape = s;
  const float s1 = 1.5f / std::sqrt(static_cast<float>(s.d_in));
  const float s2 = 1.5f / std::sqrt(static_cast<float>(s.d_hidden));
  w.w1.resize(static_cast<size_t>(s.d_hidden * s.d_in));
  for (float& v : w.w1) v = NonZero(rng, 0.05f, 1.0f) * s1;
  w.b1.resize(static_cast<size_t>(s.d_hidden));
  for (float& v : w.b1) v = NonZero(rng, 0.01f, 0.5f);
  w.w2.resize(static_cast<size_t>(s.d_out * s.d_hidden));
  for (float& v : w.w2) v = NonZero(rng, 0.05f, 1.0f) * s2;
  w.b2.resize(static_cast<size_t>(s.d_out));
  for (float& v : w.b2) v = NonZero(rng, 0.01f, 0.5f);
  return w;
}

// x as rows x d_in inside a bigger buffer: `offset` floats of padding in
// front (misaligning rows), row stride `stride` (0: d_in).
struct Input {
  std::vector<float> buffer;
  MatrixView<const float> view;
};

Input MakeInput(int64_t rows, int64_t d_in, uint64_t seed, int64_t offset = 0,
                int64_t stride = 0) {
  if (stride == 0) stride = d_in;
  std::mt19937_64 rng(seed);
  Input in;
  const int64_t extent = rows == 0 ? 0 : (rows - 1) * stride + d_in;
  in.buffer.assign(static_cast<size_t>(offset + extent + 1),
                   std::numeric_limits<float>::quiet_NaN());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < d_in; ++i) {
      in.buffer[offset + r * stride + i] = NonZero(rng, 0.1f, 1.5f);
    }
  }
  in.view.data = in.buffer.data() + offset;
  in.view.rows = rows;
  in.view.cols = d_in;
  in.view.stride = stride;
  in.view.capacity = static_cast<size_t>(extent);
  return in;
}

struct Output {
  std::vector<float> buffer;  // sentinels outside the view's elements
  MatrixView<float> view;
  int64_t offset = 0;
};

Output MakeOutput(int64_t rows, int64_t d_out, int64_t offset = 0,
                  int64_t stride = 0) {
  if (stride == 0) stride = d_out;
  Output out;
  out.offset = offset;
  const int64_t extent = rows == 0 ? 0 : (rows - 1) * stride + d_out;
  out.buffer.assign(static_cast<size_t>(offset + extent + 8), kSentinel);
  out.view.data = out.buffer.data() + offset;
  out.view.rows = rows;
  out.view.cols = d_out;
  out.view.stride = stride;
  out.view.capacity = static_cast<size_t>(extent);
  return out;
}

// Reference outputs and per-element tolerances.
struct Expected {
  std::vector<double> y;    // rows x d_out
  std::vector<double> tol;  // rows x d_out
};

Expected Reference(const Weights& w, const MatrixView<const float>& x) {
  const DenseFfShape& s = w.shape;
  Expected e;
  e.y.resize(static_cast<size_t>(x.rows * s.d_out));
  e.tol.resize(e.y.size());
  std::vector<double> z(static_cast<size_t>(x.rows * s.d_hidden));
  reference::DenseFfForward<double, float>(
      s, w.w1.data(), w.b1.data(), w.w2.data(), w.b2.data(), x.data, x.stride,
      x.rows, e.y.data(), s.d_out, z.data());
  for (int64_t r = 0; r < x.rows; ++r) {
    reference::DenseFfErrorBound(
        s, w.w1.data(), w.b1.data(), w.w2.data(), w.b2.data(), x.Row(r),
        z.data() + r * s.d_hidden, e.tol.data() + r * s.d_out);
  }
  return e;
}

// Every element within tolerance (worst one reported), padding untouched.
void ExpectMatches(const Expected& e, const Output& out,
                   const std::string& what) {
  const MatrixView<float>& y = out.view;
  double worst_ratio = -1;
  int64_t wr = -1, wc = -1;
  for (int64_t r = 0; r < y.rows; ++r) {
    for (int64_t c = 0; c < y.cols; ++c) {
      const double got = y.Row(r)[c];
      const double want = e.y[r * y.cols + c];
      const double tol = e.tol[r * y.cols + c];
      const double ratio = std::isfinite(got)
                               ? std::fabs(got - want) / tol
                               : std::numeric_limits<double>::infinity();
      if (ratio > worst_ratio) {
        worst_ratio = ratio;
        wr = r;
        wc = c;
      }
    }
  }
  if (std::getenv("DENSE_FF_TEST_VERBOSE") != nullptr) {
    std::printf("[ info     ] %s: worst |err|/tol %.3g\n", what.c_str(),
                worst_ratio);
  }
  if (y.rows > 0) {
    const double got = y.Row(wr)[wc];
    const double want = e.y[wr * y.cols + wc];
    const double tol = e.tol[wr * y.cols + wc];
    EXPECT_LE(worst_ratio, 1.0)
        << what << ": worst element row " << wr << " col " << wc << ": got "
        << got << ", want " << want << ", |diff| " << std::fabs(got - want)
        << ", tol " << tol;
  }
  // Nothing outside the view's elements was written.
  int64_t touched = 0;
  for (size_t i = 0; i < out.buffer.size(); ++i) {
    const int64_t k = static_cast<int64_t>(i) - out.offset;
    const bool inside =
        k >= 0 && k < y.ExtentElements() && k % y.stride < y.cols;
    if (!inside && out.buffer[i] != kSentinel) ++touched;
  }
  EXPECT_EQ(touched, 0) << what << ": elements outside the view written";
}

DenseFf MustCreate(const Weights& w, const DenseFfOptions& o) {
  Result<DenseFf> r = DenseFf::Create(w.shape, w.View(), o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

DenseFfOptions Opts(int n_threads, int64_t gemm_min_rows = -1,
                    int64_t chunk_rows = 0) {
  DenseFfOptions o;
  o.n_threads = n_threads;
  o.gemm_min_rows = gemm_min_rows;
  o.chunk_rows = chunk_rows;
  return o;
}

// Runs one configuration against the reference.
void CheckCase(const DenseFfShape& s, int64_t n_rows, const DenseFfOptions& o,
               uint64_t seed, int64_t x_offset = 0, int64_t x_stride = 0,
               int64_t y_offset = 0, int64_t y_stride = 0) {
  const std::string what =
      "d_in " + std::to_string(s.d_in) + " d_hidden " +
      std::to_string(s.d_hidden) + " d_out " + std::to_string(s.d_out) +
      " n_rows " + std::to_string(n_rows) + " threads " +
      std::to_string(o.n_threads) + " gemm_min_rows " +
      std::to_string(o.gemm_min_rows) + " chunk_rows " +
      std::to_string(o.chunk_rows) + " x(+" + std::to_string(x_offset) +
      ", stride " + std::to_string(x_stride) + ") y(+" +
      std::to_string(y_offset) + ", stride " + std::to_string(y_stride) + ")";
  SCOPED_TRACE(what);
  const Weights w = MakeWeights(s, seed);
  DenseFf ff = MustCreate(w, o);
  const Input in = MakeInput(n_rows, s.d_in, seed + 1, x_offset, x_stride);
  Output out = MakeOutput(n_rows, s.d_out, y_offset, y_stride);
  ASSERT_TRUE(ff.Forward(in.view, out.view).ok());
  ExpectMatches(Reference(w, in.view), out, what);
}

// ---- Correctness
// --------------------------------------------------------------

TEST(DenseFfTest, ZeroRowsIsOkAndWritesNothing) {
  const Weights w = MakeWeights({8, 16, 4}, 1);
  DenseFf ff = MustCreate(w, Opts(1));
  const Input in = MakeInput(0, 8, 2);
  Output out = MakeOutput(0, 4);
  ASSERT_TRUE(ff.Forward(in.view, out.view).ok());
  for (float v : out.buffer) EXPECT_EQ(v, kSentinel);
  // Null data is fine for zero rows.
  EXPECT_TRUE(
      ff.Forward(MatrixView<const float>({}, 0, 8), MatrixView<float>({}, 0, 4))
          .ok());
}

// With d_in = d_hidden = d_out = 1 and unit weights, y = GELU(x) exactly up
// to rounding, so the tolerance is tight enough to tell the exact erf form
// from the tanh approximation (which differs by up to ~5e-4 here).
TEST(DenseFfTest, GeluIsTheExactErfForm) {
  const DenseFfShape s{1, 1, 1};
  const int64_t n = 401;
  Weights w{s, {1.0f}, {0.0f}, {1.0f}, {0.0f}};
  Input in = MakeInput(n, 1, 1);
  for (int64_t r = 0; r < n; ++r) {
    in.buffer[r] = -5.0f + 10.0f * static_cast<float>(r) / (n - 1);
  }
  const Expected e = Reference(w, in.view);
  double tanh_gap = 0;
  for (int64_t r = 0; r < n; ++r) {
    const double z = in.buffer[r];
    const double gelu_tanh = 0.5 * z *
                             (1 + std::tanh(std::sqrt(2 / std::numbers::pi) *
                                            (z + 0.044715 * z * z * z)));
    tanh_gap = std::max(tanh_gap, std::fabs(gelu_tanh - e.y[r]) / e.tol[r]);
  }
  ASSERT_GT(tanh_gap, 10.0) << "the tolerance cannot tell erf from tanh";
  for (int64_t gemm_min : {int64_t{-1}, int64_t{0}}) {
    DenseFf ff = MustCreate(w, Opts(1, gemm_min));
    Output out = MakeOutput(n, 1);
    ASSERT_TRUE(ff.Forward(in.view, out.view).ok());
    ExpectMatches(e, out, "GELU(x), gemm_min_rows " + std::to_string(gemm_min));
  }
}

TEST(DenseFfTest, BertShapeMatchesReference) {
  const DenseFfShape s{768, 3072, 768};
  for (int64_t n : {1, 7, 64}) CheckCase(s, n, Opts(1), 10 + n);
  // The large-batch path at this shape: OneAndTwoThreadsAgree.
}

// Odd shapes on both paths; tiny dimensions pick different oneDNN kernels.
class DenseFfOddShapeTest
    : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t>> {};

TEST_P(DenseFfOddShapeTest, MatchesReference) {
  const auto [d_in, d_hidden, d_out] = GetParam();
  const DenseFfShape s{d_in, d_hidden, d_out};
  for (int64_t n : {1, 7, 64}) {
    CheckCase(s, n, Opts(1), 100 + n);                       // small-batch path
    CheckCase(s, n, Opts(1, /*gemm_min_rows=*/0), 200 + n);  // large
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, DenseFfOddShapeTest,
    ::testing::Values(std::make_tuple(1, 5, 1), std::make_tuple(3, 64, 3),
                      std::make_tuple(17, 5, 17), std::make_tuple(773, 64, 3),
                      std::make_tuple(3, 5, 17), std::make_tuple(17, 64, 1),
                      std::make_tuple(773, 5, 17), std::make_tuple(1, 64, 17)));

// 1000 rows cross the chunk size (256): even chunks of 250 rows, each on the
// large path, as small-path pieces (ladder 192 + 48 + 12, or padded), or the
// automatic choice.
TEST(DenseFfTest, ChunksAndPathsMatchReference) {
  const DenseFfShape s{96, 384, 80};
  for (int threads : {1, 2}) {
    CheckCase(s, 1000, Opts(threads, -1, 256), 300);
    CheckCase(s, 1000, Opts(threads, 0, 256), 301);
    CheckCase(s, 1000, Opts(threads, 251, 256), 302);  // all small path
    CheckCase(s, 1000, Opts(threads), 303);            // defaults
  }
  // Every remainder 1..40 of the small path's piece plan (padded pieces).
  for (int64_t n = 1; n <= 40; ++n) CheckCase(s, n, Opts(1, 1 << 20), 400 + n);
}

TEST(DenseFfTest, StridedAndMisalignedViewsMatchReference) {
  const DenseFfShape s{96, 384, 80};
  for (int64_t n : {1, 7, 64, 1000}) {
    for (int64_t gemm_min : {int64_t{0}, int64_t{1} << 20}) {
      // x offset by one float (4-byte aligned rows), stride d_in + 3; y
      // offset by one float, stride d_out + 2.
      CheckCase(s, n, Opts(1, gemm_min), 500 + n, 1, s.d_in + 3, 1,
                s.d_out + 2);
      CheckCase(s, n, Opts(2, gemm_min), 600 + n, 1, 0, 0, s.d_out + 5);
    }
  }
}

// 1 vs 2 threads: both within tolerance of the reference, hence within the
// sum of tolerances of each other. Bitwise equality is reported, not
// required (oneDNN may split a reduction differently per thread count).
TEST(DenseFfTest, OneAndTwoThreadsAgree) {
  for (const DenseFfShape& s :
       {DenseFfShape{96, 384, 80}, DenseFfShape{768, 3072, 768}}) {
    const Weights w = MakeWeights(s, 7);
    // At 500 rows the defaults pick the large path at 1 thread and the small
    // one at 2 (only checked at the cheap shape).
    for (int64_t n : {1, 16, 64, 300, 500}) {
      if (n == 500 && s.d_in != 96) continue;
      const Input in = MakeInput(n, s.d_in, 8);
      const Expected e = Reference(w, in.view);
      for (int64_t gemm_min : {int64_t{-1}, int64_t{0}}) {
        SCOPED_TRACE("d_in " + std::to_string(s.d_in) + " n_rows " +
                     std::to_string(n) + " gemm_min_rows " +
                     std::to_string(gemm_min));
        Output y1 = MakeOutput(n, s.d_out);
        Output y2 = MakeOutput(n, s.d_out);
        DenseFf f1 = MustCreate(w, Opts(1, gemm_min));
        DenseFf f2 = MustCreate(w, Opts(2, gemm_min));
        EXPECT_EQ(f1.n_threads(), 1);
        EXPECT_EQ(f2.n_threads(), 2);
        ASSERT_TRUE(f1.Forward(in.view, y1.view).ok());
        ASSERT_TRUE(f2.Forward(in.view, y2.view).ok());
        ExpectMatches(e, y1, "1 thread");
        ExpectMatches(e, y2, "2 threads");
        double worst = 0;
        for (size_t i = 0; i < e.y.size(); ++i) {
          const double d = std::fabs(double(y1.buffer[i]) - y2.buffer[i]);
          worst = std::max(worst, d / (2 * e.tol[i]));
        }
        EXPECT_LE(worst, 1.0);
        const bool bitwise = std::memcmp(y1.buffer.data(), y2.buffer.data(),
                                         y1.buffer.size() * sizeof(float)) == 0;
        std::printf(
            "[ info     ] d_in %lld n_rows %lld gemm_min_rows %lld: 1 vs "
            "2 threads %s\n",
            static_cast<long long>(s.d_in), static_cast<long long>(n),
            static_cast<long long>(gemm_min),
            bitwise ? "bitwise equal" : "differ in the last bits");
      }
    }
  }
}

TEST(DenseFfTest, RepeatedForwardIsDeterministic) {
  const DenseFfShape s{96, 384, 80};
  const Weights w = MakeWeights(s, 9);
  DenseFf ff = MustCreate(w, Opts(2));
  const Input in = MakeInput(77, s.d_in, 10);
  Output a = MakeOutput(77, s.d_out), b = MakeOutput(77, s.d_out);
  ASSERT_TRUE(ff.Forward(in.view, a.view).ok());
  ASSERT_TRUE(ff.Forward(in.view, b.view).ok());
  EXPECT_EQ(a.buffer, b.buffer);
}

TEST(DenseFfTest, ForwardRestoresOpenMpThreadCount) {
  const Weights w = MakeWeights({8, 16, 4}, 11);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(3);
  DenseFf ff = MustCreate(w, Opts(2));
  EXPECT_EQ(omp_get_max_threads(), 3);
  const Input in = MakeInput(5, 8, 12);
  Output out = MakeOutput(5, 4);
  ASSERT_TRUE(ff.Forward(in.view, out.view).ok());
  EXPECT_EQ(omp_get_max_threads(), 3);
  omp_set_num_threads(saved);
}

TEST(DenseFfTest, DefaultThreadsAreOpenMpMaximum) {
  const Weights w = MakeWeights({8, 16, 4}, 13);
  DenseFf ff = MustCreate(w, Opts(0));
  EXPECT_EQ(ff.n_threads(), omp_get_max_threads());
  EXPECT_EQ(ff.shape().d_hidden, 16);
}

TEST(DenseFfTest, MovedObjectStillWorks) {
  const DenseFfShape s{17, 64, 3};
  const Weights w = MakeWeights(s, 14);
  DenseFf a = MustCreate(w, Opts(1));
  DenseFf b = std::move(a);
  DenseFf c = MustCreate(MakeWeights({1, 5, 1}, 15), Opts(1));
  c = std::move(b);
  const Input in = MakeInput(9, s.d_in, 16);
  Output out = MakeOutput(9, s.d_out);
  ASSERT_TRUE(c.Forward(in.view, out.view).ok());
  ExpectMatches(Reference(w, in.view), out, "moved");
}

// ---- Invalid input
// ------------------------------------------------------------

void ExpectError(const Status& st, StatusCode code, const std::string& field) {
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), code) << st.ToString();
  EXPECT_CONTAINS(st.message(), (field)) << st.ToString();
  EXPECT_CONTAINS(st.message(), ("fff: ")) << st.ToString();
}

TEST(DenseFfTest, CreateRejectsBadShapes) {
  const Weights w = MakeWeights({4, 8, 2}, 20);
  for (const auto& [shape, field] :
       {std::make_pair(DenseFfShape{0, 8, 2}, "d_in"),
        std::make_pair(DenseFfShape{4, 0, 2}, "d_hidden"),
        std::make_pair(DenseFfShape{4, 8, 0}, "d_out"),
        std::make_pair(DenseFfShape{-1, 8, 2}, "d_in"),
        std::make_pair(DenseFfShape{4, -3, 2}, "d_hidden"),
        std::make_pair(DenseFfShape{4, 8, -2}, "d_out")}) {
    ExpectError(DenseFf::Create(shape, w.View()).status(),
                StatusCode::kInvalidArgument, field);
  }
  const int64_t huge = int64_t{1} << 40;
  ExpectError(DenseFf::Create({huge, huge, 1}, w.View()).status(),
              StatusCode::kOutOfRange, "d_hidden");
}

TEST(DenseFfTest, CreateRejectsBadWeights) {
  const DenseFfShape s{4, 8, 2};
  const Weights w = MakeWeights(s, 21);
  const std::vector<float> short_buf(3, 1.0f);
  const std::span<const float> shorter(short_buf);
  const std::span<const float> null_span;
  {
    DenseFfWeightsView v = w.View();
    v.w1 = std::span<const float>(w.w1).first(w.w1.size() - 1);
    const Status st = DenseFf::Create(s, v).status();
    ExpectError(st, StatusCode::kInvalidArgument, "weights.w1");
    EXPECT_CONTAINS(st.message(), ("expected 32 elements"));
    EXPECT_CONTAINS(st.message(), ("got 31"));
  }
  {
    DenseFfWeightsView v = w.View();
    v.b1 = shorter;
    ExpectError(DenseFf::Create(s, v).status(), StatusCode::kInvalidArgument,
                "weights.b1");
  }
  {
    DenseFfWeightsView v = w.View();
    v.w2 = std::span<const float>(w.w1);  // 32 elements, want 16
    ExpectError(DenseFf::Create(s, v).status(), StatusCode::kInvalidArgument,
                "weights.w2");
  }
  {
    DenseFfWeightsView v = w.View();
    v.b2 = shorter;
    ExpectError(DenseFf::Create(s, v).status(), StatusCode::kInvalidArgument,
                "weights.b2");
  }
  const char* names[] = {"weights.w1", "weights.b1", "weights.w2",
                         "weights.b2"};
  for (int k = 0; k < 4; ++k) {
    DenseFfWeightsView v = w.View();
    std::span<const float>* fields[] = {&v.w1, &v.b1, &v.w2, &v.b2};
    *fields[k] = null_span;
    const Status st = DenseFf::Create(s, v).status();
    ExpectError(st, StatusCode::kInvalidArgument, names[k]);
    EXPECT_CONTAINS(st.message(), ("null"));
  }
}

TEST(DenseFfTest, CreateRejectsBadOptions) {
  const Weights w = MakeWeights({4, 8, 2}, 22);
  ExpectError(DenseFf::Create(w.shape, w.View(), Opts(-1)).status(),
              StatusCode::kInvalidArgument, "n_threads");
  ExpectError(DenseFf::Create(w.shape, w.View(), Opts(5000)).status(),
              StatusCode::kInvalidArgument, "n_threads");
  ExpectError(DenseFf::Create(w.shape, w.View(), Opts(1, -2)).status(),
              StatusCode::kInvalidArgument, "gemm_min_rows");
  ExpectError(DenseFf::Create(w.shape, w.View(), Opts(1, -1, -5)).status(),
              StatusCode::kInvalidArgument, "chunk_rows");
}

TEST(DenseFfTest, ForwardRejectsBadViews) {
  const DenseFfShape s{4, 8, 2};
  const Weights w = MakeWeights(s, 23);
  DenseFf ff = MustCreate(w, Opts(1));
  std::vector<float> xb(64, 0.5f), yb(64, 0.0f);
  auto X = [&](int64_t rows, int64_t cols, int64_t stride = 0) {
    return MatrixView<const float>(std::span<const float>(xb), rows, cols,
                                   stride);
  };
  auto Y = [&](int64_t rows, int64_t cols, int64_t stride = 0) {
    return MatrixView<float>(std::span<float>(yb), rows, cols, stride);
  };
  const auto kInvalid = StatusCode::kInvalidArgument;

  // Column counts.
  Status st = ff.Forward(X(3, 5), Y(3, 2));
  ExpectError(st, kInvalid, "x");
  EXPECT_CONTAINS(st.message(), ("expected 4 columns (d_in), got 5"));
  st = ff.Forward(X(3, 4), Y(3, 3));
  ExpectError(st, kInvalid, "y");
  EXPECT_CONTAINS(st.message(), ("expected 2 columns (d_out), got 3"));
  // Row strides.
  ExpectError(ff.Forward(X(3, 4, 3), Y(3, 2)), kInvalid,
              "x: expected row stride");
  ExpectError(ff.Forward(X(3, 4), Y(3, 2, 1)), kInvalid,
              "y: expected row stride");
  // Row counts.
  ExpectError(ff.Forward(X(-1, 4), Y(-1, 2)), kInvalid,
              "x: expected rows >= 0");
  st = ff.Forward(X(3, 4), Y(2, 2));
  ExpectError(st, kInvalid, "y");
  EXPECT_CONTAINS(st.message(), ("expected 3 rows (as x), got 2"));
  // Short buffers: 64 floats hold 16 rows of x, 32 of y.
  st = ff.Forward(X(17, 4), Y(17, 2));
  ExpectError(st, kInvalid, "x: buffer too short");
  EXPECT_CONTAINS(st.message(), ("expected >= 68 elements"));
  ExpectError(ff.Forward(X(8, 4, 9), Y(8, 2)), kInvalid, "x: buffer too short");
  ExpectError(ff.Forward(X(3, 4), Y(3, 2, 40)), kInvalid,
              "y: buffer too short");
  // Null data.
  MatrixView<const float> x_null = X(3, 4);
  x_null.data = nullptr;
  ExpectError(ff.Forward(x_null, Y(3, 2)), kInvalid, "x: null data");
  MatrixView<float> y_null = Y(3, 2);
  y_null.data = nullptr;
  ExpectError(ff.Forward(X(3, 4), y_null), kInvalid, "y: null data");
  // Overlap of x and y (the same buffer, or a shifted window of it).
  MatrixView<const float> x_alias(std::span<const float>(yb), 3, 4);
  ExpectError(ff.Forward(x_alias, Y(3, 2)), kInvalid, "x and y overlap");
  MatrixView<float> y_shift(std::span<float>(yb).subspan(10), 3, 2);
  ExpectError(ff.Forward(x_alias, y_shift), kInvalid, "x and y overlap");
  // y over the weights.
  std::vector<float> w1_copy = w.w1;
  DenseFfWeightsView v = w.View();
  v.w1 = w1_copy;
  Result<DenseFf> ff3 = DenseFf::Create(s, v, Opts(1));
  ASSERT_TRUE(ff3.ok());
  MatrixView<float> y_on_w1(std::span<float>(w1_copy), 3, 2);
  ExpectError(ff3->Forward(X(3, 4), y_on_w1), kInvalid, "weights.w1");
  // Nothing was written by any rejected call.
  for (float e : yb) EXPECT_EQ(e, 0.0f);
  // A valid call still works afterwards.
  EXPECT_TRUE(ff.Forward(X(3, 4), Y(3, 2)).ok());
}

}  // namespace
}  // namespace fff
