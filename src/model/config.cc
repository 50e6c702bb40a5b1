#include "src/model/config.h"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace fff {
namespace {

using Json = nlohmann::json;

// Typed field access that reports "source: path.to.field: expected X, got Y".
class Fields {
 public:
  Fields(const std::string& source) : source_(source) {}

  Status Error(const std::string& path, const std::string& want,
               const Json* got) const {
    std::string got_text = got == nullptr ? "nothing (missing)" : got->dump();
    if (got_text.size() > 80) got_text = got_text.substr(0, 77) + "...";
    return Status(StatusCode::kDataLoss,
                  fmt::format("{}: {}: expected {}, got {}", source_, path,
                              want, got_text));
  }

  // The member `key` of `obj` or nullptr (null values count as missing).
  static const Json* Get(const Json& obj, const char* key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }

  Status Int(const Json& obj, const std::string& prefix, const char* key,
             int64_t min, int64_t max, int64_t* out, bool required = true,
             int64_t fallback = 0) const {
    const Json* v = Get(obj, key);
    const std::string path = prefix + key;
    if (v == nullptr) {
      if (required) {
        return Error(path, fmt::format("an integer in [{}, {}]", min, max),
                     nullptr);
      }
      *out = fallback;
      return Status::Ok();
    }
    if (!v->is_number_integer()) {
      return Error(path, fmt::format("an integer in [{}, {}]", min, max), v);
    }
    const int64_t x = v->is_number_unsigned()
                          ? static_cast<int64_t>(std::min<uint64_t>(
                                v->get<uint64_t>(), uint64_t{1} << 62))
                          : v->get<int64_t>();
    if (x < min || x > max) {
      return Error(path, fmt::format("an integer in [{}, {}]", min, max), v);
    }
    *out = x;
    return Status::Ok();
  }

  Status Float(const Json& obj, const std::string& prefix, const char* key,
               double min, double max, float* out, bool required,
               float fallback) const {
    const Json* v = Get(obj, key);
    const std::string path = prefix + key;
    if (v == nullptr) {
      if (required) return Error(path, "a number", nullptr);
      *out = fallback;
      return Status::Ok();
    }
    if (!v->is_number()) return Error(path, "a number", v);
    const double x = v->get<double>();
    if (!(x >= min && x <= max)) {
      return Error(path, fmt::format("a number in [{}, {}]", min, max), v);
    }
    *out = static_cast<float>(x);
    return Status::Ok();
  }

  Status Bool(const Json& obj, const std::string& prefix, const char* key,
              bool* out, bool fallback) const {
    const Json* v = Get(obj, key);
    if (v == nullptr) {
      *out = fallback;
      return Status::Ok();
    }
    if (!v->is_boolean()) return Error(prefix + key, "true or false", v);
    *out = v->get<bool>();
    return Status::Ok();
  }

  // A string among `allowed` (or `fallback` when absent and fallback given).
  Status Enum(const Json& obj, const std::string& prefix, const char* key,
              const std::vector<std::string>& allowed, std::string* out,
              const char* fallback = nullptr) const {
    const Json* v = Get(obj, key);
    std::string want = "one of";
    for (const auto& a : allowed) want += " \"" + a + "\"";
    if (v == nullptr) {
      if (fallback == nullptr) return Error(prefix + key, want, nullptr);
      *out = fallback;
      return Status::Ok();
    }
    if (v->is_string()) {
      for (const auto& a : allowed) {
        if (v->get_ref<const std::string&>() == a) {
          *out = a;
          return Status::Ok();
        }
      }
    }
    return Error(prefix + key, want, v);
  }

