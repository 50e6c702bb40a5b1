#include "tools/cli/synth.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "fff/model.h"
#include "fff/safetensors.h"

namespace fff::cli {
namespace {

// N(0, std) values from a seeded generator (crammedBERT's global init).
void FillNormal(std::vector<float>& v, float stddev, std::mt19937_64& rng) {
  std::normal_distribution<float> dist(0.0f, stddev);
  for (float& x : v) x = dist(rng);
}

ModelConfig MakeConfig(const SynthSpec& s) {
  ModelConfig c;
  c.family = ModelFamily::kCrammedBert;
  c.vocab_size = s.vocab;
  c.d_model = s.hidden;
  c.n_layers = s.layers;
  c.n_heads = s.heads;
  c.max_seq_length = s.max_seq;
  if (s.ff == "fff") {
    c.ff_kind = FfKind::kFff;
    c.fff_trees = s.trees;
    c.fff_depth = s.depth;
  } else {
    c.ff_kind = FfKind::kDense;
    c.d_ff = s.intermed;
    c.ff_nonlin = s.nonlin == "GELUglu" ? FfNonlin::kGeluGlu : FfNonlin::kGelu;
  }
  c.pooler_dim = 1024;
  return c;
}

}  // namespace

Status WriteSyntheticCheckpoint(const std::string& dir, const SynthSpec& s) {
  namespace fs = std::filesystem;
  if (s.ff != "fff" && s.ff != "ff") {
    return InvalidArgumentError(
        fmt::format("--ff: expected \"fff\" or \"ff\", got \"{}\"", s.ff));
  }
  if (s.hidden % s.heads != 0 || s.hidden % 2 != 0) {
    return InvalidArgumentError(fmt::format(
        "--hidden {} must be even and divisible by --heads {}", s.hidden,
        s.heads));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return NotFoundError(fmt::format("{}: cannot create: {}", dir, ec.message()));
  }
  std::mt19937_64 rng(s.seed);
  const int64_t d = s.hidden;
  // Owned tensors, in the published order.
  std::vector<std::pair<std::string, std::vector<int64_t>>> specs;
  std::vector<std::vector<float>> data;
  auto add = [&](std::string name, std::vector<int64_t> shape, float stddev,
                 float constant = 0.0f) {
    int64_t n = 1;
    for (int64_t x : shape) n *= x;
    std::vector<float> v(static_cast<size_t>(n), constant);
    if (stddev > 0) FillNormal(v, stddev, rng);
    specs.emplace_back(std::move(name), std::move(shape));
    data.push_back(std::move(v));
  };
  add("encoder.embedding.word_embedding.weight", {s.vocab, d}, 0.02f);
  add("encoder.embedding.pos_embedding.scale_factor", {1}, 0,
      static_cast<float>(1.0 / std::sqrt(static_cast<double>(d))));
  add("encoder.embedding.norm.weight", {d}, 0, 1.0f);
  add("encoder.embedding.norm.bias", {d}, 0, 0.0f);
  const int64_t nodes = s.trees * ((int64_t{2} << s.depth) - 1);
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string p = fmt::format("encoder.layers.{}.", i);
    add(p + "norm1.weight", {d}, 0, 1.0f);
    add(p + "norm1.bias", {d}, 0, 0.0f);
    add(p + "attn.self_attention.query_key_value.weight", {3 * d, d}, 0.02f);
    add(p + "attn.self_attention.norm_factor", {}, 0,
        static_cast<float>(1.0 / std::sqrt(static_cast<double>(d / s.heads))));
    add(p + "attn.dense.weight", {d, d}, 0.02f);
    add(p + "norm2.weight", {d}, 0, 1.0f);
    add(p + "norm2.bias", {d}, 0, 0.0f);
    if (s.ff == "fff") {
      add(p + "ffn.linear_in.weight", {nodes, d}, 0.02f);
      add(p + "ffn.linear_in.bias", {nodes}, 0, 0.0f);
      add(p + "ffn.linear_out.weight", {d, nodes}, 0.02f);
    } else {
      const int64_t mid = s.nonlin == "GELUglu" ? s.intermed / 2 : s.intermed;
      add(p + "ffn.dense_in.weight", {s.intermed, d}, 0.02f);
      add(p + "ffn.dense_out.weight", {d, mid}, 0.02f);
    }
  }
  add("encoder.final_norm.weight", {d}, 0, 1.0f);
  add("encoder.final_norm.bias", {d}, 0, 0.0f);
  // A 2-label classification head as well (pooler zero_index, head_dim
  // 1024), so `fff classify` runs on the default checkpoint too.
  add("pooler.dense.weight", {1024, d}, 0.02f);
  add("pooler.dense.bias", {1024}, 0, 0.0f);
  add("head.weight", {2, 1024}, 0.02f);
  add("head.bias", {2}, 0, 0.0f);
  std::vector<TensorToWrite> tensors;
  for (size_t i = 0; i < specs.size(); ++i) {
    tensors.push_back({specs[i].first, DType::kF32, specs[i].second,
                       data[i].data()});
  }
  // The published file also stores the tied decoder as its own tensor.
  tensors.push_back({"decoder.weight", DType::kF32, {s.vocab, d},
                     data[0].data()});
  FFF_RETURN_IF_ERROR(WriteSafetensors((fs::path(dir) / "model.safetensors").string(),
                                       tensors, {{"format", "pt"}}));
  {
    FFF_ASSIGN_OR_RETURN(
        std::string config,
        CrammedBertConfigJson(
            MakeConfig(s),
            R"({"fff_synthetic_note": "random weights written by `fff synth`: predictions are meaningless"})"));
    std::ofstream f(fs::path(dir) / "config.json");
    f << config;
    if (!f) return NotFoundError(fmt::format("{}/config.json: write failed", dir));
  }
  {
    std::ofstream f(fs::path(dir) / "tokenizer.json");
    f << EmbeddedTokenizerJson();
    if (!f) {
      return NotFoundError(fmt::format("{}/tokenizer.json: write failed", dir));
    }
  }
  return Status::Ok();
}

}  // namespace fff::cli
