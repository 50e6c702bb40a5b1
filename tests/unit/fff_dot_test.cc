// The dot product every FFF strategy uses, on every target, against the
// double reference, across edge sizes and misaligned pointers.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "src/kernels/fff_kernels.h"
#include "tests/testing/fff_testing.h"

namespace fff {
namespace {

TEST(FffDotTest, EveryTargetEdgeSizesAndMisalignment) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t sizes[] = {0,  1,  2,  3,  4,  5,  7,  8,  9,   15,  16,  17,
                           31, 32, 33, 47, 48, 63, 64, 65, 100, 767, 768, 773};
  for (const auto* t : kernels::SupportedFffKernelTables()) {
    for (int64_t n : sizes) {
      for (int64_t offset : {0, 1, 3}) {
        std::vector<float> x(static_cast<size_t>(n + offset + 1));
        std::vector<float> w(x.size());
        for (float& v : x) v = u(rng);
        for (float& v : w) v = u(rng);
        double want = 0, mag = 0;
        for (int64_t i = 0; i < n; ++i) {
          want += static_cast<double>(x[offset + i]) * w[offset + i];
          mag += std::fabs(static_cast<double>(x[offset + i]) * w[offset + i]);
        }
        const double bound = (n + 2) * testing::kFloatU * mag;
        const float got = t->dot(x.data() + offset, w.data() + offset, n);
        EXPECT_LE(std::fabs(got - want), bound)
            << t->name << " n=" << n << " offset=" << offset << ": got " << got
            << " want " << want;
      }
    }
  }
}

}  // namespace
}  // namespace fff
