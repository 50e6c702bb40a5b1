// crammedBERT in libtorch (crammed_model.h).
#include "tools/train/crammed_model.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "fff/safetensors.h"
#include "src/io/atomic_file.h"
#include "src/model/config.h"
#include "src/torch/fff_torch.h"

namespace fff::train {
namespace fs = std::filesystem;

Status ValidateTrainConfig(const ModelConfig& c) {
  if (c.family != ModelFamily::kCrammedBert) {
    return InvalidArgumentError(
        "train: only crammedBERT / UltraFastBERT configs can be trained");
  }
  if (!c.pre_norm) {
    return InvalidArgumentError("train: norm_scheme: expected \"pre\"");
  }
  if (c.vocab_size < 1 || c.d_model < 2 || c.d_model % 2 != 0 ||
      c.n_heads < 1 || c.d_model % c.n_heads != 0) {
    return InvalidArgumentError(fmt::format(
        "train: expected vocab_size >= 1 and an even hidden_size divisible "
        "by num_attention_heads, got vocab {} hidden {} heads {}",
        c.vocab_size, c.d_model, c.n_heads));
  }
  return Status::Ok();
}

// ---- Embedding -------------------------------------------------------------

ScaledSinusoidalImpl::ScaledSinusoidalImpl(int64_t d, int64_t max_seq) {
  scale_factor = register_parameter(
      "scale_factor", torch::full({1}, 1.0 / std::sqrt(static_cast<double>(d))));
  // As the authors build it, in float32: -ln(10000)/d rounded to float,
  // times the float arange, exp, times the position.
  const float coef =
      static_cast<float>(-std::log(10000.0) / static_cast<double>(d));
  auto freq = torch::exp(torch::arange(0, d, 2, torch::kFloat) * coef);
  auto pos = torch::arange(0, max_seq, torch::kFloat).unsqueeze(1);
  auto angle = pos * freq.unsqueeze(0);  // [S, d/2]
  table_ = torch::stack({torch::sin(angle), torch::cos(angle)}, 2)
               .reshape({max_seq, d});
}

torch::Tensor ScaledSinusoidalImpl::forward(int64_t seq_len) {
  if (table_.device() != scale_factor.device()) {
    table_ = table_.to(scale_factor.device());
  }
  return table_.narrow(0, 0, seq_len) * scale_factor;
}

EmbeddingImpl::EmbeddingImpl(const ModelConfig& c) {
  word_embedding = register_module(
      "word_embedding", torch::nn::Embedding(c.vocab_size, c.d_model));
  pos_embedding = register_module(
      "pos_embedding", ScaledSinusoidal(c.d_model, c.max_seq_length));
  norm = register_module(
      "norm", torch::nn::LayerNorm(
                  torch::nn::LayerNormOptions({c.d_model}).eps(c.norm_eps)));
}

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& ids) {
  auto e = word_embedding(ids) + pos_embedding(ids.size(1)).unsqueeze(0);
  return norm(e);
}

// ---- Attention -------------------------------------------------------------

SelfAttentionImpl::SelfAttentionImpl(const ModelConfig& c) : n_heads(c.n_heads) {
  query_key_value = register_module(
      "query_key_value",
      torch::nn::Linear(torch::nn::LinearOptions(c.d_model, 3 * c.d_model)
                            .bias(c.qkv_bias)));
  norm_factor = register_buffer(
      "norm_factor",
      torch::tensor(static_cast<float>(
          1.0 / std::sqrt(static_cast<double>(c.d_model / c.n_heads)))));
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x,
                                         const torch::Tensor& key_bias) {
  const int64_t b = x.size(0), s = x.size(1), d = x.size(2);
  const int64_t hd = d / n_heads;
  // Megatron layout: per token [heads, 3 * head_dim] -> q | k | v per head.
  auto qkv = query_key_value(x).view({b, s, n_heads, 3 * hd});
  auto parts = qkv.split(hd, -1);
  auto q = parts[0].transpose(1, 2);  // [B, H, S, hd]
  auto k = parts[1].transpose(1, 2);
  auto v = parts[2].transpose(1, 2);
  auto scores = torch::matmul(q, k.transpose(-1, -2)) * norm_factor;
  if (key_bias.defined()) scores = scores + key_bias;
  auto ctx = torch::matmul(torch::softmax(scores, -1), v);  // [B, H, S, hd]
  return ctx.transpose(1, 2).reshape({b, s, d});
}

