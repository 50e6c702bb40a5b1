// ExpectError: a gtest check that a Status failed with `code` and that its
// message names every one of `parts` (the field, tensor, expected and got
// values), printing the message when one is missing; ASSERT_STATUS_OK.
// Header-only.
#ifndef FFF_TESTS_TESTING_EXPECT_STATUS_H_
#define FFF_TESTS_TESTING_EXPECT_STATUS_H_

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "fff/status.h"

namespace fff::testing {

inline void ExpectError(const Status& s, StatusCode code,
                        std::initializer_list<std::string> parts) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  for (const std::string& p : parts) {
    EXPECT_NE(s.message().find(p), std::string::npos)
        << "'" << p << "' missing from: " << s.message();
  }
}

}  // namespace fff::testing

// Asserts that `expr` (a Status) is OK, printing it otherwise.
#define ASSERT_STATUS_OK(expr)               \
  do {                                       \
    const ::fff::Status _st = (expr);        \
    ASSERT_TRUE(_st.ok()) << _st.ToString(); \
  } while (0)

#endif  // FFF_TESTS_TESTING_EXPECT_STATUS_H_
