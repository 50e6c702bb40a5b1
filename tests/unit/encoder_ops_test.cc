// The encoder's ops against double-precision references: the attention core
// (plain version and the SIMD kernel on every compiled target), LayerNorm,
// GELU-gated units and the sinusoid table (Linear: linear_test.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "src/kernels/encoder_kernels.h"
#include "src/kernels/encoder_ops.h"

namespace fff {
namespace {

constexpr double kU = 1.0 / (1 << 24);  // float unit roundoff

std::vector<float> Uniform(size_t n, uint64_t seed, float lo = -1, float hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Attention for one head in double, plus a per-element error bound: a score
// error of (d_head + 2) u sum|q k| scale moves each probability by at most
// |p| 2 max|ds| (softmax is 1-Lipschitz in that sense), and the context sums
// n probability-weighted values.
void ReferenceHead(const std::vector<float>& qkv, int64_t n, int64_t head,
                   int64_t n_heads, int64_t d_head, double scale,
                   std::vector<double>* out, std::vector<double>* bound) {
  const int64_t dm = n_heads * d_head, st = 3 * dm;
  const int64_t qo = head * 3 * d_head, ko = qo + d_head, vo = qo + 2 * d_head;
  out->assign(static_cast<size_t>(n * d_head), 0);
  bound->assign(static_cast<size_t>(n * d_head), 0);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> s(n), e(n);
    double mx = -1e300, ds = 0;
    for (int64_t j = 0; j < n; ++j) {
      double dot = 0, mag = 0;
      for (int64_t c = 0; c < d_head; ++c) {
        dot += double{qkv[i * st + qo + c]} * qkv[j * st + ko + c];
        mag += std::fabs(double{qkv[i * st + qo + c]} * qkv[j * st + ko + c]);
      }
      s[j] = dot * scale;
      ds = std::max(ds, (d_head + 4) * kU * mag * scale + kU * std::fabs(s[j]));
      mx = std::max(mx, s[j]);
    }
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += e[j] = std::exp(s[j] - mx);
    for (int64_t c = 0; c < d_head; ++c) {
      double acc = 0, mag = 0;
      for (int64_t j = 0; j < n; ++j) {
        const double v = qkv[j * st + vo + c];
        acc += e[j] / sum * v;
        mag += e[j] / sum * std::fabs(v);
      }
      (*out)[i * d_head + c] = acc;
      // exp approximations: a few ulp relative on each probability.
      (*bound)[i * d_head + c] = mag * (4 * ds + (n + 16) * kU) + 1e-30;
    }
  }
}

TEST(AttentionTest, EveryTargetMatchesReference) {
  const auto tables = kernels::SupportedEncoderKernelTables();
  ASSERT_FALSE(tables.empty());
  for (const auto* t : tables) {
    for (int64_t d_head : {8, 16, 64}) {
      // Every tail of the query tiles (1..8 queries) and of the key blocks.
      for (int64_t n : {1, 2, 3, 4, 5, 6, 7, 12, 16, 17, 27, 33, 128}) {
        const int64_t n_heads = 3, dm = n_heads * d_head;
        const std::vector<float> qkv = Uniform(static_cast<size_t>(n * 3 * dm),
                                               1000 + n * 7 + d_head, -2, 2);
        std::vector<float> ctx(static_cast<size_t>(n * dm), NAN);
        std::vector<float> scratch(
            static_cast<size_t>(kernels::AttentionScratchFloats(n, d_head)));
        const float scale = 1.0f / std::sqrt(static_cast<float>(d_head));
        for (int64_t h = 0; h < n_heads; ++h) {
          t->attention_head(qkv.data(), ctx.data(), n, h, n_heads, d_head,
                            scale, scratch.data());
        }
        for (int64_t h = 0; h < n_heads; ++h) {
          std::vector<double> want, bound;
          ReferenceHead(qkv, n, h, n_heads, d_head, scale, &want, &bound);
          double worst = 0;
          int64_t at = -1;
          for (int64_t i = 0; i < n; ++i) {
            for (int64_t c = 0; c < d_head; ++c) {
              const double got = ctx[i * dm + h * d_head + c];
              const double r = std::fabs(got - want[i * d_head + c]) /
                               bound[i * d_head + c];
              if (!(r <= worst)) worst = r, at = i * d_head + c;
            }
          }
          EXPECT_LE(worst, 1.0)
              << t->name << " n=" << n << " d_head=" << d_head << " head "
              << h << ": worst element " << at << " error/bound " << worst;
        }
      }
    }
  }
}

// The scalar AttentionCore (the fallback for narrow heads) too.
TEST(AttentionTest, PlainCoreMatchesReference) {
  const int64_t n = 19, n_heads = 2, d_head = 5, dm = n_heads * d_head;
  const std::vector<float> qkv = Uniform(static_cast<size_t>(n * 3 * dm), 7);
  std::vector<float> ctx(static_cast<size_t>(n * dm)), scores(n);
  AttentionCore(qkv.data(), ctx.data(), n, 0, n_heads, n_heads, d_head, 0.5f,
                scores.data());
  for (int64_t h = 0; h < n_heads; ++h) {
    std::vector<double> want, bound;
    ReferenceHead(qkv, n, h, n_heads, d_head, 0.5, &want, &bound);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t c = 0; c < d_head; ++c) {
        EXPECT_NEAR(ctx[i * dm + h * d_head + c], want[i * d_head + c],
                    bound[i * d_head + c]);
      }
    }
  }
}