AttentionImpl::AttentionImpl(const ModelConfig& c) {
  self_attention = register_module("self_attention", SelfAttention(c));
  dense = register_module(
      "dense", torch::nn::Linear(
                   torch::nn::LinearOptions(c.d_model, c.d_model).bias(c.use_bias)));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x,
                                     const torch::Tensor& key_bias) {
  return dense(self_attention(x, key_bias));
}

// ---- Feedforward -----------------------------------------------------------

DenseFeedForwardImpl::DenseFeedForwardImpl(const ModelConfig& c)
    : glu(c.ff_nonlin == FfNonlin::kGeluGlu) {
  dense_in = register_module(
      "dense_in", torch::nn::Linear(
                      torch::nn::LinearOptions(c.d_model, c.d_ff).bias(c.use_bias)));
  dense_out = register_module(
      "dense_out",
      torch::nn::Linear(torch::nn::LinearOptions(glu ? c.d_ff / 2 : c.d_ff,
                                                 c.d_model)
                            .bias(c.use_bias)));
}

torch::Tensor DenseFeedForwardImpl::forward(const torch::Tensor& x) {
  auto h = dense_in(x);
  if (glu) {
    auto halves = h.chunk(2, -1);
    h = torch::gelu(halves[1]) * halves[0];
  } else {
    h = torch::gelu(h);
  }
  return dense_out(h);
}

// ---- Layers ----------------------------------------------------------------

LayerImpl::LayerImpl(const ModelConfig& c, double dropout,
                     const LeafTrainOptions& leaf) {
  auto ln = [&] {
    return torch::nn::LayerNorm(
        torch::nn::LayerNormOptions({c.d_model}).eps(c.norm_eps));
  };
  norm1 = register_module("norm1", ln());
  attn = register_module("attn", Attention(c));
  norm2 = register_module("norm2", ln());
  if (c.ff_kind == FfKind::kLeafFff) {
    torch_ext::LeafFffFeedForwardOptions o;
    o.d_in = c.d_model;
    o.d_out = c.d_model;
    o.depth = c.leaf_depth;
    o.leaf_width = c.leaf_width;
    o.activation = c.leaf_activation;
    o.region_leak = leaf.region_leak;
    o.leaf_dropout = leaf.leaf_dropout;
    o.train_hardened = leaf.train_hardened;
    ffn = torch::nn::AnyModule(
        register_module("ffn", torch_ext::LeafFffFeedForward(o)));
  } else if (c.ff_kind == FfKind::kFff) {
    torch_ext::FffFeedForwardOptions o;
    o.d_in = c.d_model;
    o.d_out = c.d_model;
    o.depth = c.fff_depth;
    o.n_trees = c.fff_trees;
    ffn = torch::nn::AnyModule(
        register_module("ffn", torch_ext::FffFeedForward(o)));
  } else {
    ffn = torch::nn::AnyModule(register_module("ffn", DenseFeedForward(c)));
  }
  drop = register_module("drop", torch::nn::Dropout(dropout));
}

torch::Tensor LayerImpl::forward(const torch::Tensor& h,
                                 const torch::Tensor& key_bias) {
  auto x = h + drop(attn(norm1(h), key_bias));
  return x + drop(ffn.forward(norm2(x)));
}

EncoderImpl::EncoderImpl(const ModelConfig& c, double dropout,
                         const LeafTrainOptions& leaf) {
  embedding = register_module("embedding", Embedding(c));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.n_layers; ++i) {
    layers->push_back(Layer(c, dropout, leaf));
  }
  if (c.final_norm) {
    final_norm = register_module(
        "final_norm", torch::nn::LayerNorm(
                          torch::nn::LayerNormOptions({c.d_model}).eps(c.norm_eps)));
  }
}

torch::Tensor EncoderImpl::forward(const torch::Tensor& ids,
                                   const torch::Tensor& mask) {
  torch::Tensor key_bias;
  if (mask.defined()) {
    key_bias = ((1.0 - mask.to(torch::kFloat)) * -10000.0)
                   .view({mask.size(0), 1, 1, mask.size(1)});
  }
  auto h = embedding(ids);
  for (const auto& layer : *layers) h = layer->as<Layer>()->forward(h, key_bias);
  return final_norm ? final_norm(h) : h;
}

