// crammedBERT / UltraFastBERT in libtorch, for training. The module tree
// reproduces the published checkpoint's tensor names exactly
// (encoder.embedding.word_embedding.weight, encoder.layers.{i}.ffn.linear_in
// .weight, pooler.dense.weight, head.weight, ...; spec section 3), so
// SaveCheckpoint writes a folder that fff's inference engine (fff/model.h)
// loads unchanged. The architecture is described by fff::ModelConfig (the
// engine's own vocabulary); only kCrammedBert configs are accepted.
//
// Computation (spec section 2): scaled sinusoidal positions (float32 table
// as the authors build it), embedding LayerNorm, pre-LN layers
// h += Attn(LN1(h)); h += FFN(LN2(h)) with Megatron-layout qkv and the
// additive key mask (1 - m) * -10000, FFN = fff's conditional FFF op (or a
// dense GELU / GELUglu feedforward), final LayerNorm, MLM logits through the
// tied word embedding (sparse: only the rows asked for), classification
// through pooler (zero_index / avg / max / lse) -> dense -> tanh -> head.
// Dropout (hidden and classifier) applies in training mode only.
#ifndef FFF_TOOLS_TRAIN_CRAMMED_MODEL_H_
#define FFF_TOOLS_TRAIN_CRAMMED_MODEL_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>

#include "fff/model.h"
#include "fff/status.h"
#include "src/torch/leaf_fff_torch.h"

namespace fff::train {

// Training-only options of leaf FFF feedforwards (leaf_fff_torch.h); the
// architecture itself is in ModelConfig.
struct LeafTrainOptions {
  double region_leak = 0.0;
  double leaf_dropout = 0.0;
  bool train_hardened = false;
};

struct CrammedOptions {
  ModelConfig config;   // family kCrammedBert
  int64_t n_labels = 0;  // > 0: add pooler + head (classification)
  double dropout = 0.0;  // hidden dropout (and classifier dropout)
  double init_std = 0.02;
  LeafTrainOptions leaf;  // config.ff_kind == kLeafFff only
};

// OK when the config describes a model this trainer can build.
Status ValidateTrainConfig(const ModelConfig& config);

class ScaledSinusoidalImpl : public torch::nn::Module {
 public:
  ScaledSinusoidalImpl(int64_t d_model, int64_t max_seq_length);
  torch::Tensor forward(int64_t seq_len);  // [S, d_model]
  torch::Tensor scale_factor;

 private:
  torch::Tensor table_;  // [max_seq_length, d_model], not a parameter
};
TORCH_MODULE(ScaledSinusoidal);

class EmbeddingImpl : public torch::nn::Module {
 public:
  explicit EmbeddingImpl(const ModelConfig& c);
  torch::Tensor forward(const torch::Tensor& ids);  // [B, S] -> [B, S, d]
  torch::nn::Embedding word_embedding{nullptr};
  ScaledSinusoidal pos_embedding{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(Embedding);

class SelfAttentionImpl : public torch::nn::Module {
 public:
  explicit SelfAttentionImpl(const ModelConfig& c);
  // x [B, S, d], key_bias [B, 1, 1, S] additive (or undefined) -> [B, S, d]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_bias);
  torch::nn::Linear query_key_value{nullptr};
  torch::Tensor norm_factor;  // 0-d buffer, 1/sqrt(head_dim)
  int64_t n_heads = 0;
};
TORCH_MODULE(SelfAttention);

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_bias);
  SelfAttention self_attention{nullptr};
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(Attention);

class DenseFeedForwardImpl : public torch::nn::Module {
 public:
  explicit DenseFeedForwardImpl(const ModelConfig& c);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear dense_in{nullptr}, dense_out{nullptr};
  bool glu = false;
};
TORCH_MODULE(DenseFeedForward);

class LayerImpl : public torch::nn::Module {
 public:
  LayerImpl(const ModelConfig& c, double dropout, const LeafTrainOptions& leaf);
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& key_bias);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  torch::nn::AnyModule ffn;
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(Layer);

class EncoderImpl : public torch::nn::Module {
 public:
  EncoderImpl(const ModelConfig& c, double dropout, const LeafTrainOptions& leaf);
  // ids [B, S] int64, mask [B, S] (1 = token, 0 = padding; undefined = no
  // padding) -> [B, S, d]
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& mask);
  Embedding embedding{nullptr};
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm final_norm{nullptr};
};
TORCH_MODULE(Encoder);

class PoolerImpl : public torch::nn::Module {
 public:
  PoolerImpl(const ModelConfig& c);
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(Pooler);

class CrammedBertImpl : public torch::nn::Module {
 public:
  explicit CrammedBertImpl(const CrammedOptions& options);
  const CrammedOptions& options() const { return options_; }

  torch::Tensor Encode(const torch::Tensor& ids, const torch::Tensor& mask);
  // MLM logits [n, vocab] of hidden rows [n, d] (tied decoder).
  torch::Tensor MlmLogits(const torch::Tensor& hidden_rows);
  // Classification / regression logits [B, n_labels].
  torch::Tensor Classify(const torch::Tensor& ids, const torch::Tensor& mask);

  // The leaf FFF feedforwards, in layer order (empty for other models).
  std::vector<torch_ext::LeafFffFeedForwardImpl*> LeafLayers();
  // Mean over the leaf FFF layers of their last training forward's mean
  // router entropy (the hardening loss term); undefined for other models.
  torch::Tensor MeanRouterEntropy();

  Encoder encoder{nullptr};
  Pooler pooler{nullptr};  // classification only
  torch::nn::Linear head{nullptr};
  torch::nn::Dropout classifier_drop{nullptr};

 private:
  CrammedOptions options_;
};
TORCH_MODULE(CrammedBert);

// Writes `dir`/config.json, model.safetensors (F32; the tied decoder as
// "decoder.weight" too when with_decoder) and copies tokenizer.json from
// `tokenizer_json` (if not empty). The folder is built next to `dir` and
// renamed into place, so `dir` is never a half-written checkpoint: an
// existing `dir` is moved to `dir`.old first and removed after. `extra`,
// when given, writes more files into the not yet renamed folder (its path is
// the argument): they are swapped in together with the model.
Status SaveCheckpoint(
    CrammedBert& model, const std::string& dir,
    const std::string& tokenizer_json, bool with_decoder,
    const std::function<Status(const std::string&)>& extra = {});

// Loads a checkpoint folder written by SaveCheckpoint (or the published
// layout) into `model`, whose architecture must match: every tensor of the
// model must be present with its shape; extra tensors other than
// decoder.weight (and head.* / pooler.* when `allow_missing_head`: a
// classifier initialised from a pretraining checkpoint) are errors.
Status LoadCheckpointWeights(CrammedBert& model, const std::string& dir,
                             bool allow_missing_head);

// The checkpoint's architecture (config.json), for building the model.
Result<ModelConfig> ReadCheckpointConfig(const std::string& dir);

}  // namespace fff::train

#endif  // FFF_TOOLS_TRAIN_CRAMMED_MODEL_H_
