// Tensor-name tables and weight loading: a checkpoint's tensors, validated by
// name and shape and converted to float32 host arrays in the layouts the
// encoder needs.
#ifndef FFF_SRC_MODEL_WEIGHTS_H_
#define FFF_SRC_MODEL_WEIGHTS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "fff/fff.h"
#include "fff/leaf_fff.h"
#include "fff/model.h"
#include "fff/safetensors.h"
#include "fff/status.h"
#include "src/base/aligned_buffer.h"

namespace fff {

// A Linear's weight: PyTorch [d_out, d_in] floats (`plain`: `storage`, or
// another array such as the tied word embedding), or W^T in the tiled
// layout of src/kernels/linear.h (`tiled`: a view of the mapped checkpoint,
// written by fff convert). Both empty: absent.
struct LinearWeight {
  std::vector<float> storage;
  std::span<const float> plain, tiled;

  bool empty() const { return plain.empty() && tiled.empty(); }
  void Own(std::vector<float> v) {
    storage = std::move(v);
    plain = storage;
  }
  void Clear() { *this = LinearWeight{}; }
};

// One encoder layer. Linear weights are PyTorch [d_out, d_in]; empty vectors
// mean "absent" (biases of bias-free models). The loader converts crammedBERT's
// query_key_value (already per-head interleaved) as is.
struct LayerWeights {
  std::vector<float> norm1_w, norm1_b, norm2_w, norm2_b;
  LinearWeight qkv_w;  // [3*d_model, d_model]
  std::vector<float> qkv_b;
  float norm_factor = 0;    // attention score scale
  LinearWeight attn_out_w;  // [d_model, d_model]
  std::vector<float> attn_out_b;
  std::vector<float> ff_in_w, ff_in_b;    // dense: [d_ff, d_model]
  std::vector<float> ff_out_w, ff_out_b;  // dense: [d_model, d_ff(/2)]
  // FFF: [trees*nodes, d_model] and node-major w_out, 64-byte aligned (the
  // kernels' row loads then never straddle cache lines).
  AlignedVector<float> fff_w_in, fff_b_in;
  AlignedVector<float> fff_w_out;
  std::vector<uint8_t> fff_kept;  // pruned FFF: 1 per kept node [trees*nodes]
  // Zero-copy FFF (fff-node-records-v2): views into the mapped checkpoint
  // (then fff_w_in / fff_b_in / fff_w_out stay empty); the views' owner,
  // the SafetensorsReader, must outlive them.
  FffWeightsView fff_view;
  std::span<const uint8_t> fff_mapped_records, fff_mapped_b_in;
  LeafFffWeights leaf;  // leaf FFF (leaf_w1 hidden-major)
};

struct ModelWeights {
  // [vocab, d_model]: word_emb_storage, or a view of the mapped checkpoint.
  std::vector<float> word_emb_storage;
  std::span<const float> word_emb;
  // [max_seq_length, d_model]: crammedBERT's unscaled sinusoid (times
  // pos_scale), or HF BERT's learned position embeddings (pos_scale 1).
  std::vector<float> pos_table;
  float pos_scale = 1;
  std::vector<float> type_emb;  // HF BERT: [type_vocab_size, d_model]
  std::vector<float> emb_norm_w, emb_norm_b;
  std::vector<LayerWeights> layers;
  std::vector<float> final_norm_w, final_norm_b;
  LinearWeight decoder_w;  // [vocab, d_model] (tied); empty: no MLM head
  std::vector<float> decoder_b;
  // HF BERT's MLM transform: GELU(x W^T + b), then LayerNorm.
  LinearWeight mlm_dense_w;
  std::vector<float> mlm_dense_b, mlm_norm_w, mlm_norm_b;
  LinearWeight pooler_w;  // [pooler_dim, d_model]; optional
  std::vector<float> pooler_b;
  LinearWeight head_w;  // [n_labels, in]; empty: no classifier
  std::vector<float> head_b;
  int64_t n_parameters = 0;
  // Some weights are views of the checkpoint's mapping (fff convert's
  // layout): the SafetensorsReader must outlive them.
  bool views_mapping = false;
};

// Loads a crammedBERT / UltraFastBERT checkpoint (tensor names in
// docs/model.md). Fills cfg->vocab_size when the config left it 0 and checks
// it against the embedding otherwise. Every missing or misshapen tensor is
// an error naming it with the expected and actual shape.
Result<ModelWeights> LoadCrammedWeights(const SafetensorsReader& reader,
                                        ModelConfig* cfg);

// Loads a HuggingFace BERT checkpoint (BertModel, BertForMaskedLM,
// BertForSequenceClassification names, with or without the "bert." prefix;
// LayerNorm parameters as weight/bias or gamma/beta). Separate query, key
// and value matrices are interleaved per head into fff's query_key_value
// layout. For BERT, LayerWeights::norm1 is attention.output.LayerNorm and
// norm2 is output.LayerNorm (post-LN: applied after each residual add).
Result<ModelWeights> LoadHfBertWeights(const SafetensorsReader& reader,
                                       ModelConfig* cfg);

}  // namespace fff

#endif  // FFF_SRC_MODEL_WEIGHTS_H_