PoolerImpl::PoolerImpl(const ModelConfig& c) {
  dense = register_module(
      "dense", torch::nn::Linear(c.d_model, c.pooler_dim > 0 ? c.pooler_dim : 1024));
}

CrammedBertImpl::CrammedBertImpl(const CrammedOptions& o) : options_(o) {
  const ModelConfig& c = o.config;
  encoder = register_module("encoder", Encoder(c, o.dropout, o.leaf));
  if (o.n_labels > 0) {
    int64_t head_in = c.d_model;
    if (c.pooler_dense) {
      pooler = register_module("pooler", Pooler(c));
      head_in = pooler->dense->options.out_features();
    }
    head = register_module("head", torch::nn::Linear(head_in, o.n_labels));
    classifier_drop = register_module("classifier_drop",
                                      torch::nn::Dropout(o.dropout));
  }
  // crammedBERT's global init: every Linear and the embedding N(0, std),
  // biases zero (LayerNorms stay at 1 / 0; the FFF module already did its
  // own).
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* lin = m->as<torch::nn::Linear>()) {
      lin->weight.normal_(0.0, o.init_std);
      if (lin->bias.defined()) lin->bias.zero_();
    }
  }
  encoder->embedding->word_embedding->weight.normal_(0.0, o.init_std);
}

torch::Tensor CrammedBertImpl::Encode(const torch::Tensor& ids,
                                      const torch::Tensor& mask) {
  return encoder(ids, mask);
}

torch::Tensor CrammedBertImpl::MlmLogits(const torch::Tensor& hidden_rows) {
  return torch::matmul(hidden_rows,
                       encoder->embedding->word_embedding->weight.t());
}

std::vector<torch_ext::LeafFffFeedForwardImpl*> CrammedBertImpl::LeafLayers() {
  std::vector<torch_ext::LeafFffFeedForwardImpl*> out;
  for (const auto& layer : *encoder->layers) {
    auto* ffn = layer->as<Layer>()->ffn.ptr()->as<torch_ext::LeafFffFeedForward>();
    if (ffn != nullptr) out.push_back(ffn);
  }
  return out;
}

torch::Tensor CrammedBertImpl::MeanRouterEntropy() {
  torch::Tensor sum;
  int64_t n = 0;
  for (auto* l : LeafLayers()) {
    if (!l->last_mean_entropy.defined()) continue;
    sum = sum.defined() ? sum + l->last_mean_entropy : l->last_mean_entropy;
    ++n;
  }
  return n > 0 ? sum / static_cast<double>(n) : sum;
}

torch::Tensor CrammedBertImpl::Classify(const torch::Tensor& ids,
                                        const torch::Tensor& mask) {
  TORCH_CHECK(head, "Classify: the model has no classification head");
  auto h = encoder(ids, mask);  // [B, S, d]
  torch::Tensor pooled;
  switch (options_.config.pooler) {
    case fff::Pooler::kZeroIndex:
      pooled = h.select(1, 0);
      break;
    case fff::Pooler::kAvg:
      pooled = h.mean(1);
      break;
    case fff::Pooler::kMax:
      pooled = std::get<0>(h.max(1));
      break;
    case fff::Pooler::kLse:
      pooled = h.logsumexp(1);
      break;
  }
  if (pooler) pooled = torch::tanh(pooler->dense(pooled));
  return head(classifier_drop(pooled));
}

// ---- Checkpoints -----------------------------------------------------------


