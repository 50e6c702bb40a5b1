// Loading a checkpoint folder: config.json parsing and validation, tensor
// name/shape checks with messages naming the field or tensor, and the
// encoder's input checks. Bad input must give an error, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fff/model.h"
#include "fff/safetensors.h"
#include "src/model/config.h"

namespace fff {
namespace {

namespace fs = std::filesystem;

std::string Golden(const std::string& m) {
  return std::string(FFF_TEST_DATA_DIR) + "/golden/" + m;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void ExpectError(const Result<ModelConfig>& r, const std::string& part) {
  ASSERT_FALSE(r.ok()) << "expected an error mentioning " << part;
  EXPECT_NE(r.status().message().find(part), std::string::npos)
      << r.status().message();
}

TEST(ConfigTest, ParsesEveryGoldenConfig) {
  for (const char* m : {"fff-1x3", "fff-2x2", "dense-gelu", "dense-geluglu",
                        "dense-noff-key", "cls-fff-zero", "cls-dense-avg-reg"}) {
    Result<ModelConfig> c = ParseModelConfig(ReadAll(fs::path(Golden(m)) / "config.json"), m);
    ASSERT_TRUE(c.ok()) << m << ": " << c.status().ToString();
    EXPECT_EQ(c->family, ModelFamily::kCrammedBert);
    EXPECT_EQ(c->vocab_size, 1536);
  }
  Result<ModelConfig> c =
      ParseModelConfig(ReadAll(fs::path(Golden("fff-2x2")) / "config.json"), "x");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ff_kind, FfKind::kFff);
  EXPECT_EQ(c->fff_trees, 2);
  EXPECT_EQ(c->fff_depth, 2);
  Result<ModelConfig> g =
      ParseModelConfig(ReadAll(fs::path(Golden("dense-geluglu")) / "config.json"), "x");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->ff_nonlin, FfNonlin::kGeluGlu);
  EXPECT_EQ(g->d_ff, 96);
}

TEST(ConfigTest, ParsesHfBert) {
  Result<ModelConfig> c = ParseModelConfig(
      R"({"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2,
          "num_attention_heads": 4, "intermediate_size": 128,
          "vocab_size": 100, "max_position_embeddings": 32})",
      "bert/config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->family, ModelFamily::kHfBert);
  EXPECT_FALSE(c->pre_norm);
  EXPECT_EQ(c->type_vocab_size, 2);
}

TEST(ConfigTest, BadConfigsNameTheField) {
  const std::string base = ReadAll(fs::path(Golden("fff-1x3")) / "config.json");
  ExpectError(ParseModelConfig("{not json", "c.json"), "c.json: not valid JSON");
  ExpectError(ParseModelConfig("[1, 2]", "c.json"), "expected an object");
  ExpectError(ParseModelConfig("{}", "c.json"), "arch");
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string s = base;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return ParseModelConfig(s, "config.json");
  };
  ExpectError(edit("\"num_attention_heads\": 2", "\"num_attention_heads\": \"two\""),
              "config.json: arch.attention.num_attention_heads: expected an integer");
  ExpectError(edit("\"num_attention_heads\": 2", "\"num_attention_heads\": 5"),
              "a divisor of hidden_size 32");
  ExpectError(edit("\"intermed_depth\": 3", "\"intermed_depth\": 40"),
              "arch.intermed_depth: expected an integer in [0, 29], got 40");
  ExpectError(edit("\"intermed_type\": \"fff\"", "\"intermed_type\": \"moe\""),
              "arch.intermed_type");
  ExpectError(edit("\"nonlin\": \"GELU\"", "\"nonlin\": \"GELUglu\""),
              "\"GELU\" for an FFF model");
  ExpectError(edit("\"pos_embedding\": \"scaled-sinusoidal\"", "\"pos_embedding\": \"learned\""),
              "arch.embedding.pos_embedding");
  ExpectError(edit("\"hidden_size\": 32", "\"hidden_size\": -32"),
              "arch.hidden_size");
}

// A copy of a golden folder whose model.safetensors is rewritten by `edit`
// (which may drop, rename or reshape tensors).
class BrokenCheckpoint {
 public:
  template <class Edit>
  BrokenCheckpoint(const std::string& model, const std::string& tag, Edit edit) {
    dir_ = fs::temp_directory_path() / ("fff_broken_" + tag + "_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    for (const char* f : {"config.json", "tokenizer.json"}) {
      fs::copy_file(fs::path(Golden(model)) / f, dir_ / f, fs::copy_options::overwrite_existing);
    }
    Result<SafetensorsReader> r = SafetensorsReader::Open(Golden(model) + "/model.safetensors");
    EXPECT_TRUE(r.ok());
    std::vector<TensorToWrite> tensors;
    for (const TensorInfo& t : r->tensors()) {
      tensors.push_back({t.name, t.dtype, t.shape, r->Bytes(t).data()});
    }
    edit(tensors);
    EXPECT_TRUE(WriteSafetensors((dir_ / "model.safetensors").string(), tensors).ok());
  }
  ~BrokenCheckpoint() { fs::remove_all(dir_); }
  std::string dir() const { return dir_.string(); }

