#include "tools/train/mlm.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace fff::train {

uint64_t MixSeed(uint64_t seed, uint64_t value) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (value + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double BudgetTriangleLr(double lr, double t) {
  return lr * std::max(0.0, std::min(0.25 + t, 4.0 * (1.0 - t)));
}

MlmMaskCounts MlmCounts(int64_t seq_len, double rate) {
  MlmMaskCounts c;
  c.n_targets = std::clamp<int64_t>(
      static_cast<int64_t>(std::llround(rate * static_cast<double>(seq_len))),
      0, seq_len);
  c.n_mask = static_cast<int64_t>(std::llround(0.8 * c.n_targets));
  c.n_random = std::min<int64_t>(
      c.n_targets - c.n_mask,
      static_cast<int64_t>(std::llround(0.1 * c.n_targets)));
  return c;
}

void MaskSequence(int32_t* tokens, int64_t seq_len, const MlmMaskCounts& c,
                  uint64_t seed, int64_t index, int32_t mask_id,
                  int32_t vocab_size, std::vector<int64_t>* positions,
                  std::vector<int64_t>* labels) {
  std::mt19937_64 rng(MixSeed(seed, static_cast<uint64_t>(index)));
  // A partial Fisher-Yates shuffle picks n_targets distinct positions; the
  // first n_mask become <mask>, the next n_random random ids.
  std::vector<int64_t> pos(static_cast<size_t>(seq_len));
  std::iota(pos.begin(), pos.end(), 0);
  for (int64_t i = 0; i < c.n_targets; ++i) {
    std::uniform_int_distribution<int64_t> pick(i, seq_len - 1);
    std::swap(pos[i], pos[pick(rng)]);
  }
  std::uniform_int_distribution<int32_t> any_id(0, vocab_size - 1);
  std::vector<std::pair<int64_t, int32_t>> targets;
  for (int64_t i = 0; i < c.n_targets; ++i) {
    const int64_t p = pos[i];
    targets.emplace_back(p, tokens[p]);
    if (i < c.n_mask) {
      tokens[p] = mask_id;
    } else if (i < c.n_mask + c.n_random) {
      tokens[p] = any_id(rng);
    }
  }
  std::sort(targets.begin(), targets.end());
  for (const auto& [p, id] : targets) {
    positions->push_back(p);
    labels->push_back(id);
  }
}

}  // namespace fff::train
