// HuggingFace BERT checkpoints (post-LN, learned positions, token types,
// MLM transform, pooler + classifier) against the goldens of an independent
// PyTorch reference (tests/data/golden/HF_BERT.md, made by
// python/reference/make_hf_bert_goldens.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "fff/model.h"
#include "fff/safetensors.h"
#include "tests/testing/golden.h"

namespace fff {
namespace {

constexpr double kRelTol = 1e-5;  // of each tensor's largest magnitude

using ::fff::testing::GoldenF32;
using ::fff::testing::GoldenI32;

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want,
                 const std::string& what) {
  ::fff::testing::ExpectRelClose(got, want.data(), want.size(), kRelTol, what);
}

std::string Dir(const std::string& m) {
  return std::string(FFF_TEST_DATA_DIR) + "/golden/" + m;
}

class HfBertGoldenTest : public ::testing::TestWithParam<const char*> {};

TEST_P(HfBertGoldenTest, MatchesReferencePerLayer) {
  const std::string model = GetParam();
  ModelOptions mo;
  mo.n_threads = 2;
  mo.load_tokenizer = false;
  Result<Model> mr = Model::Load(Dir(model), mo);
  ASSERT_TRUE(mr.ok()) << mr.status().ToString();
  Model& m = *mr;
  const ModelConfig& c = m.config();
  EXPECT_EQ(c.family, ModelFamily::kHfBert);
  Result<SafetensorsReader> gr = SafetensorsReader::Open(Dir(model) + "/golden.safetensors");
  ASSERT_TRUE(gr.ok()) << gr.status().ToString();
  const SafetensorsReader& g = *gr;
  std::vector<std::vector<int32_t>> all_ids, all_types;
  std::vector<std::vector<float>> finals;
  for (int k = 0; g.Find("seq" + std::to_string(k) + ".input_ids") != nullptr; ++k) {
    const std::string p = "seq" + std::to_string(k) + ".";
    const std::vector<int32_t> ids = GoldenI32(g, p + "input_ids");
    const std::vector<int32_t> types = GoldenI32(g, p + "type_ids");
    const std::span<const int32_t> seq(ids), typ(types);
    std::vector<float> hidden;
    EncoderTrace trace;
    ASSERT_TRUE(m.Encode({&seq, 1}, &hidden, &trace, {&typ, 1}).ok());
    ExpectClose(trace.embedding, GoldenF32(g, p + "embedding"), model + " " + p + "embedding");
    for (int64_t i = 0; i < c.n_layers; ++i) {
      ExpectClose(trace.layers[i], GoldenF32(g, p + "layer" + std::to_string(i)),
                  model + " " + p + "layer" + std::to_string(i));
    }
    ExpectClose(hidden, GoldenF32(g, p + "final"), model + " " + p + "final");
    std::vector<float> emb;
    ASSERT_TRUE(m.Embed({&seq, 1}, true, false, &emb, {&typ, 1}).ok());
    ExpectClose(emb, GoldenF32(g, p + "embed_mean"), model + " mean");
    ASSERT_TRUE(m.Embed({&seq, 1}, false, false, &emb, {&typ, 1}).ok());
    ExpectClose(emb, GoldenF32(g, p + "embed_first"), model + " first");
    if (m.has_mlm_head()) {
      std::vector<float> logits;
      ASSERT_TRUE(m.MlmLogits(MatrixView<const float>(std::span<const float>(hidden),
                                                      static_cast<int64_t>(ids.size()),
                                                      c.d_model),
                              &logits)
                      .ok());
      ExpectClose(logits, GoldenF32(g, p + "mlm_logits"), model + " " + p + "mlm_logits");
    }
    if (m.n_labels() > 0) {
      std::vector<float> logits;
      ASSERT_TRUE(m.Classify({&seq, 1}, &logits, {&typ, 1}).ok());
      ExpectClose(logits, GoldenF32(g, p + "logits"), model + " " + p + "logits");
    }
    all_ids.push_back(ids);
    all_types.push_back(types);
    finals.push_back(hidden);
  }
  ASSERT_GE(all_ids.size(), 2u);
  // Packed together in reverse order: the same bits per sequence.
  std::vector<std::span<const int32_t>> seqs, types;
  for (size_t k = all_ids.size(); k-- > 0;) {
    seqs.emplace_back(all_ids[k]);
    types.emplace_back(all_types[k]);
  }
  std::vector<float> hidden;
  ASSERT_TRUE(m.Encode(seqs, &hidden, nullptr, types).ok());
  size_t row = 0;
  for (size_t k = all_ids.size(); k-- > 0;) {
    EXPECT_TRUE(std::equal(finals[k].begin(), finals[k].end(),
                           hidden.begin() + row * c.d_model))
        << model << ": sequence " << k << " differs when batched";
    row += all_ids[k].size();
  }
  // Bad type ids are errors naming the sequence.
  const std::vector<int32_t> bad(all_ids[1].size(), 7);
  const std::span<const int32_t> seq(all_ids[1]), typ(bad);
  const Status st = m.Encode({&seq, 1}, &hidden, nullptr, {&typ, 1});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("type_ids of sequence 0"), std::string::npos) << st.message();
}

INSTANTIATE_TEST_SUITE_P(Models, HfBertGoldenTest,
                         ::testing::Values("hf-bert-mlm", "hf-bert-cls", "hf-bert-mlm-legacy"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace fff
