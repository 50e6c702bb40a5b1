// CrammedBertConfigJson: config.json in the published crammedBERT form (the
// `arch` object the authors' code resolves, sorted keys, two-space indent),
// written by `fff synth` and by the trainer, read back by config.cc.
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "fff/model.h"

namespace fff {

Result<std::string> CrammedBertConfigJson(const ModelConfig& c,
                                          std::string_view extra_arch_json) {
  using nlohmann::json;
  json arch = {
      {"architectures", {"ScriptableCrammedBERT"}},
      {"num_transformer_layers", c.n_layers},
      {"hidden_size", c.d_model},
      {"hidden_dropout_prob", 0.1},
      {"norm", "LayerNorm"},
      {"norm_eps", c.norm_eps},
      {"norm_scheme", "pre"},
      {"tie_weights", true},
      {"decoder_bias", c.decoder_bias},
      {"sparse_prediction", 0.25},
      {"loss", "cross-entropy"},
      {"objective_layout", "MLM"},
      {"embedding",
       {{"vocab_size", c.vocab_size},
        {"pos_embedding", "scaled-sinusoidal"},
        {"dropout_prob", 0.1},
        {"pad_token_id", 0},
        {"max_seq_length", c.max_seq_length},
        {"embedding_dim", c.d_model},
        {"normalization", true},
        {"stable_low_precision", false}}},
      {"attention",
       {{"type", "self-attention"},
        {"causal_attention", false},
        {"num_attention_heads", c.n_heads},
        {"dropout_prob", 0.1},
        {"skip_output_projection", false},
        {"qkv_bias", c.qkv_bias},
        {"rotary_embedding", false},
        {"seq_op_in_fp32", false},
        {"sequence_op", "torch-softmax"}}},
      {"init", {{"type", "normal"}, {"std", 0.02}}},
      {"ffn_layer_frequency", 1},
      {"skip_head_transform", true},
      {"use_bias", c.use_bias},
      {"final_norm", c.final_norm},
      {"num_labels", nullptr},
      {"classification_head",
       {{"pooler", PoolerName(c.pooler)},
        {"include_ff_layer", c.pooler_dense},
        {"head_dim", c.pooler_dim > 0 ? c.pooler_dim : 1024},
        {"nonlin", "Tanh"},
        {"classifier_dropout", 0.1}}},
  };
  if (c.ff_kind == FfKind::kLeafFff) {
    arch["intermed_type"] = "leaf_fff";
    arch["leaf_depth"] = c.leaf_depth;
    arch["leaf_width"] = c.leaf_width;
    arch["leaf_nonlin"] = LeafActivationName(c.leaf_activation);
    arch["nonlin"] = "GELU";
  } else if (c.ff_kind == FfKind::kFff) {
    arch["intermed_type"] = "fff";
    arch["intermed_size"] = c.fff_trees;
    arch["intermed_depth"] = c.fff_depth;
    if (c.fff_pruned) arch["fff_pruned"] = true;
    arch["nonlin"] = "GELU";
  } else {
    arch["intermed_type"] = "ff";
    arch["intermed_size"] = c.d_ff;
    arch["nonlin"] = c.ff_nonlin == FfNonlin::kGeluGlu ? "GELUglu" : "GELU";
  }
  if (!extra_arch_json.empty()) {
    json extra = json::parse(extra_arch_json, nullptr, /*allow_exceptions=*/false);
    if (!extra.is_object()) {
      return InvalidArgumentError(
          "CrammedBertConfigJson: extra_arch_json: expected a JSON object");
    }
    arch.update(extra);
  }
  const json j = {{"arch", arch},
                  {"architectures", {"ScriptableLMForPreTraining"}},
                  {"model_type", "crammedBERT"},
                  {"torch_dtype", "float32"},
                  {"transformers_version", "4.35.2"}};
  return j.dump(2) + "\n";
}

}  // namespace fff
