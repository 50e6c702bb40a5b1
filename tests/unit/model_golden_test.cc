// The encoder against the independent PyTorch reference's goldens
// (tests/data/golden, made by python/reference/make_goldens.py): every
// layer's output, the routing of every FFF layer, final states, pooled
// embeddings, MLM logits, fill-mask top-5 and classifier logits; then
// bitwise independence of batch composition and thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "fff/model.h"
#include "fff/safetensors.h"
#include "tests/testing/golden.h"

namespace fff {
namespace {

using ::fff::testing::GoldenF32;
using ::fff::testing::GoldenI32;

const char* kModels[] = {"fff-1x3",          "fff-1x3-decoder-only",
                         "fff-1x3-embedding-only", "fff-2x2",
                         "dense-gelu",       "dense-geluglu",
                         "dense-noff-key",   "cls-fff-zero",
                         "cls-dense-avg-reg"};

// fp32 forward vs float64 goldens: the reference's own fp32 forward is within
// 1.2e-6 of them (tests/data/golden/README.md); 1e-5 of the tensor's largest
// magnitude is the bound.
constexpr double kRelTol = 1e-5;

void ExpectClose(const std::vector<float>& got, const float* want, size_t n,
                 const std::string& what) {
  ::fff::testing::ExpectRelClose(got, want, n, kRelTol, what);
}

std::string Dir(const std::string& model) {
  return std::string(FFF_TEST_DATA_DIR) + "/golden/" + model;
}

class GoldenTest : public ::testing::TestWithParam<const char*> {};

TEST_P(GoldenTest, MatchesReferencePerLayer) {
  const std::string model = GetParam();
  ModelOptions mo;
  mo.n_threads = 1;
  mo.load_tokenizer = false;
  Result<Model> mr = Model::Load(Dir(model), mo);
  ASSERT_TRUE(mr.ok()) << mr.status().ToString();
  Model& m = *mr;
  const ModelConfig& c = m.config();
  Result<SafetensorsReader> gr =
      SafetensorsReader::Open(Dir(model) + "/golden.safetensors");
  ASSERT_TRUE(gr.ok()) << gr.status().ToString();
  const SafetensorsReader& g = *gr;
  const size_t d = static_cast<size_t>(c.d_model);

  for (int k = 0; k < 4; ++k) {
    const std::string p = "seq" + std::to_string(k) + ".";
    const std::vector<int32_t> ids = GoldenI32(g, p + "input_ids");
    const size_t s = ids.size();
    const std::span<const int32_t> seq(ids);
    std::vector<float> hidden;
    EncoderTrace trace;
    ASSERT_TRUE(m.Encode({&seq, 1}, &hidden, &trace).ok());
    ExpectClose(trace.embedding, GoldenF32(g, p + "embedding").data(), s * d,
                model + " " + p + "embedding");
    for (int64_t i = 0; i < c.n_layers; ++i) {
      const std::string li = p + "layer" + std::to_string(i);
      ExpectClose(trace.layers[i], GoldenF32(g, li).data(), s * d, model + " " + li);
      if (c.ff_kind == FfKind::kFff) {
        const std::vector<int32_t> want = GoldenI32(g, li + ".routing");
        const float margin = GoldenF32(g, li + ".min_abs_logit")[0];
        // A flip is only acceptable at a logit within float32 noise of 0.
        if (margin >= 1e-5f) {
          EXPECT_EQ(trace.routings[i], want) << model << " " << li << " routing";
        }
      }
    }
    ExpectClose(hidden, GoldenF32(g, p + "final").data(), s * d, model + " " + p + "final");

    std::vector<float> emb;
    ASSERT_TRUE(m.Embed({&seq, 1}, /*mean=*/true, false, &emb).ok());
    ExpectClose(emb, GoldenF32(g, p + "embed_mean").data(), d, model + " mean");
    ASSERT_TRUE(m.Embed({&seq, 1}, /*mean=*/false, false, &emb).ok());
    ExpectClose(emb, GoldenF32(g, p + "embed_first").data(), d, model + " first");

    if (m.has_mlm_head() && s <= 7) {
      std::vector<float> logits;
      ASSERT_TRUE(m.MlmLogits(MatrixView<const float>(std::span<const float>(hidden),
                                                      static_cast<int64_t>(s), c.d_model),
                              &logits)
                      .ok());
      ExpectClose(logits, GoldenF32(g, p + "mlm_logits").data(),
                  s * static_cast<size_t>(c.vocab_size), model + " " + p + "mlm_logits");
    }
    if (m.n_labels() > 0) {
      std::vector<float> logits;
      ASSERT_TRUE(m.Classify({&seq, 1}, &logits).ok());
      ExpectClose(logits, GoldenF32(g, p + "logits").data(),
                  static_cast<size_t>(m.n_labels()), model + " " + p + "logits");
    }
  }
  if (!m.has_mlm_head()) return;
  for (int j = 0; j < 3; ++j) {
    const std::string p = "fill" + std::to_string(j) + ".";
    const std::vector<int32_t> ids = GoldenI32(g, p + "input_ids");
    const std::vector<int32_t> pos = GoldenI32(g, p + "mask_positions");
    const std::vector<int32_t> top_ids = GoldenI32(g, p + "top5_ids");
    const std::vector<float> top_p = GoldenF32(g, p + "top5_probs");
    const std::span<const int32_t> seq(ids);
    std::vector<float> hidden, logits;
    ASSERT_TRUE(m.Encode({&seq, 1}, &hidden).ok());
    for (size_t q = 0; q < pos.size(); ++q) {
      ASSERT_TRUE(m.MlmLogits(MatrixView<const float>(
                                  std::span<const float>(hidden).subspan(pos[q] * d, d),
                                  1, c.d_model),
                              &logits)
                      .ok());
      const float mx = *std::max_element(logits.begin(), logits.end());
      double sum = 0;
      for (float x : logits) sum += std::exp(double{x} - mx);
      std::vector<int32_t> order(logits.size());
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                        [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
      for (int t = 0; t < 5; ++t) {
        EXPECT_EQ(order[t], top_ids[q * 5 + t]) << model << " " << p << " mask " << q << " rank " << t;
        const double prob = std::exp(double{logits[order[t]]} - mx) / sum;
        EXPECT_NEAR(prob, top_p[q * 5 + t], 1e-5 + 1e-5 * top_p[q * 5 + t])
            << model << " " << p << " mask " << q << " rank " << t;
      }
    }
  }
}

// Packing other sequences around a sequence, reordering the batch or using
// two threads changes no bit of its outputs.
TEST_P(GoldenTest, BitwiseIndependentOfBatchAndThreads) {
  const std::string model = GetParam();
  Result<SafetensorsReader> gr =
      SafetensorsReader::Open(Dir(model) + "/golden.safetensors");
  ASSERT_TRUE(gr.ok());
  std::vector<std::vector<int32_t>> ids;
  for (int k = 0; k < 4; ++k) ids.push_back(GoldenI32(*gr, "seq" + std::to_string(k) + ".input_ids"));
  ModelOptions one, two;
  one.n_threads = 1;
  two.n_threads = 2;
  one.load_tokenizer = two.load_tokenizer = false;
  Result<Model> m1 = Model::Load(Dir(model), one);
  Result<Model> m2 = Model::Load(Dir(model), two);
  ASSERT_TRUE(m1.ok() && m2.ok());
  const size_t d = static_cast<size_t>(m1->config().d_model);

  std::vector<std::vector<float>> alone;
  for (const auto& s : ids) {
    std::span<const int32_t> v(s);
    std::vector<float> h;
    ASSERT_TRUE(m1->Encode({&v, 1}, &h).ok());
    alone.push_back(h);
  }
  const std::vector<std::vector<size_t>> orders = {{0, 1, 2, 3}, {3, 1, 0, 2}, {2, 3}};
  for (Model* m : {&*m1, &*m2}) {
    for (const auto& order : orders) {
      std::vector<std::span<const int32_t>> batch;
      for (size_t k : order) batch.emplace_back(ids[k]);
      std::vector<float> h;
      ASSERT_TRUE(m->Encode(batch, &h).ok());
      size_t row = 0;
      for (size_t k : order) {
        const size_t n = ids[k].size() * d;
        EXPECT_TRUE(std::equal(h.begin() + row * d, h.begin() + row * d + n,
                               alone[k].begin()))
            << model << ": sequence " << k << " differs in a batch (threads "
            << m->n_threads() << ")";
        row += ids[k].size();
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenTest, ::testing::ValuesIn(kModels),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace fff