Status SaveCheckpoint(
    CrammedBert& model, const std::string& dir,
    const std::string& tokenizer_json, bool with_decoder,
    const std::function<Status(const std::string&)>& extra) {
  torch::NoGradGuard no_grad;
  const std::string tmp = dir + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) {
    return NotFoundError(fmt::format("{}: cannot create: {}", tmp, ec.message()));
  }
  // Contiguous CPU float32 copies, in module order.
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : model->named_parameters()) {
    tensors.emplace_back(p.key(), p.value().detach().to(torch::kCPU, torch::kFloat).contiguous());
  }
  for (const auto& b : model->named_buffers()) {
    tensors.emplace_back(b.key(), b.value().detach().to(torch::kCPU, torch::kFloat).contiguous());
  }
  if (with_decoder) {
    tensors.emplace_back(
        "decoder.weight",
        model->encoder->embedding->word_embedding->weight.detach()
            .to(torch::kCPU, torch::kFloat)
            .contiguous());
  }
  std::vector<TensorToWrite> out;
  for (const auto& [name, t] : tensors) {
    out.push_back({name, DType::kF32,
                   std::vector<int64_t>(t.sizes().begin(), t.sizes().end()),
                   t.data_ptr<float>()});
  }
  FFF_RETURN_IF_ERROR(WriteSafetensors(
      (fs::path(tmp) / "model.safetensors").string(), out, {{"format", "pt"}}));
  ModelConfig c = model->options().config;
  FFF_ASSIGN_OR_RETURN(std::string config, CrammedBertConfigJson(c));
  // Every file is written through an fsynced temporary and renamed, so the
  // folder renamed into place below holds complete files only.
  FFF_RETURN_IF_ERROR(internal::WriteFileAtomically(
      (fs::path(tmp) / "config.json").string(), config));
  if (!tokenizer_json.empty()) {
    FFF_ASSIGN_OR_RETURN(std::string tok, ReadTextFile(tokenizer_json, 256u << 20));
    FFF_RETURN_IF_ERROR(internal::WriteFileAtomically(
        (fs::path(tmp) / "tokenizer.json").string(), tok));
  }
  if (extra) FFF_RETURN_IF_ERROR(extra(tmp));
  // Swap into place: dir -> dir.old, tmp -> dir, remove dir.old. At every
  // moment one complete checkpoint exists (dir, else dir.old).
  const std::string old = dir + ".old";
  fs::remove_all(old, ec);
  if (fs::exists(dir)) {
    fs::rename(dir, old, ec);
    if (ec) {
      return NotFoundError(fmt::format("{}: cannot move aside: {}", dir, ec.message()));
    }
  }
  fs::rename(tmp, dir, ec);
  if (ec) {
    return NotFoundError(fmt::format("{}: cannot rename to {}: {}", tmp, dir, ec.message()));
  }
  fs::remove_all(old, ec);
  return Status::Ok();
}

Result<ModelConfig> ReadCheckpointConfig(const std::string& dir) {
  const std::string path = (fs::path(dir) / "config.json").string();
  FFF_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path, 16u << 20));
  FFF_ASSIGN_OR_RETURN(ModelConfig c, ParseModelConfig(text, path));
  FFF_RETURN_IF_ERROR(ValidateTrainConfig(c));
  return c;
}

Status LoadCheckpointWeights(CrammedBert& model, const std::string& dir,
                             bool allow_missing_head) {
  const std::string path = (fs::path(dir) / "model.safetensors").string();
  FFF_ASSIGN_OR_RETURN(SafetensorsReader reader, SafetensorsReader::Open(path));
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  auto load = [&](const std::string& name, torch::Tensor& dst) -> Status {
    const TensorInfo* info = reader.Find(name);
    if (info == nullptr) {
      return NotFoundError(fmt::format("{}: tensor \"{}\" is missing", path, name));
    }
    const std::vector<int64_t> want(dst.sizes().begin(), dst.sizes().end());
    if (info->shape != want) {
      return InvalidArgumentError(fmt::format(
          "{}: tensor \"{}\": expected shape {}, got {}", path, name,
          ShapeString(want), ShapeString(info->shape)));
    }
    std::vector<float> buf(static_cast<size_t>(info->n_elements));
    FFF_RETURN_IF_ERROR(reader.ReadF32(*info, buf));
    dst.copy_(torch::from_blob(buf.data(), dst.sizes(), torch::kFloat));
    used.insert(name);
    return Status::Ok();
  };
  auto is_head = [](const std::string& n) {
    return n.rfind("head.", 0) == 0 || n.rfind("pooler.", 0) == 0;
  };
  for (auto& p : model->named_parameters()) {
    if (allow_missing_head && is_head(p.key()) && reader.Find(p.key()) == nullptr) {
      continue;
    }
    FFF_RETURN_IF_ERROR(load(p.key(), p.value()));
  }
  for (auto& b : model->named_buffers()) FFF_RETURN_IF_ERROR(load(b.key(), b.value()));
  for (const TensorInfo& t : reader.tensors()) {
    if (used.count(t.name) || t.name == "decoder.weight") continue;
    if (allow_missing_head && is_head(t.name)) continue;
    return InvalidArgumentError(fmt::format(
        "{}: tensor \"{}\" has no place in the model (config.json does not "
        "match the checkpoint?)",
        path, t.name));
  }
  return Status::Ok();
}

}  // namespace fff::train
