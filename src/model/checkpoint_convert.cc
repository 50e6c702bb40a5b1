// ConvertToNodeRecords (fff/checkpoint_convert.h).
#include "fff/checkpoint_convert.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "fff/fff.h"
#include "fff/safetensors.h"
#include "src/kernels/linear.h"
#include "src/model/checkpoint_rewrite.h"

namespace fff {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kPage = 4096;

}  // namespace

Result<ConvertReport> ConvertToNodeRecords(const std::string& src_dir,
                                           const std::string& dst_dir) {
  FFF_ASSIGN_OR_RETURN(
      FffCheckpointSource src,
      OpenFffCheckpointToRewrite(
          src_dir, dst_dir, "convert",
          "the node-record layout is for UltraFastBERT FFF models"));
  const ModelConfig& c = src.config;
  const SafetensorsReader& reader = src.reader;
  const std::string& src_path = src.weights_path;
  if (c.fff_pruned) {
    return InvalidArgumentError(fmt::format(
        "convert: {} is a pruned checkpoint (arch.fff_pruned); convert the "
        "unpruned model",
        src_dir));
  }
  if (reader.metadata().count("fff_layout") != 0) {
    return InvalidArgumentError(
        fmt::format("convert: {} is already converted (fff_layout \"{}\")",
                    src_path, reader.metadata().at("fff_layout")));
  }
  FffShape shape;
  shape.d_in = shape.d_out = c.d_model;
  shape.depth = c.fff_depth;
  shape.n_trees = c.fff_trees;
  const int64_t total = shape.n_total_nodes();
  const int64_t d = c.d_model;
  const int64_t raw = 2 * d * 4;
  int64_t record_bytes = 4;
  if (raw <= kPage) {
    while (record_bytes < raw) record_bytes *= 2;
  } else {
    record_bytes = (raw + kPage - 1) / kPage * kPage;
  }
  const int64_t record_floats = record_bytes / 4;
  int64_t rows = total;
  while (rows * record_bytes % kPage != 0) ++rows;

  ConvertReport report;
  report.record_bytes = record_bytes;
  std::vector<std::vector<float>> records(static_cast<size_t>(c.n_layers));
  std::vector<std::vector<float>> biases(static_cast<size_t>(c.n_layers));
  std::set<std::string> replaced;
  nlohmann::ordered_json names = nlohmann::ordered_json::object();
  for (int64_t li = 0; li < c.n_layers; ++li) {
    const std::string p = fmt::format("encoder.layers.{}.ffn.", li);
    FFF_ASSIGN_OR_RETURN(FffLayerTensors t,
                         ReadFffLayerTensors(reader, p, total, d));
    std::vector<float> w_out(t.w_out.size());
    FFF_RETURN_IF_ERROR(RepackTorchLinearOut(shape, t.w_out, w_out));
    biases[static_cast<size_t>(li)] = std::move(t.b_in);
    std::vector<float>& r = records[static_cast<size_t>(li)];
    r.assign(static_cast<size_t>(rows * record_floats), 0.0f);
    for (int64_t g = 0; g < total; ++g) {
      std::copy_n(t.w_in.data() + g * d, d, r.data() + g * record_floats);
      std::copy_n(w_out.data() + g * d, d, r.data() + g * record_floats + d);
    }
    for (const char* name : kFffLayerTensors) replaced.insert(p + name);
    report.source_fff_bytes += t.source_bytes;
    const std::string q = fmt::format("fff.layers.{}.", li);
    names[q + "records"] = fmt::format(
        "{0}linear_in.weight = records[:{1}, :{2}]; {0}linear_out.weight = "
        "records[:{1}, {2}:{3}] transposed",
        p, total, d, 2 * d);
    names[q + "b_in"] = p + "linear_in.bias";
    report.fff_bytes += rows * record_bytes + total * 4;
  }
  // The dense Linear weights, tiled for oneDNN (src/kernels/linear.h):
  // attention, the tied decoder (from the word embedding, which stays as
  // it is for the embedding lookup), pooler and classifier.
  struct LinearToTile {
    std::string name;    // the published tensor whose rows are W
    std::string source;  // where W is read from (differs for the decoder)
    int64_t d_out = 0, d_in = 0;
  };
  std::vector<LinearToTile> linears;
  for (int64_t li = 0; li < c.n_layers; ++li) {
    const std::string p = fmt::format("encoder.layers.{}.attn.", li);
    linears.push_back(
        {p + "self_attention.query_key_value.weight", "", 3 * d, d});
    linears.push_back({p + "dense.weight", "", d, d});
  }
  const std::string kWord = "encoder.embedding.word_embedding.weight";
  const std::string kDecoder = "decoder.weight";
  const bool has_word = reader.Find(kWord) != nullptr;
  const bool has_decoder = reader.Find(kDecoder) != nullptr;
  const bool has_head = reader.Find("head.weight") != nullptr;
  if ((has_word || has_decoder) && (has_decoder || !has_head)) {
    const TensorInfo* emb = reader.Find(has_word ? kWord : kDecoder);
    if (emb->shape.size() != 2 || emb->shape[1] != d) {
      return DataLossError(fmt::format(
          "convert: tensor \"{}\" in {}: expected shape [vocab, {}], got {}",
          emb->name, src_path, d, ShapeString(emb->shape)));
    }
    linears.push_back({kDecoder, emb->name, emb->shape[0], d});
    if (has_word && has_decoder) replaced.insert(kDecoder);  // tied copy
  }
  if (const TensorInfo* pw = reader.Find("pooler.dense.weight")) {
    if (pw->shape.size() != 2 || pw->shape[1] != d) {
      return DataLossError(fmt::format(
          "convert: tensor \"pooler.dense.weight\" in {}: expected shape "
          "[pooler_dim, {}], got {}",
          src_path, d, ShapeString(pw->shape)));
    }
    linears.push_back({pw->name, "", pw->shape[0], d});
  }
  if (const TensorInfo* hw = reader.Find("head.weight")) {
    if (hw->shape.size() != 2 || hw->shape[0] < 1 || hw->shape[1] < 1) {
      return DataLossError(fmt::format(
          "convert: tensor \"head.weight\" in {}: expected shape [n_labels, "
          "in], got {}",
          src_path, ShapeString(hw->shape)));
    }
    linears.push_back({hw->name, "", hw->shape[0], hw->shape[1]});
  }
  std::vector<std::vector<float>> tiled(linears.size());
  std::vector<TensorToWrite> tensors;
  int64_t offset = 0;
  const std::vector<uint8_t> page_of_zeros(static_cast<size_t>(kPage), 0);
  for (size_t i = 0; i < linears.size(); ++i) {
    const LinearToTile& lt = linears[i];
    const std::string& source = lt.source.empty() ? lt.name : lt.source;
    std::vector<float> w(static_cast<size_t>(lt.d_out * lt.d_in));
    const int64_t shape2[] = {lt.d_out, lt.d_in};
    FFF_RETURN_IF_ERROR(reader.ReadF32(source, shape2, w));
    tiled[i].resize(w.size());
    FFF_RETURN_IF_ERROR(TileLinearWeights(lt.d_in, lt.d_out, w, tiled[i]));
    const std::string tn = std::string(kTiledLinearPrefix) + lt.name;
    tensors.push_back({tn, DType::kF32, {lt.d_out * lt.d_in}, tiled[i].data()});
    offset += lt.d_out * lt.d_in * 4;
    if (offset % kPage != 0) {  // the next one starts on a page
      const int64_t pad = kPage - offset % kPage;
      tensors.push_back({fmt::format("fff.pad.{}", i),
                         DType::kU8,
                         {pad},
                         page_of_zeros.data()});
      offset += pad;
    }
    names[tn] = fmt::format(
        "{}{} = [{}, {}]: W^T in column tiles of {} (fff_linear_tile_cols), "
        "each row-major",
        lt.name, lt.source.empty() ? "" : " (tied: " + lt.source + ")",
        lt.d_out, lt.d_in, kLinearTileCols);
    if (lt.source.empty()) replaced.insert(lt.name);
  }
  // Then every other tensor, then the biases, a padding tensor up to the
  // next page, then the records: far from the header, whose read-around
  // would otherwise pull the first records into memory at open.
  for (const TensorInfo& t : reader.tensors()) {
    if (replaced.count(t.name) != 0) continue;
    tensors.push_back({t.name, t.dtype, t.shape, reader.Bytes(t).data()});
    offset += static_cast<int64_t>(t.size_bytes);
  }
  for (int64_t li = 0; li < c.n_layers; ++li) {
    tensors.push_back({fmt::format("fff.layers.{}.b_in", li),
                       DType::kF32,
                       {total},
                       biases[static_cast<size_t>(li)].data()});
    offset += total * 4;
  }
  const int64_t pad = (kPage - offset % kPage) % kPage;
  const std::vector<uint8_t> zeros(static_cast<size_t>(pad), 0);
  if (pad > 0) {
    tensors.push_back({"fff.pad", DType::kU8, {pad}, zeros.data()});
  }
  for (int64_t li = 0; li < c.n_layers; ++li) {  // page-aligned
    tensors.push_back({fmt::format("fff.layers.{}.records", li),
                       DType::kF32,
                       {rows, record_floats},
                       records[static_cast<size_t>(li)].data()});
  }
  std::map<std::string, std::string> metadata = reader.metadata();
  metadata["fff_layout"] = kFffNodeRecordsLayout;
  metadata["fff_linear_tile_cols"] = std::to_string(kLinearTileCols);
  metadata["fff_original_names"] = names.dump();
  FFF_ASSIGN_OR_RETURN(
      report.file_bytes,
      WriteRewrittenCheckpoint(src_dir, dst_dir, "convert", tensors, metadata,
                               kPage,
                               {"config.json", "tokenizer.json", "vocab.txt"}));
  std::error_code ec;
  report.source_file_bytes = static_cast<int64_t>(fs::file_size(src_path, ec));
  return report;
}

}  // namespace fff
