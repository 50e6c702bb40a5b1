// Rewriting one UltraFastBERT FFF checkpoint folder into another: what
// `fff prune` (prune.cc) and `fff convert` (checkpoint_convert.cc) share.
#ifndef FFF_SRC_MODEL_CHECKPOINT_REWRITE_H_
#define FFF_SRC_MODEL_CHECKPOINT_REWRITE_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "fff/model.h"
#include "fff/safetensors.h"
#include "fff/status.h"

namespace fff {

// The source of a rewrite: config.json (text and parsed) and the opened
// model.safetensors.
struct FffCheckpointSource {
  std::string config_text;
  ModelConfig config;
  std::string weights_path;
  SafetensorsReader reader;
};

// Checks that `dst_dir` is not `src_dir`, reads src's config.json, requires
// a crammedBERT FFF model and opens its model.safetensors. Errors start with
// `what` ("prune", "convert"); `purpose` ends the one for another model
// kind, e.g. "pruning needs an UltraFastBERT FFF model".
Result<FffCheckpointSource> OpenFffCheckpointToRewrite(
    const std::string& src_dir, const std::string& dst_dir,
    const std::string& what, const std::string& purpose);

// The published names of an FFF layer's tensors, after its prefix
// "encoder.layers.{i}.ffn.".
inline constexpr const char* kFffLayerTensors[] = {
    "linear_in.weight", "linear_in.bias", "linear_out.weight"};

// An FFF layer's published tensors as float32 in PyTorch's layouts, for
// `rows` nodes (all of them, or a pruned source's kept ones):
// linear_in.weight [rows, d], linear_in.bias [rows], linear_out.weight
// [d, rows]; `source_bytes` is what the three take in the file.
struct FffLayerTensors {
  std::vector<float> w_in, b_in, w_out;
  int64_t source_bytes = 0;
};
Result<FffLayerTensors> ReadFffLayerTensors(const SafetensorsReader& reader,
                                            const std::string& prefix,
                                            int64_t rows, int64_t d);

// Creates `dst_dir`, writes its model.safetensors (atomically; see
// WriteSafetensors for `data_alignment`) and copies those of `files` that
// exist in `src_dir`. Returns the written file's size in bytes.
Result<int64_t> WriteRewrittenCheckpoint(
    const std::string& src_dir, const std::string& dst_dir,
    const std::string& what, std::span<const TensorToWrite> tensors,
    const std::map<std::string, std::string>& metadata, uint64_t data_alignment,
    std::initializer_list<const char*> files);

}  // namespace fff

#endif  // FFF_SRC_MODEL_CHECKPOINT_REWRITE_H_
