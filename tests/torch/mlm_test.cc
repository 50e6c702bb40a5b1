// MLM masking (tools/train/mlm.h): the spec's counts (32 of 128: 26 <mask>,
// 3 random, 3 kept), distinct positions, determinism in (seed, index), the
// labels are the original ids; and the budget-triangle2 schedule.
#include "tools/train/mlm.h"

#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <vector>

namespace fff::train {
namespace {

TEST(MlmTest, CountsFollowTheSpec) {
  const MlmMaskCounts c = MlmCounts(128, 0.25);
  EXPECT_EQ(c.n_targets, 32);
  EXPECT_EQ(c.n_mask, 26);
  EXPECT_EQ(c.n_random, 3);
  const MlmMaskCounts small = MlmCounts(8, 0.25);
  EXPECT_EQ(small.n_targets, 2);
  EXPECT_EQ(small.n_mask + small.n_random, 2);
}

TEST(MlmTest, MaskingIsCountBasedDeterministicAndLabelled) {
  const MlmMaskCounts c = MlmCounts(128, 0.25);
  // A mask id outside the random-id range keeps the three kinds apart (in
  // training a random id may also be the mask id: the whole vocabulary).
  const int32_t kMask = 5000, kVocab = 1000;
  std::vector<int32_t> original(128);
  std::iota(original.begin(), original.end(), 500);  // ids 500..627, no kMask
  int64_t changed_to_random = 0, kept = 0;
  for (int64_t index = 0; index < 200; ++index) {
    std::vector<int32_t> tok = original;
    std::vector<int64_t> pos, lab;
    MaskSequence(tok.data(), 128, c, 42, index, kMask, kVocab, &pos, &lab);
    ASSERT_EQ(pos.size(), 32u);
    ASSERT_TRUE(std::is_sorted(pos.begin(), pos.end()));
    ASSERT_EQ(std::set<int64_t>(pos.begin(), pos.end()).size(), 32u);
    int64_t masks = 0;
    for (size_t k = 0; k < pos.size(); ++k) {
      EXPECT_EQ(lab[k], original[pos[k]]);
      if (tok[pos[k]] == kMask) {
        ++masks;
      } else if (tok[pos[k]] == original[pos[k]]) {
        ++kept;
      } else {
        ++changed_to_random;
      }
    }
    EXPECT_EQ(masks, 26);
    // Positions that are not targets are untouched.
    std::set<int64_t> targets(pos.begin(), pos.end());
    for (int64_t p = 0; p < 128; ++p) {
      if (!targets.count(p)) EXPECT_EQ(tok[p], original[p]);
    }
    // Same (seed, index): the same result; another index: another mask.
    std::vector<int32_t> again = original;
    std::vector<int64_t> pos2, lab2;
    MaskSequence(again.data(), 128, c, 42, index, kMask, kVocab, &pos2, &lab2);
    EXPECT_EQ(again, tok);
    EXPECT_EQ(pos2, pos);
  }
  // 6 non-mask targets per sequence: a random id rarely equals the original.
  EXPECT_EQ(changed_to_random + kept, 200 * 6);
  EXPECT_GE(kept, 200 * 3);
  EXPECT_GE(changed_to_random, 200 * 3 - 5);
  std::vector<int32_t> a = original, b = original;
  std::vector<int64_t> pa, pb, la, lb;
  MaskSequence(a.data(), 128, c, 42, 0, kMask, kVocab, &pa, &la);
  MaskSequence(b.data(), 128, c, 42, 1, kMask, kVocab, &pb, &lb);
  EXPECT_NE(pa, pb);
}

TEST(MlmTest, BudgetTriangleSchedule) {
  EXPECT_DOUBLE_EQ(BudgetTriangleLr(1e-3, 0.0), 0.25e-3);
  EXPECT_DOUBLE_EQ(BudgetTriangleLr(1e-3, 0.5), 0.75e-3);
  EXPECT_DOUBLE_EQ(BudgetTriangleLr(1e-3, 0.75), 1e-3);
  EXPECT_NEAR(BudgetTriangleLr(1e-3, 0.875), 0.5e-3, 1e-15);
  EXPECT_DOUBLE_EQ(BudgetTriangleLr(1e-3, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(BudgetTriangleLr(1e-3, 1.2), 0.0);
}

}  // namespace
}  // namespace fff::train
