// The vectorised GELU of every compiled SIMD target against the double
// precision erf GELU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "src/kernels/fff_kernels.h"
#include "src/kernels/reference/fff_reference.h"
#include "tests/testing/fff_testing.h"

namespace fff {
namespace {

using kernels::FffKernelTable;

// Half a unit in the last place of the float nearest to v: the error that
// rounding an exact result to float already makes.
double HalfUlp(double v) {
  const float f = static_cast<float>(std::fabs(v));
  return 0.5 * (std::nextafter(f, std::numeric_limits<float>::infinity()) - f);
}

TEST(GeluTest, EveryTargetWithin2e7OfErfGeluOnAbsXUpTo10) {
  // Dense sweep of [-10, 10] plus the region boundaries and their neighbours.
  std::vector<float> in;
  for (int i = -2000000; i <= 2000000; ++i) in.push_back(i * 5e-6f);
  for (float b : {2.0f, -2.0f, 12.0f, -12.0f, 0.0f, 1e-30f, -1e-30f}) {
    in.push_back(b);
    in.push_back(std::nextafter(b, 100.0f));
    in.push_back(std::nextafter(b, -100.0f));
  }
  std::vector<float> out(in.size());
  const auto tables = kernels::SupportedFffKernelTables();
  ASSERT_FALSE(tables.empty());
  for (const FffKernelTable* t : tables) {
    // Unaligned start and an odd length exercise the tail path.
    t->gelu(in.data() + 1, out.data() + 1, static_cast<int64_t>(in.size() - 2));
    double worst = 0, worst_x = 0, worst_excess = -1;
    for (size_t i = 1; i + 1 < in.size(); ++i) {
      const double want = reference::Gelu(static_cast<double>(in[i]));
      const double err = std::fabs(out[i] - want);
      const double excess = err - HalfUlp(want);
      if (excess > worst_excess) {
        worst_excess = excess;
        worst = err;
        worst_x = in[i];
      }
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3e (|err| %.3e at x=%.7g)", worst_excess,
                  worst, worst_x);
    RecordProperty(std::string("max_excess_") + t->name, buf);
    EXPECT_LE(worst_excess, testing::kGeluAbsError)
        << t->name << ": worst at x = " << worst_x << ": |err| " << worst
        << " exceeds 2e-7 + half ulp";
  }
}

TEST(GeluTest, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const FffKernelTable* t : kernels::SupportedFffKernelTables()) {
    std::vector<float> in = {inf, -inf, nan, 50.0f, -50.0f, 0.0f};
    std::vector<float> out(in.size());
    t->gelu(in.data(), out.data(), static_cast<int64_t>(in.size()));
    EXPECT_EQ(out[0], inf) << t->name;
    EXPECT_EQ(out[1], 0.0f) << t->name;
    EXPECT_TRUE(std::isnan(out[2])) << t->name;
    EXPECT_EQ(out[3], 50.0f) << t->name;
    EXPECT_EQ(out[4], 0.0f) << t->name;
    EXPECT_EQ(out[5], 0.0f) << t->name;
  }
}

TEST(GeluTest, CompiledTargetsIncludeScalarFallback) {
  const auto compiled = kernels::CompiledFffKernelTables();
  bool has_scalar = false;
  std::string names;
  for (const FffKernelTable* t : compiled) {
    names += std::string(t->name) + " ";
    has_scalar |= std::string(t->name) == "SCALAR";
  }
  EXPECT_TRUE(has_scalar) << names;
  EXPECT_GE(compiled.size(), 2u) << names;
}

}  // namespace
}  // namespace fff
