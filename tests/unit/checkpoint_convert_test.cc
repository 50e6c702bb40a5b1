// Zero-copy checkpoints (fff/checkpoint_convert.h): the converted model
// computes bit for bit what the published one does while its FFF weights
// stay in the mapped file, the layout is page-aligned, the published tensors
// are recoverable, and an unknown layout, a truncated file or a config that
// does not fit are errors.
#include "fff/checkpoint_convert.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fff/model.h"
#include "fff/safetensors.h"
#include "src/kernels/linear.h"
#include "tests/testing/expect_status.h"
#include "tests/testing/model_dirs.h"
#include "tests/testing/random_ids.h"

namespace fff {
namespace {

namespace fs = std::filesystem;
using ::fff::testing::ExpectError;
using ::fff::testing::GoldenDir;
using ::fff::testing::RandomSequences;

std::string TempDir(const std::string& name) {
  return ::fff::testing::FreshTempDir("fff_convert_", name);
}

Result<Model> Load(const std::string& dir, int n_threads = 2) {
  ModelOptions mo;
  mo.n_threads = n_threads;
  mo.load_tokenizer = false;
  return Model::Load(dir, mo);
}

std::vector<float> Encode(Model& m,
                          const std::vector<std::vector<int32_t>>& ids) {
  std::vector<std::span<const int32_t>> seqs(ids.begin(), ids.end());
  std::vector<float> h;
  EXPECT_TRUE(m.Encode(seqs, &h).ok());
  return h;
}

// `src` (a classifier) with its word embedding also as "decoder.weight", the
// tied copy: a checkpoint with both heads, as `fff synth` writes.
std::string WithBothHeads(const std::string& src) {
  const std::string dir = TempDir("both_heads");
  fs::create_directories(dir);
  fs::copy(src + "/config.json", dir + "/config.json");
  Result<SafetensorsReader> r =
      SafetensorsReader::Open(src + "/model.safetensors");
  EXPECT_TRUE(r.ok());
  std::vector<TensorToWrite> tensors;
  for (const TensorInfo& t : r->tensors()) {
    tensors.push_back({t.name, t.dtype, t.shape, r->Bytes(t).data()});
    if (t.name == "encoder.embedding.word_embedding.weight") {
      tensors.push_back(
          {"decoder.weight", t.dtype, t.shape, r->Bytes(t).data()});
    }
  }
  EXPECT_TRUE(
      WriteSafetensors(dir + "/model.safetensors", tensors, r->metadata())
          .ok());
  return dir;
}

TEST(ConvertToNodeRecords, SameOutputsBitwiseWithTheFffWeightsMapped) {
  const std::string both = WithBothHeads(GoldenDir("cls-fff-zero"));
  for (const std::string& src : {GoldenDir("fff-1x3"), GoldenDir("fff-2x2"),
                                 GoldenDir("cls-fff-zero"), both}) {
    SCOPED_TRACE(src);
    const std::string dst = TempDir(fs::path(src).filename().string());
    Result<ConvertReport> r = ConvertToNodeRecords(src, dst);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    Result<Model> a = Load(src);
    Result<Model> b = Load(dst);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_TRUE(a->mapped_fff_bytes().empty());
    const auto regions = b->mapped_fff_bytes();
    ASSERT_EQ(regions.size(), static_cast<size_t>(2 * b->config().n_layers));
    for (size_t i = 0; i < regions.size(); i += 2) {  // records page-aligned
      EXPECT_EQ(reinterpret_cast<uintptr_t>(regions[i].data()) % 4096, 0u);
      EXPECT_EQ(regions[i].size() % 4096, 0u);
    }
    EXPECT_EQ(a->n_parameters(), b->n_parameters());
    EXPECT_EQ(a->has_mlm_head(), b->has_mlm_head());
    EXPECT_EQ(a->n_labels(), b->n_labels());
    const auto ids = RandomSequences(7, a->config().vocab_size,
                                     a->config().max_seq_length, 3);
    const std::vector<float> ha = Encode(*a, ids);
    EXPECT_EQ(ha, Encode(*b, ids));
    if (a->has_mlm_head()) {
      const int64_t d = a->config().d_model;
      const int64_t rows = static_cast<int64_t>(ha.size()) / d;
      std::vector<float> la, lb;
      ASSERT_TRUE(a->MlmLogits(MatrixView<const float>(ha, rows, d), &la).ok());
      ASSERT_TRUE(b->MlmLogits(MatrixView<const float>(ha, rows, d), &lb).ok());
      EXPECT_EQ(la, lb);
    }
    if (a->n_labels() > 0) {
      std::vector<std::span<const int32_t>> seqs(ids.begin(), ids.end());
      std::vector<float> la, lb;
      ASSERT_TRUE(a->Classify(seqs, &la).ok());
      ASSERT_TRUE(b->Classify(seqs, &lb).ok());
      EXPECT_EQ(la, lb);
    }
    // Thread count does not matter either (the strided kernels keep the
    // per-row order).
    Result<Model> b1 = Load(dst, 1);
    ASSERT_TRUE(b1.ok());
    EXPECT_EQ(Encode(*b1, ids), Encode(*a, ids));
  }
}

TEST(ConvertToNodeRecords, PublishedTensorsAreRecoverable) {
  const std::string src = GoldenDir("fff-2x2");
  const std::string dst = TempDir("recover");
  ASSERT_TRUE(ConvertToNodeRecords(src, dst).ok());
  Result<SafetensorsReader> s =
      SafetensorsReader::Open(src + "/model.safetensors");
  Result<SafetensorsReader> c =
      SafetensorsReader::Open(dst + "/model.safetensors");
  ASSERT_TRUE(s.ok() && c.ok());
  EXPECT_EQ(c->DataOffset() % 4096, 0u);
  EXPECT_EQ(c->metadata().at("fff_layout"), kFffNodeRecordsLayout);
  const auto names =
      nlohmann::json::parse(c->metadata().at("fff_original_names"));
  EXPECT_NE(names["fff.layers.1.records"].get<std::string>().find(
                "encoder.layers.1.ffn.linear_out.weight"),
            std::string::npos);
  EXPECT_EQ(names["fff.layers.1.b_in"], "encoder.layers.1.ffn.linear_in.bias");
  EXPECT_EQ(c->metadata().at("fff_linear_tile_cols"),
            std::to_string(kLinearTileCols));
  // The dense Linear weights untile to the source's; every other tensor
  // but the FFF ones is byte for byte the source's.
  int n_tiled = 0;
  for (const TensorInfo& t : s->tensors()) {
    if (t.name.find(".ffn.") != std::string::npos) continue;
    SCOPED_TRACE(t.name);
    const TensorInfo* u = c->Find(t.name);
    const TensorInfo* tiled = c->Find(kTiledLinearPrefix + t.name);
    if (tiled != nullptr) {
      ++n_tiled;
      EXPECT_NE(names[tiled->name].get<std::string>().find(t.name),
                std::string::npos);
      ASSERT_EQ(t.dtype, DType::kF32);
      ASSERT_EQ(t.shape.size(), 2u);
      const int64_t d_out = t.shape[0], d_in = t.shape[1];
      std::vector<float> w(static_cast<size_t>(d_out * d_in));
      ASSERT_STATUS_OK(UntileLinearWeights(
          d_in, d_out,
          {reinterpret_cast<const float*>(c->Bytes(*tiled).data()), w.size()},
          w));
      EXPECT_EQ(std::memcmp(w.data(), s->Bytes(t).data(), w.size() * 4), 0);
      // Replaced, except the decoder when it is also the only name of the
      // word embedding (this file's case), which the lookup reads.
      EXPECT_EQ(u != nullptr,
                t.name == "decoder.weight" &&
                    !s->Find("encoder.embedding.word_embedding.weight"));
      if (u == nullptr) continue;
    }
    ASSERT_NE(u, nullptr);
    const auto x = s->Bytes(t), y = c->Bytes(*u);
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size()), 0);
  }
  // qkv and attention dense in each of the 3 layers, and the decoder.
  EXPECT_EQ(n_tiled, 3 * 2 + 1);
  // Every tiled tensor starts on a page.
  for (const TensorInfo& t : c->tensors()) {
    if (t.name.rfind(kTiledLinearPrefix, 0) != 0) continue;
    EXPECT_EQ((c->DataOffset() + t.offset_bytes) % 4096, 0u) << t.name;
  }
  // linear_in.weight = records[:n, :d]; linear_out.weight = records[:n,
  // d:2d] transposed; linear_in.bias = b_in.
  const int64_t n = 14, d = 32;  // 2 trees x 7 nodes, d_model 32
  for (int layer = 0; layer < 2; ++layer) {
    const std::string p = "encoder.layers." + std::to_string(layer) + ".ffn.";
    const TensorInfo* rec =
        c->Find("fff.layers." + std::to_string(layer) + ".records");
    ASSERT_NE(rec, nullptr);
    const int64_t stride = rec->shape[1];
    const float* r = reinterpret_cast<const float*>(c->Bytes(*rec).data());
    const float* w_in = reinterpret_cast<const float*>(
        s->Bytes(*s->Find(p + "linear_in.weight")).data());
    const float* w_out = reinterpret_cast<const float*>(
        s->Bytes(*s->Find(p + "linear_out.weight")).data());
    for (int64_t g = 0; g < n; ++g) {
      for (int64_t i = 0; i < d; ++i) {
        ASSERT_EQ(r[g * stride + i], w_in[g * d + i]);
        ASSERT_EQ(r[g * stride + d + i], w_out[i * n + g]);
      }
    }
    const auto b_src = s->Bytes(*s->Find(p + "linear_in.bias"));
    const auto b_dst =
        c->Bytes(*c->Find("fff.layers." + std::to_string(layer) + ".b_in"));
    ASSERT_EQ(b_src.size(), b_dst.size());
    EXPECT_EQ(std::memcmp(b_src.data(), b_dst.data(), b_src.size()), 0);
  }
}

