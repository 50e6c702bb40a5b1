// Seeded random token-id sequences for model-level tests. Header-only.
#ifndef FFF_TESTS_TESTING_RANDOM_IDS_H_
#define FFF_TESTS_TESTING_RANDOM_IDS_H_

#include <cstdint>
#include <random>
#include <vector>

namespace fff::testing {

// `n` sequences of ids in [0, vocab) with lengths 1..max_len (seeded).
inline std::vector<std::vector<int32_t>> RandomSequences(int n, int64_t vocab,
                                                         int64_t max_len,
                                                         uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> len(1, max_len);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(vocab) - 1);
  std::vector<std::vector<int32_t>> seqs(static_cast<size_t>(n));
  for (auto& s : seqs) {
    s.resize(static_cast<size_t>(len(rng)));
    for (int32_t& x : s) x = id(rng);
  }
  return seqs;
}

}  // namespace fff::testing

#endif  // FFF_TESTS_TESTING_RANDOM_IDS_H_