// A sequence's keys beyond its length never leak in: outputs for the first
// n tokens do not change when the buffer holds more tokens after them.
TEST(AttentionTest, IgnoresRowsBeyondTheSequence) {
  for (const auto* t : kernels::SupportedEncoderKernelTables()) {
    const int64_t n = 20, d_head = 16, dm = d_head;
    std::vector<float> qkv = Uniform(static_cast<size_t>(40 * 3 * dm), 3);
    std::vector<float> a(static_cast<size_t>(n * dm)), b = a;
    std::vector<float> scratch(static_cast<size_t>(kernels::AttentionScratchFloats(n, d_head)));
    t->attention_head(qkv.data(), a.data(), n, 0, 1, d_head, 0.25f, scratch.data());
    for (size_t i = n * 3 * dm; i < qkv.size(); ++i) qkv[i] = 1e6f;
    t->attention_head(qkv.data(), b.data(), n, 0, 1, d_head, 0.25f, scratch.data());
    EXPECT_EQ(a, b) << t->name;
  }
}

// LayerNorm: the plain version and every target's kernel, rows with a large
// common offset, widths below, at and above the vector width.
TEST(LayerNormTest, MatchesReference) {
  using Fn = void (*)(const float*, float*, int64_t, int64_t, const float*,
                      const float*, float);
  std::vector<std::pair<std::string, Fn>> impls = {
      {"plain", [](const float* x, float* y, int64_t n, int64_t d,
                   const float* g, const float* b, float eps) {
         LayerNormRows(x, y, n, d, {g, static_cast<size_t>(d)},
                       b ? std::span<const float>(b, static_cast<size_t>(d))
                         : std::span<const float>(),
                       eps);
       }}};
  for (const auto* t : kernels::SupportedEncoderKernelTables()) {
    impls.emplace_back(t->name, t->layer_norm);
  }
  for (const auto& [name, fn] : impls) {
    for (int64_t d : {1, 3, 17, 768}) {
      for (bool with_beta : {true, false}) {
        const int64_t rows = 5;
        std::vector<float> x = Uniform(static_cast<size_t>(rows * d), d, -3, 5);
        for (float& v : x) v += 100.0f;  // a large common offset
        const std::vector<float> g = Uniform(static_cast<size_t>(d), 2, 0.5, 1.5);
        const std::vector<float> b = Uniform(static_cast<size_t>(d), 3);
        std::vector<float> y(x.size());
        fn(x.data(), y.data(), rows, d, g.data(), with_beta ? b.data() : nullptr,
           1e-12f);
        for (int64_t r = 0; r < rows; ++r) {
          double mean = 0, var = 0;
          for (int64_t i = 0; i < d; ++i) mean += x[r * d + i];
          mean /= d;
          for (int64_t i = 0; i < d; ++i) var += std::pow(x[r * d + i] - mean, 2);
          var /= d;
          const double inv = 1 / std::sqrt(var + 1e-12);
          for (int64_t i = 0; i < d; ++i) {
            const double z = (x[r * d + i] - mean) * inv;
            const double bi = with_beta ? b[i] : 0.0;
            const double want = z * g[i] + bi;
            // One rounding of z, then z g (+ b) in float: |dy| <= 3 u (|z g| +
            // |b|) (mean and variance are exact in double).
            const double tol = 3 * kU * (std::fabs(z * g[i]) + std::fabs(bi)) + 1e-12;
            EXPECT_NEAR(y[r * d + i], want, tol)
                << name << " d=" << d << " r=" << r << " i=" << i;
          }
        }
      }
    }
  }
}

TEST(GeluGluTest, MatchesReference) {
  const int64_t rows = 3, half = 37;
  const std::vector<float> in = Uniform(static_cast<size_t>(rows * 2 * half), 5, -4, 4);
  std::vector<float> out(static_cast<size_t>(rows * half));
  GeluGluRows(in.data(), out.data(), rows, half);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < half; ++i) {
      const double x = in[r * 2 * half + i], g = in[r * 2 * half + half + i];
      const double want = 0.5 * g * (1 + std::erf(g / std::sqrt(2.0))) * x;
      EXPECT_NEAR(out[r * half + i], want, 1e-6 * (1 + std::fabs(want)));
    }
  }
}

TEST(SinusoidTest, MatchesFormula) {
  const int64_t n = 128, d = 768;
  std::vector<float> t(static_cast<size_t>(n * d));
  SinusoidalTable(t.data(), n, d);
  for (int64_t p : {0, 1, 77, 127}) {
    for (int64_t i : {0, 1, 100, 383}) {
      const double freq = std::exp(-2.0 * i * std::log(10000.0) / d);
      // The table follows float32 arithmetic (pos * freq rounded): allow the
      // argument's rounding, |angle| u, times |d sin/d angle| <= 1.
      const double tol = p * freq * 4 * kU + 4 * kU;
      EXPECT_NEAR(t[p * d + 2 * i], std::sin(p * freq), tol);
      EXPECT_NEAR(t[p * d + 2 * i + 1], std::cos(p * freq), tol);
    }
  }
}

}  // namespace
}  // namespace fff