// Rewrites dst/model.safetensors with `metadata` changed.
void RewriteMetadata(const std::string& dir, const std::string& key,
                     const std::string& value) {
  const std::string path = dir + "/model.safetensors";
  std::vector<uint8_t> bytes;
  {
    std::ifstream f(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  Result<SafetensorsReader> r = SafetensorsReader::FromBuffer(bytes, path);
  ASSERT_TRUE(r.ok());
  std::vector<TensorToWrite> tensors;
  for (const TensorInfo& t : r->tensors()) {
    tensors.push_back({t.name, t.dtype, t.shape, r->Bytes(t).data()});
  }
  auto metadata = r->metadata();
  metadata[key] = value;
  ASSERT_TRUE(WriteSafetensors(path, tensors, metadata, 4096).ok());
}

TEST(ConvertToNodeRecords, BadFilesAndMismatchesAreErrors) {
  const std::string src = GoldenDir("fff-1x3");
  const std::string dst = TempDir("bad");
  ASSERT_TRUE(ConvertToNodeRecords(src, dst).ok());
  // An unknown layout tag.
  const std::string tag = TempDir("bad_tag");
  fs::copy(dst, tag);
  RewriteMetadata(tag, "fff_layout", "fff-node-records-v9");
  ExpectError(Load(tag).status(), StatusCode::kDataLoss,
              {"fff_layout", "fff-node-records-v9", kFffNodeRecordsLayout});
  // A truncated file.
  const std::string cut = TempDir("bad_cut");
  fs::copy(dst, cut);
  const fs::path f = fs::path(cut) / "model.safetensors";
  fs::resize_file(f, fs::file_size(f) - 100);
  const Status truncated = Load(cut).status();
  EXPECT_EQ(truncated.code(), StatusCode::kDataLoss) << truncated.ToString();
  EXPECT_NE(truncated.message().find("model.safetensors"), std::string::npos);
  // A config with another tree depth than the records were made for.
  const std::string depth = TempDir("bad_depth");
  fs::copy(dst, depth);
  {
    std::ifstream in(fs::path(depth) / "config.json");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const std::string from = "\"intermed_depth\": 3";
    ASSERT_NE(text.find(from), std::string::npos);
    text.replace(text.find(from), from.size(), "\"intermed_depth\": 5");
    std::ofstream(fs::path(depth) / "config.json") << text;
  }
  ExpectError(Load(depth).status(), StatusCode::kDataLoss,
              {"fff.layers.0.records", "expected F32"});
  // What cannot be converted.
  ExpectError(
      ConvertToNodeRecords(GoldenDir("dense-gelu"), TempDir("d")).status(),
      StatusCode::kInvalidArgument, {"FFF"});
  ExpectError(ConvertToNodeRecords(dst, TempDir("again")).status(),
              StatusCode::kInvalidArgument, {"already converted"});
  ExpectError(ConvertToNodeRecords(dst, dst).status(),
              StatusCode::kInvalidArgument, {"source"});
}

}  // namespace
}  // namespace fff
