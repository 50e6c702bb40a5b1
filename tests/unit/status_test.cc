#include "fff/status.h"

#include <gtest/gtest.h>

#include <string>

#include "fff/fff.h"
#include "fff/log.h"
#include "src/base/log_internal.h"
#include "tests/testing/fff_testing.h"

namespace fff {
namespace {

TEST(StatusTest, OkAndError) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = InvalidArgumentError("fff: x: expected 3, got 4");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.ToString(), "InvalidArgument: fff: x: expected 3, got 4");
}

Result<int> Half(int v) {
  if (v % 2 != 0) return InvalidArgumentError("odd");
  return v / 2;
}

Status UseHalf(int v, int* out) {
  FFF_ASSIGN_OR_RETURN(*out, Half(v));
  return Status::Ok();
}

TEST(StatusTest, ResultAndMacros) {
  int out = 0;
  EXPECT_TRUE(UseHalf(8, &out).ok());
  EXPECT_EQ(out, 4);
  Status s = UseHalf(7, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "odd");
}

TEST(StatusTest, ResultFromOkStatusIsInternalError) {
  Result<int> r(Status::Ok());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(LogTest, CallbackReceivesMessagesAtOrAboveLevel) {
  struct Sink {
    std::string text;
    int calls = 0;
  } sink;
  SetLogCallback(
      [](LogLevel, const char* msg, void* user) {
        auto* s = static_cast<Sink*>(user);
        s->text = msg;
        ++s->calls;
      },
      &sink, LogLevel::kWarning);
  FFF_LOG(kInfo, "dropped {}", 1);
  FFF_LOG(kError, "kept {}", 2);
  SetLogCallback(nullptr, nullptr);
  FFF_LOG(kError, "after reset");
  EXPECT_EQ(sink.calls, 1);
  EXPECT_EQ(sink.text, "kept 2");
}

TEST(LogTest, FirstLayerLogsTheChosenTarget) {
  // The only FffLayer of this test binary, so the once-per-process message
  // is emitted here.
  std::string text;
  SetLogCallback(
      [](LogLevel level, const char* msg, void* user) {
        if (level == LogLevel::kInfo) *static_cast<std::string*>(user) += msg;
      },
      &text, LogLevel::kInfo);
  const FffShape s{4, 4, 1, 1};
  testing::FffWeights w = testing::MakeRandomWeights(s, 1);
  auto layer = FffLayer::Create(s, w.view());
  SetLogCallback(nullptr, nullptr);
  ASSERT_TRUE(layer.ok());
  EXPECT_NE(text.find(std::string("SIMD target ") + layer->target_name()),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("SCALAR"), std::string::npos) << text;
}

}  // namespace
}  // namespace fff
