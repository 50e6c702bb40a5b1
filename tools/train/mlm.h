// Count-based MLM masking (pretrain.h): deterministic in (seed, index).
#ifndef FFF_TOOLS_TRAIN_MLM_H_
#define FFF_TOOLS_TRAIN_MLM_H_

#include <cstdint>
#include <vector>

namespace fff::train {

struct MlmMaskCounts {
  int64_t n_targets = 0;  // round(rate * seq_len)
  int64_t n_mask = 0;     // become <mask>: round(0.8 * n_targets)
  int64_t n_random = 0;   // become a random id: round(0.1 * n_targets)
  // the rest keep their token
};
MlmMaskCounts MlmCounts(int64_t seq_len, double rate);

// Masks tokens[0..seq_len) in place for sequence `index` of the stream and
// appends its target positions (ascending) and original ids.
void MaskSequence(int32_t* tokens, int64_t seq_len, const MlmMaskCounts& c,
                  uint64_t seed, int64_t index, int32_t mask_id,
                  int32_t vocab_size, std::vector<int64_t>* positions,
                  std::vector<int64_t>* labels);

// The cramming schedule "budget-triangle2": lr * min(0.25 + t, 4 (1 - t))
// for the elapsed budget fraction t (clamped at 0): 25 % of lr at t = 0,
// lr at t = 0.75, 0 at t = 1.
double BudgetTriangleLr(double lr, double t);

// A 64-bit mix of (seed, value) (SplitMix64 finaliser).
uint64_t MixSeed(uint64_t seed, uint64_t value);

}  // namespace fff::train

#endif  // FFF_TOOLS_TRAIN_MLM_H_
