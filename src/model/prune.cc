// PruneFffCheckpoint (fff/prune.h).
#include "fff/prune.h"

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fff/safetensors.h"
#include "src/io/atomic_file.h"
#include "src/model/checkpoint_rewrite.h"

namespace fff {
namespace {

namespace fs = std::filesystem;

}  // namespace

Result<PruneReport> PruneFffCheckpoint(const std::string& src_dir,
                                       const RoutingStats& visits,
                                       const PruneOptions& options,
                                       const std::string& dst_dir) {
  if (options.threshold < 0) {
    return InvalidArgumentError(fmt::format(
        "prune: threshold: expected >= 0, got {}", options.threshold));
  }
  FFF_ASSIGN_OR_RETURN(
      FffCheckpointSource src,
      OpenFffCheckpointToRewrite(src_dir, dst_dir, "prune",
                                 "pruning needs an UltraFastBERT FFF model"));
  const ModelConfig& c = src.config;
  const SafetensorsReader& reader = src.reader;
  const std::string& src_path = src.weights_path;
  if (visits.leaf_fff() || visits.n_layers() != c.n_layers ||
      visits.n_trees() != c.fff_trees || visits.depth() != c.fff_depth) {
    return InvalidArgumentError(fmt::format(
        "prune: the visit counts are for {} layers of {} x {} trees, the "
        "model {} has {} layers of {}",
        visits.n_layers(), visits.n_trees(), visits.depth(), src_dir,
        c.n_layers, FfName(c)));
  }
  const int64_t d = c.d_model;
  const int64_t n_nodes = (int64_t{2} << c.fff_depth) - 1;
  const int64_t total = c.fff_trees * n_nodes;
  PruneReport report;
  std::set<std::string> fff_names;
  for (int64_t li = 0; li < c.n_layers; ++li) {
    const std::string p = fmt::format("encoder.layers.{}.ffn.", li);
    for (const char* name : kFffLayerTensors) fff_names.insert(p + name);
    fff_names.insert(p + "kept_nodes");
  }
  // The new FFF tensors, owned here until written.
  std::vector<std::vector<float>> floats;
  std::vector<std::vector<int32_t>> kept_lists;
  floats.reserve(static_cast<size_t>(3 * c.n_layers));
  kept_lists.reserve(static_cast<size_t>(c.n_layers));
  std::map<std::string, std::vector<TensorToWrite>>
      fff_tensors;  // by layer prefix
  for (int64_t li = 0; li < c.n_layers; ++li) {
    const std::string p = fmt::format("encoder.layers.{}.ffn.", li);
    // The source's kept nodes (all of them unless it is pruned already).
    std::vector<int64_t> source_row(static_cast<size_t>(total), -1);
    int64_t source_rows = total;
    if (c.fff_pruned) {
      const TensorInfo* info = reader.Find(p + "kept_nodes");
      if (info == nullptr || info->dtype != DType::kI32 ||
          info->shape.size() != 1 || info->shape[0] > total) {
        return DataLossError(fmt::format(
            "prune: {}: tensor \"{}kept_nodes\" missing or not I32 [K <= {}] "
            "although config.json says fff_pruned",
            src_path, p, total));
      }
      source_rows = info->shape[0];
      std::vector<int32_t> kept(static_cast<size_t>(source_rows));
      std::memcpy(kept.data(), reader.Bytes(*info).data(),
                  kept.size() * sizeof(int32_t));
      for (int64_t j = 0; j < source_rows; ++j) {
        const int32_t g = kept[static_cast<size_t>(j)];
        if (g < 0 || g >= total) {
          return DataLossError(fmt::format(
              "prune: {}: tensor \"{}kept_nodes\" entry {}: node {} out of "
              "range 0..{}",
              src_path, p, j, g, total - 1));
        }
        source_row[static_cast<size_t>(g)] = j;
      }
    } else {
      for (int64_t g = 0; g < total; ++g)
        source_row[static_cast<size_t>(g)] = g;
    }
    FFF_ASSIGN_OR_RETURN(const FffLayerTensors t,
                         ReadFffLayerTensors(reader, p, source_rows, d));
    report.source_fff_bytes += t.source_bytes;
    if (const TensorInfo* kn = reader.Find(p + "kept_nodes")) {
      report.source_fff_bytes += static_cast<int64_t>(kn->size_bytes);
    }

    // Kept: kept by the source, visited often enough, parent kept.
    std::vector<uint8_t> keep(static_cast<size_t>(total), 0);
    std::vector<int32_t>& kept = kept_lists.emplace_back();
    for (int64_t tree = 0; tree < c.fff_trees; ++tree) {
      const std::span<const int64_t> v = visits.visits(li, tree);
      for (int64_t node = 0; node < n_nodes; ++node) {
        const int64_t g = tree * n_nodes + node;
        const bool parent_kept =
            node == 0 ||
            keep[static_cast<size_t>(tree * n_nodes + (node - 1) / 2)] != 0;
        if (parent_kept && source_row[static_cast<size_t>(g)] >= 0 &&
            v[static_cast<size_t>(node)] >= options.threshold) {
          keep[static_cast<size_t>(g)] = 1;
          kept.push_back(static_cast<int32_t>(g));
        }
      }
    }
    // kept is ascending: trees in order, nodes in breadth-first order.
    const int64_t k = static_cast<int64_t>(kept.size());
    std::vector<float>& nw_in = floats.emplace_back(static_cast<size_t>(k * d));
    std::vector<float>& nb_in = floats.emplace_back(static_cast<size_t>(k));
    std::vector<float>& nw_out =
        floats.emplace_back(static_cast<size_t>(d * k));
    for (int64_t j = 0; j < k; ++j) {
      const int64_t r =
          source_row[static_cast<size_t>(kept[static_cast<size_t>(j)])];
      std::copy_n(t.w_in.data() + r * d, d, nw_in.data() + j * d);
      nb_in[static_cast<size_t>(j)] = t.b_in[static_cast<size_t>(r)];
      for (int64_t i = 0; i < d; ++i) {
        nw_out[static_cast<size_t>(i * k + j)] =
            t.w_out[static_cast<size_t>(i * source_rows + r)];
      }
    }
    std::vector<TensorToWrite>& out = fff_tensors[p];
    out.push_back({p + "kept_nodes", DType::kI32, {k}, kept.data()});
    out.push_back({p + "linear_in.weight", DType::kF32, {k, d}, nw_in.data()});
    out.push_back({p + "linear_in.bias", DType::kF32, {k}, nb_in.data()});
    out.push_back(
        {p + "linear_out.weight", DType::kF32, {d, k}, nw_out.data()});
    PruneLayerReport lr;
    lr.layer = li;
    lr.nodes = total;
    lr.kept_nodes = k;
    lr.fff_bytes = k * 4 + (2 * k * d + k) * 4;
    report.fff_bytes += lr.fff_bytes;
    report.layers.push_back(lr);
  }

  // Every other tensor as stored; each layer's FFF tensors where its
  // linear_in.weight was.
  std::vector<TensorToWrite> tensors;
  for (const TensorInfo& t : reader.tensors()) {
    if (fff_names.count(t.name) == 0) {
      tensors.push_back({t.name, t.dtype, t.shape, reader.Bytes(t).data()});
      continue;
    }
    const std::string p = t.name.substr(0, t.name.rfind(".ffn.") + 5);
    if (t.name == p + "linear_in.weight") {
      for (const TensorToWrite& w : fff_tensors[p]) tensors.push_back(w);
    }
  }
  std::map<std::string, std::string> metadata = reader.metadata();
  metadata["fff_pruned_threshold"] = std::to_string(options.threshold);
  metadata["fff_pruned_on"] = options.counted_on;
  metadata["fff_pruned_tokens"] = std::to_string(visits.n_tokens());

  FFF_ASSIGN_OR_RETURN(
      report.file_bytes,
      WriteRewrittenCheckpoint(src_dir, dst_dir, "prune", tensors, metadata, 8,
                               {"tokenizer.json", "vocab.txt"}));
  nlohmann::ordered_json config =
      nlohmann::ordered_json::parse(src.config_text);
  config["arch"]["fff_pruned"] = true;
  FFF_RETURN_IF_ERROR(internal::WriteFileAtomically(
      (fs::path(dst_dir) / "config.json").string(), config.dump(2) + "\n"));
  std::error_code ec;
  report.source_file_bytes = static_cast<int64_t>(fs::file_size(src_path, ec));
  return report;
}

}  // namespace fff