 private:
  const std::string& source_;
};

constexpr int64_t kMaxDim = int64_t{1} << 20;

Status ParseCrammed(const Json& arch, const Fields& f, ModelConfig* c) {
  const std::string a = "arch.";
  c->family = ModelFamily::kCrammedBert;
  if (!arch.is_object()) return f.Error("arch", "an object", &arch);
  FFF_RETURN_IF_ERROR(
      f.Int(arch, a, "num_transformer_layers", 1, 1024, &c->n_layers));
  FFF_RETURN_IF_ERROR(f.Int(arch, a, "hidden_size", 1, kMaxDim, &c->d_model));
  std::string s;
  FFF_RETURN_IF_ERROR(f.Enum(arch, a, "norm", {"LayerNorm"}, &s, "LayerNorm"));
  FFF_RETURN_IF_ERROR(
      f.Float(arch, a, "norm_eps", 0.0, 1.0, &c->norm_eps, false, 1e-12f));
  FFF_RETURN_IF_ERROR(f.Enum(arch, a, "norm_scheme", {"pre"}, &s, "pre"));
  c->pre_norm = true;
  FFF_RETURN_IF_ERROR(
      f.Enum(arch, a, "nonlin", {"GELU", "GELUglu"}, &s, "GELUglu"));
  c->ff_nonlin = s == "GELU" ? FfNonlin::kGelu : FfNonlin::kGeluGlu;
  FFF_RETURN_IF_ERROR(
      f.Enum(arch, a, "intermed_type", {"ff", "fff", "leaf_fff"}, &s, "ff"));
  if (s == "leaf_fff") {
    // fff's own extension (docs/leaf_fff.md): the original FFF.
    c->ff_kind = FfKind::kLeafFff;
    FFF_RETURN_IF_ERROR(f.Int(arch, a, "leaf_depth", 0, 20, &c->leaf_depth));
    FFF_RETURN_IF_ERROR(
        f.Int(arch, a, "leaf_width", 1, kMaxDim, &c->leaf_width));
    std::string act;
    FFF_RETURN_IF_ERROR(
        f.Enum(arch, a, "leaf_nonlin", {"ReLU", "GELU"}, &act, "ReLU"));
    c->leaf_activation =
        act == "GELU" ? LeafActivation::kGelu : LeafActivation::kRelu;
  } else if (s == "fff") {
    c->ff_kind = FfKind::kFff;
    if (c->ff_nonlin != FfNonlin::kGelu) {
      return f.Error(a + "nonlin", "\"GELU\" for an FFF model (intermed_type "
                                   "\"fff\")",
                     Fields::Get(arch, "nonlin"));
    }
    FFF_RETURN_IF_ERROR(
        f.Int(arch, a, "intermed_size", 1, 1 << 16, &c->fff_trees));
    FFF_RETURN_IF_ERROR(f.Int(arch, a, "intermed_depth", 0, 29, &c->fff_depth));
    // fff's extension: a checkpoint written by `fff prune` (docs/routing.md).
    FFF_RETURN_IF_ERROR(f.Bool(arch, a, "fff_pruned", &c->fff_pruned, false));
  } else {
    c->ff_kind = FfKind::kDense;
    FFF_RETURN_IF_ERROR(
        f.Int(arch, a, "intermed_size", 1, kMaxDim, &c->d_ff));
    if (c->ff_nonlin == FfNonlin::kGeluGlu && c->d_ff % 2 != 0) {
      return f.Error(a + "intermed_size", "an even width for GELUglu",
                     Fields::Get(arch, "intermed_size"));
    }
  }
  bool b = false;
  FFF_RETURN_IF_ERROR(f.Bool(arch, a, "use_bias", &c->use_bias, false));
  FFF_RETURN_IF_ERROR(f.Bool(arch, a, "final_norm", &c->final_norm, true));
  FFF_RETURN_IF_ERROR(f.Bool(arch, a, "decoder_bias", &c->decoder_bias, false));
  FFF_RETURN_IF_ERROR(f.Bool(arch, a, "skip_head_transform", &b, true));
  if (!b) {
    return f.Error(a + "skip_head_transform",
                   "true (the MLM head transform of crammedBERT is not "
                   "supported)",
                   Fields::Get(arch, "skip_head_transform"));
  }

  const Json* emb = Fields::Get(arch, "embedding");
  if (emb == nullptr || !emb->is_object()) {
    return f.Error("arch.embedding", "an object", emb);
  }
  const std::string e = "arch.embedding.";
  FFF_RETURN_IF_ERROR(
      f.Int(*emb, e, "vocab_size", 1, int64_t{1} << 26, &c->vocab_size, false));
  FFF_RETURN_IF_ERROR(
      f.Int(*emb, e, "max_seq_length", 1, 1 << 20, &c->max_seq_length));
  FFF_RETURN_IF_ERROR(f.Enum(*emb, e, "pos_embedding", {"scaled-sinusoidal"},
                             &s, "scaled-sinusoidal"));
  int64_t emb_dim = 0;
  FFF_RETURN_IF_ERROR(f.Int(*emb, e, "embedding_dim", 1, kMaxDim, &emb_dim,
                            false, c->d_model));
  if (emb_dim != c->d_model) {
    return f.Error(e + "embedding_dim",
                   fmt::format("{} (= hidden_size)", c->d_model),
                   Fields::Get(*emb, "embedding_dim"));
  }
  if (c->d_model % 2 != 0) {
    return f.Error(a + "hidden_size", "an even size (sinusoidal positions)",
                   Fields::Get(arch, "hidden_size"));
  }
  FFF_RETURN_IF_ERROR(f.Bool(*emb, e, "normalization", &b, true));
  if (!b) {
    return f.Error(e + "normalization", "true", Fields::Get(*emb, "normalization"));
  }

  const Json* att = Fields::Get(arch, "attention");
  if (att == nullptr || !att->is_object()) {
    return f.Error("arch.attention", "an object", att);
  }
  const std::string t = "arch.attention.";
  FFF_RETURN_IF_ERROR(
      f.Int(*att, t, "num_attention_heads", 1, 4096, &c->n_heads));
  if (c->d_model % c->n_heads != 0) {
    return f.Error(t + "num_attention_heads",
                   fmt::format("a divisor of hidden_size {}", c->d_model),
                   Fields::Get(*att, "num_attention_heads"));
  }
  FFF_RETURN_IF_ERROR(f.Bool(*att, t, "qkv_bias", &c->qkv_bias, false));
  FFF_RETURN_IF_ERROR(f.Enum(*att, t, "type", {"self-attention", "pytorch"},
                             &s, "self-attention"));
  FFF_RETURN_IF_ERROR(f.Bool(*att, t, "causal_attention", &b, false));
  if (b) return f.Error(t + "causal_attention", "false", Fields::Get(*att, "causal_attention"));
  FFF_RETURN_IF_ERROR(f.Bool(*att, t, "rotary_embedding", &b, false));
  if (b) return f.Error(t + "rotary_embedding", "false", Fields::Get(*att, "rotary_embedding"));
  FFF_RETURN_IF_ERROR(f.Bool(*att, t, "skip_output_projection", &b, false));
  if (b) {
    return f.Error(t + "skip_output_projection", "false",
                   Fields::Get(*att, "skip_output_projection"));
  }
  FFF_RETURN_IF_ERROR(f.Enum(*att, t, "sequence_op", {"torch-softmax"}, &s,
                             "torch-softmax"));

  const Json* head = Fields::Get(arch, "classification_head");
  c->pooler = Pooler::kZeroIndex;
  c->pooler_dense = true;
  c->pooler_dim = 1024;
  if (head != nullptr) {
    if (!head->is_object()) {
      return f.Error("arch.classification_head", "an object", head);
    }
    const std::string h = "arch.classification_head.";
    FFF_RETURN_IF_ERROR(f.Enum(*head, h, "pooler",
                               {"zero_index", "avg", "max", "lse"}, &s,
                               "zero_index"));
    c->pooler = s == "zero_index" ? Pooler::kZeroIndex
                : s == "avg"      ? Pooler::kAvg
                : s == "max"      ? Pooler::kMax
                                  : Pooler::kLse;
    FFF_RETURN_IF_ERROR(
        f.Bool(*head, h, "include_ff_layer", &c->pooler_dense, true));
    FFF_RETURN_IF_ERROR(
        f.Int(*head, h, "head_dim", 1, kMaxDim, &c->pooler_dim, false, 1024));
    FFF_RETURN_IF_ERROR(f.Enum(*head, h, "nonlin", {"Tanh"}, &s, "Tanh"));
  }
  return Status::Ok();
}

Status ParseHfBert(const Json& j, const Fields& f, ModelConfig* c) {
  c->family = ModelFamily::kHfBert;
  const std::string p;
  FFF_RETURN_IF_ERROR(
      f.Int(j, p, "num_hidden_layers", 1, 1024, &c->n_layers));
  FFF_RETURN_IF_ERROR(f.Int(j, p, "hidden_size", 1, kMaxDim, &c->d_model));
  FFF_RETURN_IF_ERROR(
      f.Int(j, p, "num_attention_heads", 1, 4096, &c->n_heads));
  if (c->d_model % c->n_heads != 0) {
    return f.Error("num_attention_heads",
                   fmt::format("a divisor of hidden_size {}", c->d_model),
                   Fields::Get(j, "num_attention_heads"));
  }
  FFF_RETURN_IF_ERROR(
      f.Int(j, p, "intermediate_size", 1, kMaxDim, &c->d_ff));
  FFF_RETURN_IF_ERROR(f.Int(j, p, "vocab_size", 1, int64_t{1} << 26,
                            &c->vocab_size));
  FFF_RETURN_IF_ERROR(f.Int(j, p, "max_position_embeddings", 1, 1 << 20,
                            &c->max_seq_length, false, 512));
  FFF_RETURN_IF_ERROR(f.Int(j, p, "type_vocab_size", 0, 1 << 16,
                            &c->type_vocab_size, false, 2));
  FFF_RETURN_IF_ERROR(
      f.Float(j, p, "layer_norm_eps", 0.0, 1.0, &c->norm_eps, false, 1e-12f));
  std::string s;
  FFF_RETURN_IF_ERROR(f.Enum(j, p, "hidden_act", {"gelu"}, &s, "gelu"));
  FFF_RETURN_IF_ERROR(f.Enum(j, p, "position_embedding_type", {"absolute"},
                             &s, "absolute"));
  c->ff_kind = FfKind::kDense;
  c->ff_nonlin = FfNonlin::kGelu;
  c->pre_norm = false;
  c->final_norm = false;
  c->use_bias = true;
  c->qkv_bias = true;
  c->learned_positions = true;
  c->mlm_transform = true;
  c->decoder_bias = true;
  c->pooler = Pooler::kZeroIndex;
  c->pooler_dense = true;
  c->pooler_dim = c->d_model;
  return Status::Ok();
}

}  // namespace

