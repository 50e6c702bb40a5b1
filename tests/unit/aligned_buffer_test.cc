// AlignedBuffer and AlignedVector: every allocation starts on a cache line
// (the FFF kernels' 64-byte loads of a row then never straddle two lines).
#include "src/base/aligned_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace fff {
namespace {

bool OnCacheLine(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % kCacheLineBytes == 0;
}

TEST(AlignedVectorTest, DataIsCacheLineAlignedThroughGrowth) {
  AlignedVector<float> v;
  for (size_t n : {size_t{1}, size_t{3}, size_t{17}, size_t{1000},
                   size_t{1} << 16, size_t{3} << 20}) {
    v.resize(n, 1.5f);
    EXPECT_TRUE(OnCacheLine(v.data())) << n << " elements";
    EXPECT_EQ(v[n - 1], 1.5f);
  }
  AlignedVector<float> copy = v;  // copies allocate aligned too
  EXPECT_TRUE(OnCacheLine(copy.data()));
  EXPECT_EQ(copy, v);
  const std::vector<float> plain(1000, 2.0f);
  AlignedVector<float> from(plain.begin(), plain.end());
  EXPECT_TRUE(OnCacheLine(from.data()));
  EXPECT_EQ(from[999], 2.0f);
}

TEST(AlignedBufferTest, AllocateIsAlignedAndZeroed) {
  AlignedBuffer<float> b;
  ASSERT_TRUE(b.Allocate(1001, "test buffer").ok());
  EXPECT_TRUE(OnCacheLine(b.data()));
  EXPECT_EQ(b.size(), 1001u);
  for (size_t i = 0; i < b.size(); ++i) ASSERT_EQ(b[i], 0.0f) << i;
}

}  // namespace
}  // namespace fff
