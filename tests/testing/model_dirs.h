// Checkpoint folders for model-level tests: the goldens under
// tests/data/golden and fresh scratch folders. Header-only; needs
// FFF_TEST_DATA_DIR (set by fff_unit_test).
#ifndef FFF_TESTS_TESTING_MODEL_DIRS_H_
#define FFF_TESTS_TESTING_MODEL_DIRS_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace fff::testing {

// tests/data/golden/<model>.
inline std::string GoldenDir(const std::string& model) {
  return std::string(FFF_TEST_DATA_DIR) + "/golden/" + model;
}

// <gtest temp dir>/<prefix><name>, removed if it exists (not created).
inline std::string FreshTempDir(const std::string& prefix,
                                const std::string& name) {
  const std::filesystem::path p =
      std::filesystem::path(::testing::TempDir()) / (prefix + name);
  std::filesystem::remove_all(p);
  return p.string();
}

}  // namespace fff::testing

#endif  // FFF_TESTS_TESTING_MODEL_DIRS_H_
