// The trainer's libtorch crammedBERT (tools/train/crammed_model.h) saved with
// SaveCheckpoint loads unchanged in fff's inference engine, and the engine's
// hidden states, MLM logits and classification logits equal libtorch's
// forward on the same inputs (both float32; they differ only by summation
// order: the tolerance is a few hundred float ulps of O(1) LayerNorm
// outputs). Routing is compared exactly through the engine's trace.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "fff/model.h"
#include "tools/train/crammed_model.h"

namespace fff::train {
namespace {
namespace fs = std::filesystem;

const std::string kTokenizer = FFF_TEST_DATA_DIR "/tiny/tokenizer.json";

ModelConfig SmallConfig(FfKind kind, FfNonlin nonlin) {
  ModelConfig c;
  c.family = ModelFamily::kCrammedBert;
  c.vocab_size = 1536;  // the tiny tokenizer's
  c.d_model = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.max_seq_length = 32;
  c.ff_kind = kind;
  c.ff_nonlin = nonlin;
  c.fff_trees = 2;
  c.fff_depth = 3;
  c.d_ff = 96;
  c.leaf_depth = 3;
  c.leaf_width = 5;
  c.leaf_activation = LeafActivation::kGelu;
  c.pooler_dim = 48;
  return c;
}

// Gives LayerNorms, scale_factor and biases non-trivial values so a wrong
// name or layout cannot hide behind ones and zeros.
void Perturb(CrammedBert& m) {
  torch::NoGradGuard g;
  for (auto& p : m->named_parameters()) {
    const std::string& n = p.key();
    if (n.find("norm") != std::string::npos) {
      p.value().add_(torch::randn_like(p.value()) * 0.1);
    } else if (n.find("bias") != std::string::npos) {
      p.value().add_(torch::randn_like(p.value()) * 0.05);
    } else if (n.find("scale_factor") != std::string::npos) {
      p.value().fill_(0.7);
    } else {
      p.value().mul_(5.0);  // N(0, 0.1): attention and routing not trivial
    }
  }
}

std::vector<std::vector<int32_t>> Sequences() {
  torch::manual_seed(3);
  std::vector<std::vector<int32_t>> seqs;
  for (int64_t len : {32, 7, 19, 1}) {
    auto t = torch::randint(0, 1536, {len}, torch::kInt);
    seqs.emplace_back(t.data_ptr<int32_t>(), t.data_ptr<int32_t>() + len);
  }
  return seqs;
}

void ExpectNear(const float* got, const torch::Tensor& want, double tol,
                const std::string& what) {
  auto w = want.contiguous();
  const float* wp = w.data_ptr<float>();
  double worst = 0;
  int64_t at = 0;
  for (int64_t i = 0; i < w.numel(); ++i) {
    const double e = std::abs(double(got[i]) - double(wp[i]));
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  EXPECT_LE(worst, tol) << what << ": element " << at << " engine " << got[at]
                        << " libtorch " << wp[at];
}

void CheckRoundTrip(FfKind kind, FfNonlin nonlin, int64_t n_labels,
                    const std::string& name) {
  torch::manual_seed(11);
  CrammedOptions o;
  o.config = SmallConfig(kind, nonlin);
  o.n_labels = n_labels;
  CrammedBert model(o);
  Perturb(model);
  model->eval();
  const std::string dir =
      (fs::temp_directory_path() / ("fff_roundtrip_" + name)).string();
  Status saved = SaveCheckpoint(model, dir, kTokenizer, n_labels == 0);
  ASSERT_TRUE(saved.ok()) << saved.ToString();
  ModelOptions mo;
  mo.n_threads = 2;
  auto engine = Model::Load(dir, mo);
  ASSERT_TRUE(engine.ok()) << name << ": " << engine.status().ToString();
  ASSERT_NE(engine->tokenizer(), nullptr);

  const auto seqs = Sequences();
  std::vector<std::span<const int32_t>> views(seqs.begin(), seqs.end());
  std::vector<float> hidden;
  EncoderTrace trace;
  ASSERT_TRUE(engine->Encode(views, &hidden, &trace).ok());
  torch::NoGradGuard g;
  int64_t row = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const int64_t len = static_cast<int64_t>(seqs[i].size());
    auto ids = torch::tensor(std::vector<int64_t>(seqs[i].begin(), seqs[i].end()))
                   .view({1, len});
    auto want = model->Encode(ids, {}).view({len, o.config.d_model});
    ExpectNear(hidden.data() + row * o.config.d_model, want, 2e-4,
               name + " hidden, sequence " + std::to_string(i));
    if (n_labels == 0) {
      std::vector<float> logits;
      ASSERT_TRUE(engine
                      ->MlmLogits(MatrixView<const float>(
                                      std::span<const float>(hidden).subspan(
                                          row * o.config.d_model,
                                          len * o.config.d_model),
                                      len, o.config.d_model),
                                  &logits)
                      .ok());
      ExpectNear(logits.data(), model->MlmLogits(want), 5e-4,
                 name + " MLM logits, sequence " + std::to_string(i));
    }
    row += len;
  }
  if (n_labels > 0) {
    std::vector<float> logits;
    ASSERT_TRUE(engine->Classify(views, &logits).ok());
    for (size_t i = 0; i < seqs.size(); ++i) {
      const int64_t len = static_cast<int64_t>(seqs[i].size());
      auto ids =
          torch::tensor(std::vector<int64_t>(seqs[i].begin(), seqs[i].end()))
              .view({1, len});
      ExpectNear(logits.data() + i * n_labels,
                 model->Classify(ids, {}).view({n_labels}), 2e-4,
                 name + " class logits, sequence " + std::to_string(i));
    }
  }
  // The reloaded weights equal the trained ones exactly.
  CrammedBert again(o);
  Status loaded = LoadCheckpointWeights(again, dir, false);
  ASSERT_TRUE(loaded.ok()) << loaded.ToString();
  auto a = model->named_parameters(), b = again->named_parameters();
  for (const auto& p : a) {
    EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << name << " " << p.key();
  }
  fs::remove_all(dir);
}

TEST(TrainRoundTripTest, FffModelLoadsInEngineWithEqualOutputs) {
  CheckRoundTrip(FfKind::kFff, FfNonlin::kGelu, 0, "fff_mlm");
}
// The original FFF: the engine's hard inference (fff's kernel on the
// repacked w1s) equals the trained module's eval forward.
TEST(TrainRoundTripTest, LeafFffModel) {
  CheckRoundTrip(FfKind::kLeafFff, FfNonlin::kGelu, 0, "leaf_mlm");
}
TEST(TrainRoundTripTest, LeafFffClassifier) {
  CheckRoundTrip(FfKind::kLeafFff, FfNonlin::kGelu, 2, "leaf_cls");
}
TEST(TrainRoundTripTest, DenseGeluModel) {
  CheckRoundTrip(FfKind::kDense, FfNonlin::kGelu, 0, "dense_gelu");
}
TEST(TrainRoundTripTest, DenseGeluGluModel) {
  CheckRoundTrip(FfKind::kDense, FfNonlin::kGeluGlu, 0, "dense_glu");
}
TEST(TrainRoundTripTest, FffClassifier) {
  CheckRoundTrip(FfKind::kFff, FfNonlin::kGelu, 3, "fff_cls");
}

TEST(TrainRoundTripTest, MismatchedConfigIsAnError) {
  CrammedOptions o;
  o.config = SmallConfig(FfKind::kFff, FfNonlin::kGelu);
  CrammedBert model(o);
  const std::string dir =
      (fs::temp_directory_path() / "fff_roundtrip_mismatch").string();
  ASSERT_TRUE(SaveCheckpoint(model, dir, "", true).ok());
  o.config.fff_depth = 4;
  CrammedBert other(o);
  Status st = LoadCheckpointWeights(other, dir, false);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("encoder.layers.0.ffn.linear_in.weight"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("expected shape [62, 64], got [30, 64]"),
            std::string::npos)
      << st.message();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace fff::train
