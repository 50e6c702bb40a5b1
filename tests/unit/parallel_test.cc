// src/base/parallel.h: ParallelFor runs every block exactly once on at most
// the requested threads, and OmpThreadsScope bounds OpenMP's thread count
// for the calling thread and restores it.
#include "src/base/parallel.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <vector>

namespace fff {
namespace {

TEST(ParallelForTest, EveryBlockOnceOnAtMostTheRequestedThreads) {
  for (int threads : {1, 2, 3}) {
    std::vector<std::atomic<int>> runs(37);
    std::atomic<int> widest{0};
    ParallelFor(37, threads, [&](int64_t b) {
      runs[static_cast<size_t>(b)].fetch_add(1);
      int seen = omp_get_num_threads();
      int w = widest.load();
      while (seen > w && !widest.compare_exchange_weak(w, seen)) {
      }
      EXPECT_LT(CurrentThreadIndex(), threads);
    });
    for (const auto& r : runs) EXPECT_EQ(r.load(), 1);
    EXPECT_LE(widest.load(), threads);
  }
}

TEST(OmpThreadsScopeTest, BoundsAndRestores) {
  const int before = omp_get_max_threads();
  {
    const OmpThreadsScope one(1);
    EXPECT_EQ(omp_get_max_threads(), 1);
    int team = 0;
#pragma omp parallel
    {
#pragma omp single
      team = omp_get_num_threads();
    }
    EXPECT_EQ(team, 1);  // what oneDNN sees outside a parallel region
    {
      const OmpThreadsScope three(3);
      EXPECT_EQ(omp_get_max_threads(), 3);
    }
    EXPECT_EQ(omp_get_max_threads(), 1);
  }
  EXPECT_EQ(omp_get_max_threads(), before);
}

}  // namespace
}  // namespace fff