Result<ModelConfig> ParseModelConfig(std::string_view json_text,
                                     const std::string& source) {
  const Json j = Json::parse(json_text.begin(), json_text.end(), nullptr,
                             /*allow_exceptions=*/false);
  Fields f(source);
  if (j.is_discarded()) {
    return Status(StatusCode::kDataLoss,
                  fmt::format("{}: not valid JSON", source));
  }
  if (!j.is_object()) return f.Error("(top level)", "an object", &j);
  ModelConfig c;
  if (const Json* arch = Fields::Get(j, "arch")) {
    FFF_RETURN_IF_ERROR(ParseCrammed(*arch, f, &c));
  } else if (const Json* mt = Fields::Get(j, "model_type");
             mt != nullptr && mt->is_string() &&
             mt->get_ref<const std::string&>() == "bert") {
    FFF_RETURN_IF_ERROR(ParseHfBert(j, f, &c));
  } else if (Fields::Get(j, "num_transformer_layers") != nullptr) {
    // model_config.json of a crammedBERT upload: the flat arch dictionary.
    FFF_RETURN_IF_ERROR(ParseCrammed(j, f, &c));
  } else {
    return f.Error("arch / model_type",
                   "a crammedBERT \"arch\" object or \"model_type\": \"bert\"",
                   Fields::Get(j, "model_type"));
  }
  return c;
}

Result<std::string> ReadTextFile(const std::string& path, size_t max_bytes) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return NotFoundError(fmt::format("{}: cannot open", path));
  }
  std::string text;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), file)) > 0) {
    if (text.size() + n > max_bytes) {
      std::fclose(file);
      return OutOfRangeError(
          fmt::format("{}: larger than {} bytes", path, max_bytes));
    }
    text.append(buf, n);
  }
  const bool error = std::ferror(file) != 0;
  std::fclose(file);
  if (error) {
    return Status(StatusCode::kDataLoss, fmt::format("{}: read error", path));
  }
  return text;
}

}  // namespace fff
