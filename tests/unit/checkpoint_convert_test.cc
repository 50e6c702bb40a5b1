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

TEST(ConvertToNodeRecords, SameOutputsBitwiseWithTheFffWeightsMapped) {
  for (const char* name : {"fff-1x3", "fff-2x2", "cls-fff-zero"}) {
    SCOPED_TRACE(name);
    const std::string dst = TempDir(name);
    Result<ConvertReport> r = ConvertToNodeRecords(GoldenDir(name), dst);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    Result<Model> a = Load(GoldenDir(name));
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
    const auto ids = RandomSequences(7, a->config().vocab_size,
                                     a->config().max_seq_length, 3);
    EXPECT_EQ(Encode(*a, ids), Encode(*b, ids));
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
  // Every other tensor is byte for byte the source's.
  for (const TensorInfo& t : s->tensors()) {
    if (t.name.find(".ffn.") != std::string::npos) continue;
    const TensorInfo* u = c->Find(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    const auto x = s->Bytes(t), y = c->Bytes(*u);
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size()), 0) << t.name;
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