 private:
  fs::path dir_;
};

Status LoadStatus(const std::string& dir) {
  ModelOptions o;
  o.n_threads = 1;
  o.load_tokenizer = false;
  Result<Model> m = Model::Load(dir, o);
  return m.status();
}

TEST(WeightsTest, MissingTensorIsNamed) {
  BrokenCheckpoint b("fff-1x3", "missing", [](std::vector<TensorToWrite>& t) {
    std::erase_if(t, [](const TensorToWrite& x) {
      return x.name == "encoder.layers.1.ffn.linear_in.bias";
    });
  });
  const Status s = LoadStatus(b.dir());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing tensor \"encoder.layers.1.ffn.linear_in.bias\""),
            std::string::npos)
      << s.message();
}

TEST(WeightsTest, MisshapenTensorGivesExpectedAndGot) {
  BrokenCheckpoint b("fff-1x3", "shape", [](std::vector<TensorToWrite>& t) {
    for (auto& x : t) {
      if (x.name == "encoder.layers.0.attn.dense.weight") x.shape = {16, 64};
    }
  });
  const Status s = LoadStatus(b.dir());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("encoder.layers.0.attn.dense.weight"), std::string::npos);
  EXPECT_NE(s.message().find("expected shape [32, 32], got [16, 64]"), std::string::npos)
      << s.message();
}

TEST(WeightsTest, NoEmbeddingAtAll) {
  BrokenCheckpoint b("fff-1x3", "noemb", [](std::vector<TensorToWrite>& t) {
    std::erase_if(t, [](const TensorToWrite& x) {
      return x.name == "decoder.weight" ||
             x.name == "encoder.embedding.word_embedding.weight";
    });
  });
  const Status s = LoadStatus(b.dir());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("word_embedding"), std::string::npos) << s.message();
}

TEST(WeightsTest, ConfigVocabDisagreesWithEmbedding) {
  BrokenCheckpoint b("fff-1x3", "vocab", [](std::vector<TensorToWrite>&) {});
  std::string cfg = ReadAll(fs::path(b.dir()) / "config.json");
  cfg.replace(cfg.find("\"vocab_size\": 1536"), 18, "\"vocab_size\": 2048");
  std::ofstream(fs::path(b.dir()) / "config.json") << cfg;
  const Status s = LoadStatus(b.dir());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("expected shape [2048, 32], got [1536, 32]"), std::string::npos)
      << s.message();
}

TEST(WeightsTest, TokenizerLargerThanTheEmbeddingIsAnError) {
  BrokenCheckpoint b("fff-1x3", "tok", [](std::vector<TensorToWrite>&) {});
  // The folder's tokenizer with one more token (id 1536) than the 1536-row
  // embedding.
  std::string tok = ReadAll(fs::path(b.dir()) / "tokenizer.json");
  const size_t at = tok.find("\"vocab\": {");
  ASSERT_NE(at, std::string::npos);
  tok.insert(at + 10, "\"zzzextra\": 1536, ");
  std::ofstream(fs::path(b.dir()) / "tokenizer.json") << tok;
  ModelOptions o;
  o.n_threads = 1;
  Result<Model> m = Model::Load(b.dir(), o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("the tokenizer has 1537 ids but the model's embedding has 1536 rows"),
            std::string::npos)
      << m.status().message();
}

TEST(WeightsTest, MissingFilesAreNamed) {
  const Status s = LoadStatus("/nonexistent/fff/model");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/fff/model/config.json"), std::string::npos)
      << s.message();
}

TEST(EncodeTest, BadSequencesAreErrors) {
  ModelOptions o;
  o.n_threads = 1;
  o.load_tokenizer = false;
  Result<Model> m = Model::Load(Golden("fff-1x3"), o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::vector<float> h;
  const std::vector<int32_t> empty, bad_id = {5, 1536}, negative = {-1};
  const std::vector<int32_t> too_long(65, 7);
  for (const auto* s : {&empty, &bad_id, &negative, &too_long}) {
    const std::span<const int32_t> v(*s);
    const Status st = m->Encode({&v, 1}, &h);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find("sequence 0"), std::string::npos) << st.message();
  }
  const std::vector<int32_t> ok = {5, 6};
  const std::span<const int32_t> v(ok);
  std::vector<float> logits;
  EXPECT_EQ(m->Classify({&v, 1}, &logits).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(m->Encode({&v, 1}, &h).ok());
  EXPECT_TRUE(m->Encode({}, &h).ok());
  EXPECT_TRUE(h.empty());
}

}  // namespace
}  // namespace fff
