// Reading golden tensors (tests/data/golden/*/golden.safetensors) and
// comparing against them with a tolerance relative to the golden tensor's
// largest magnitude, printing the worst element. Header-only; users link
// fff_io.
#ifndef FFF_TESTS_TESTING_GOLDEN_H_
#define FFF_TESTS_TESTING_GOLDEN_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fff/safetensors.h"

namespace fff::testing {

// The tensor `name` as float32 (empty, with a test failure, when absent).
inline std::vector<float> GoldenF32(const SafetensorsReader& r,
                                    const std::string& name) {
  const TensorInfo* t = r.Find(name);
  EXPECT_NE(t, nullptr) << name;
  if (t == nullptr) return {};
  std::vector<float> v(static_cast<size_t>(t->n_elements));
  EXPECT_TRUE(r.ReadF32(*t, v).ok()) << name;
  return v;
}

// The I32 tensor `name` (empty, with a test failure, when absent).
inline std::vector<int32_t> GoldenI32(const SafetensorsReader& r,
                                      const std::string& name) {
  const TensorInfo* t = r.Find(name);
  EXPECT_NE(t, nullptr) << name;
  if (t == nullptr) return {};
  EXPECT_EQ(t->dtype, DType::kI32) << name;
  std::vector<int32_t> v(static_cast<size_t>(t->n_elements));
  const auto bytes = r.Bytes(*t);
  std::memcpy(v.data(), bytes.data(), std::min(bytes.size(), v.size() * 4));
  return v;
}

// max |got - want| <= rel_tol * max |want|.
inline void ExpectRelClose(const std::vector<float>& got, const float* want,
                           size_t n, double rel_tol, const std::string& what) {
  ASSERT_EQ(got.size(), n) << what;
  double scale = 0, worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) {
    scale = std::max(scale, std::fabs(double{want[i]}));
  }
  for (size_t i = 0; i < n; ++i) {
    const double e = std::fabs(double{got[i]} - want[i]);
    if (e > worst) worst = e, at = i;
  }
  EXPECT_LE(worst, rel_tol * std::max(scale, 1e-30))
      << what << ": worst element " << at << " got " << got[at] << " want "
      << want[at] << " (|err| " << worst << ", scale " << scale << ")";
}

}  // namespace fff::testing

#endif  // FFF_TESTS_TESTING_GOLDEN_H_
