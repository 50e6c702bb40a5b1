// Bad input to the FFF API: every case returns a Status naming the field
// with expected vs got; nothing aborts.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/testing/expect_status.h"
#include "fff/fff.h"
#include "tests/testing/fff_testing.h"

namespace fff {
namespace {

using ::fff::testing::ExpectError;

TEST(FffErrorsTest, Shape) {
  ExpectError(ValidateFffShape({0, 4, 1, 1}), StatusCode::kInvalidArgument,
              {"d_in", "expected >= 1", "got 0"});
  ExpectError(ValidateFffShape({4, -2, 1, 1}), StatusCode::kInvalidArgument,
              {"d_out", "got -2"});
  ExpectError(ValidateFffShape({4, 4, -1, 1}), StatusCode::kOutOfRange,
              {"depth", "got -1"});
  ExpectError(ValidateFffShape({4, 4, 30, 1}), StatusCode::kOutOfRange,
              {"depth", "expected 0..29", "int32", "got 30"});
  ExpectError(ValidateFffShape({4, 4, 2, 0}), StatusCode::kInvalidArgument,
              {"n_trees", "got 0"});
  ExpectError(ValidateFffShape({4, 4, 20, 4096}), StatusCode::kOutOfRange,
              {"n_trees * n_nodes", "int32"});
  ExpectError(ValidateFffShape({int64_t{1} << 40, 4, 20, 1}),
              StatusCode::kOutOfRange, {"overflow"});
  EXPECT_TRUE(ValidateFffShape({768, 768, 11, 1}).ok());
}

TEST(FffErrorsTest, Weights) {
  const FffShape s{8, 4, 2, 2};  // 14 nodes
  testing::FffWeights w = testing::MakeRandomWeights(s, 1);
  FffWeightsView v = w.view();
  v.w_in = v.w_in.first(v.w_in.size() - 1);
  ExpectError(FffLayer::Create(s, v).status(), StatusCode::kInvalidArgument,
              {"w_in", "expected 112", "got 111"});
  v = w.view();
  v.b_in = {};
  ExpectError(FffLayer::Create(s, v).status(), StatusCode::kInvalidArgument,
              {"b_in", "null", "14"});
  v = w.view();
  v.w_out = std::span<const float>(w.w_out.data(), 57);
  ExpectError(FffLayer::Create(s, v).status(), StatusCode::kInvalidArgument,
              {"w_out", "expected 56", "got 57"});
}

TEST(FffErrorsTest, ForwardViews) {
  const FffShape s{8, 4, 2, 1};
  testing::FffWeights w = testing::MakeRandomWeights(s, 2);
  auto layer = FffLayer::Create(s, w.view());
  ASSERT_TRUE(layer.ok());
  std::vector<float> x(5 * 8, 0.5f), y(5 * 4);
  MatrixView<const float> xv(std::span<const float>(x), 5, 8);
  MatrixView<float> yv(y, 5, 4);

  ExpectError(
      layer->Forward(MatrixView<const float>(std::span<const float>(x), 4, 10),
                     MatrixView<float>(y, 4, 4)),
      StatusCode::kInvalidArgument, {"x", "expected 8 columns", "got 10"});
  ExpectError(layer->Forward(xv, MatrixView<float>(y, 4, 5)),
              StatusCode::kInvalidArgument,
              {"y", "expected 4 columns", "got 5"});
  ExpectError(layer->Forward(xv, MatrixView<float>(y, 4, 4)),
              StatusCode::kInvalidArgument, {"y", "expected 5 rows", "got 4"});
  ExpectError(
      layer->Forward(
          MatrixView<const float>(std::span<const float>(x), 5, 8, 9), yv),
      StatusCode::kInvalidArgument,
      {"x", "too short", "expected >= 44", "got 40"});
  ExpectError(layer->Forward(
                  MatrixView<const float>(std::span<const float>(x), 4, 8, 7),
                  MatrixView<float>(y, 4, 4)),
              StatusCode::kInvalidArgument, {"x", "stride", "got 7"});
  MatrixView<const float> null_x = xv;
  null_x.data = nullptr;
  ExpectError(layer->Forward(null_x, yv), StatusCode::kInvalidArgument,
              {"x", "null"});
  std::vector<int32_t> nodes(5 * 3 - 1);
  ExpectError(layer->Forward(xv, yv, {nodes, {}}), StatusCode::kInvalidArgument,
              {"trace.nodes", "expected 15", "got 14"});
  // y aliasing x.
  MatrixView<float> alias(std::span<float>(x), 5, 4);
  ExpectError(layer->Forward(xv, alias), StatusCode::kInvalidArgument,
              {"overlap"});
  // Zero rows is fine, with or without data.
  EXPECT_TRUE(layer
                  ->Forward(MatrixView<const float>({}, 0, 8),
                            MatrixView<float>({}, 0, 4))
                  .ok());
}

TEST(FffErrorsTest, TargetAndThreads) {
  const FffShape s{8, 4, 2, 1};
  testing::FffWeights w = testing::MakeRandomWeights(s, 3);
  FffOptions opt;
  opt.target = "AVX9000";
  ExpectError(FffLayer::Create(s, w.view(), opt).status(),
              StatusCode::kNotFound, {"AVX9000", "available", "SCALAR"});
  opt.target = "";
  opt.n_threads = -1;
  ExpectError(FffLayer::Create(s, w.view(), opt).status(),
              StatusCode::kInvalidArgument, {"n_threads", "got -1"});
  opt.n_threads = 1025;
  ExpectError(FffLayer::Create(s, w.view(), opt).status(),
              StatusCode::kInvalidArgument,
              {"n_threads", "expected 0..1024", "got 1025"});
  opt.n_threads = 0;
  opt.dense_top_levels = 7;
  ExpectError(FffLayer::Create(s, w.view(), opt).status(),
              StatusCode::kInvalidArgument,
              {"dense_top_levels", "expected -1..6", "got 7"});
  opt.dense_top_levels = -2;
  ExpectError(FffLayer::Create(s, w.view(), opt).status(),
              StatusCode::kInvalidArgument, {"dense_top_levels", "got -2"});
  opt.dense_top_levels = -1;
  // The environment override is honoured and validated too.
  ASSERT_EQ(setenv("FFF_CPU_TARGET", "scalar", 1), 0);
  auto forced = FffLayer::Create(s, w.view());
  ASSERT_TRUE(forced.ok());
  EXPECT_STREQ(forced->target_name(), "SCALAR");
  ASSERT_EQ(setenv("FFF_CPU_TARGET", "nonsense", 1), 0);
  ExpectError(FffLayer::Create(s, w.view()).status(), StatusCode::kNotFound,
              {"FFF_CPU_TARGET", "nonsense"});
  unsetenv("FFF_CPU_TARGET");
}

}  // namespace
}  // namespace fff
