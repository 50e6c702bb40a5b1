// Zero-copy checkpoints: `fff convert` rewrites an UltraFastBERT checkpoint so
// that its weights are stored the way the kernels read them, and Model::Load
// maps them instead of copying or repacking (docs/model.md, "Zero-copy
// layout"). Pages of FFF nodes no token visits are then never read from disk.
//
// Layout "fff-node-records-v2" (safetensors metadata "fff_layout"):
//   fff.tiled.<name>        F32 [d_out * d_in]: the Linear weight <name>
//       ([d_out, d_in], PyTorch) as W^T cut into column tiles of T = 384
//       (metadata "fff_linear_tile_cols"), each tile row-major [d_in, cols]
//       and the tiles back to back: W[n][k] = t[(n / T) * T * d_in +
//       k * cols + n % T], cols = min(T, d_out - (n / T) * T) - what
//       oneDNN's sgemm reads per tile (src/kernels/linear.h). For every
//       layer's attn.self_attention.query_key_value.weight and
//       attn.dense.weight, pooler.dense.weight and head.weight when present,
//       and decoder.weight (the tied word embedding) when the model has an
//       MLM head. They come first, each starting on a 4096-byte boundary
//       (zero "fff.pad.<k>" U8 tensors between them where needed).
//   per layer i:
//   fff.layers.{i}.records  F32 [R, record_floats]  record g (g < n_total =
//       trees * n_nodes) = w_in row g (d_in floats) | w_out row g, node-major
//       (d_out floats) | zeros. record_floats * 4 is the next power of two
//       >= (d_in + d_out) * 4 when that is <= 4096 (records never straddle a
//       page), else a multiple of 4096 (records start on pages); R >=
//       n_total makes the tensor a whole number of pages.
//   fff.layers.{i}.b_in     F32 [n_total]
// Every other tensor keeps its name, dtype and bytes (the word embedding
// too; a decoder.weight beside it, its tied copy, is dropped) and follows
// the blocked ones, then the b_in tensors, "fff.pad" (U8 zeros up to the
// next page), then the records tensors: the data section starts on a
// 4096-byte boundary, so every tiled weight and every record is
// page-aligned in the file and in the mapping, and the records lie far from
// the header (whose read-around would load the first ones). The metadata
// "fff_original_names" maps each new name to the published one(s):
// linear_in.weight = records[:n_total, :d_in], linear_out.weight =
// records[:n_total, d_in:d_in+d_out] transposed, linear_in.bias = b_in, and
// each tiled weight's rule.
#ifndef FFF_CHECKPOINT_CONVERT_H_
#define FFF_CHECKPOINT_CONVERT_H_

#include <cstdint>
#include <string>

#include "fff/status.h"

namespace fff {

inline constexpr const char* kFffNodeRecordsLayout = "fff-node-records-v2";
// Dense Linear weights stored tiled (see the layout comment above).
inline constexpr const char* kTiledLinearPrefix = "fff.tiled.";

struct ConvertReport {
  int64_t record_bytes = 0;      // per node
  int64_t fff_bytes = 0;         // records + b_in tensors in the new file
  int64_t source_fff_bytes = 0;  // the FFF tensors in the source
  int64_t file_bytes = 0;
  int64_t source_file_bytes = 0;
};

// Converts the crammedBERT / UltraFastBERT FFF checkpoint folder `src_dir`
// (unpruned; F32/F16/BF16/F64 FFF tensors) into `dst_dir` (created; must
// differ): model.safetensors in the layout above, config.json and tokenizer
// files copied. Errors name the file and tensor; model.safetensors is written
// atomically.
Result<ConvertReport> ConvertToNodeRecords(const std::string& src_dir,
                                           const std::string& dst_dir);

}  // namespace fff

#endif  // FFF_CHECKPOINT_CONVERT_H_
