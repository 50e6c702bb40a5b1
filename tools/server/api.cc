#include "tools/server/api.h"

#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace fff::server {
namespace {

using json = nlohmann::json;

ApiError Invalid(std::string message) {
  return {ErrorKind::kValidation, std::move(message)};
}

// The body as a JSON object, or the reason it is not one.
ApiResult<json> ParseObject(std::string_view body, const ParseLimits& limits) {
  const int depth = JsonNestingDepth(body);
  if (depth > limits.max_json_depth) {
    return Invalid(fmt::format(
        "request body: JSON nested {} levels deep, at most {} accepted", depth,
        limits.max_json_depth));
  }
  json j;
  try {
    j = json::parse(body.begin(), body.end());
  } catch (const json::exception& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at ...".
    std::string what = e.what();
    const size_t cut = what.find("] ");
    if (cut != std::string::npos) what = what.substr(cut + 2);
    return Invalid("request body is not valid JSON: " + what);
  }
  if (!j.is_object()) {
    return Invalid(fmt::format("request body: expected a JSON object, got {}",
                               j.type_name()));
  }
  return j;
}

// A present, non-null field.
const json* Field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<ApiError> OptionalBool(const json& j, const char* name,
                                     std::optional<bool>* out) {
  const json* f = Field(j, name);
  if (f == nullptr) return std::nullopt;
  if (!f->is_boolean()) {
    return Invalid(fmt::format("`{}`: expected true or false, got {}", name,
                               f->type_name()));
  }
  *out = f->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> OptionalBool(const json& j, const char* name,
                                     bool* out) {
  std::optional<bool> v;
  if (auto e = OptionalBool(j, name, &v)) return e;
  if (v) *out = *v;
  return std::nullopt;
}

std::optional<ApiError> OptionalInt(const json& j, const char* name,
                                    int64_t min, int64_t max,
                                    std::optional<int64_t>* out) {
  const json* f = Field(j, name);
  if (f == nullptr) return std::nullopt;
  const bool in_range =
      (f->is_number_unsigned() && f->get<uint64_t>() <= uint64_t(max) &&
       int64_t(f->get<uint64_t>()) >= min) ||
      (f->is_number_integer() && !f->is_number_unsigned() &&
       f->get<int64_t>() >= min && f->get<int64_t>() <= max);
  if (!in_range) {
    return Invalid(fmt::format("`{}`: expected an integer in [{}, {}], got {}",
                               name, min, max, f->dump()));
  }
  *out = f->get<int64_t>();
  return std::nullopt;
}

// The options TEI accepts on every route that fff serves only one way.
std::optional<ApiError> CheckTeiOptions(const json& j) {
  if (const json* f = Field(j, "truncation_direction")) {
    if (!f->is_string()) {
      return Invalid("`truncation_direction`: expected \"Right\" or \"Left\"");
    }
    const std::string d = f->get<std::string>();
    if (d == "Left" || d == "left") {
      return Invalid(
          "`truncation_direction`: \"Left\" is not supported (fff truncates "
          "on the right, as the HF tokenizer's LongestFirst strategy)");
    }
    if (d != "Right" && d != "right") {
      return Invalid(fmt::format(
          "`truncation_direction`: expected \"Right\" or \"Left\", got \"{}\"",
          d));
    }
  }
  if (Field(j, "prompt_name") != nullptr) {
    return Invalid(
        "`prompt_name`: this model has no sentence-transformers prompts");
  }
  return std::nullopt;
}

bool IsIdArray(const json& j) {
  return j.is_array() && !j.empty() && j.front().is_number();
}

std::optional<ApiError> ParseIds(const json& j, const std::string& where,
                                 std::vector<int32_t>* ids) {
  ids->reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const json& v = j[i];
    const bool ok =
        (v.is_number_unsigned() &&
         v.get<uint64_t>() <= uint64_t(std::numeric_limits<int32_t>::max())) ||
        (v.is_number_integer() && !v.is_number_unsigned() &&
         v.get<int64_t>() >= 0 &&
         v.get<int64_t>() <= std::numeric_limits<int32_t>::max());
    if (!ok) {
      return Invalid(fmt::format(
          "{}[{}]: expected a token id (a non-negative integer), got {}", where,
          i, v.dump()));
    }
    ids->push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return std::nullopt;
}

ApiError TooMany(size_t n, size_t max) {
  return {ErrorKind::kPayloadTooLarge,
          fmt::format("batch size {} > maximum allowed batch size {}", n, max)};
}

ApiError NoInputs(const char* field) {
  return {ErrorKind::kEmpty, fmt::format("`{}` cannot be empty", field)};
}

// `inputs` of the embedding routes: a string, a list of ids, or a list of
// strings and id lists.
std::optional<ApiError> ParseEmbedInputs(const json& j, const char* field,
                                         const ParseLimits& limits,
                                         std::vector<TextInput>* inputs,
                                         bool* single) {
  const json* f = Field(j, field);
  if (f == nullptr) return Invalid(fmt::format("`{}`: missing", field));
  auto one = [&](const json& v,
                 const std::string& where) -> std::optional<ApiError> {
    TextInput in;
    if (v.is_string()) {
      in.text = v.get<std::string>();
    } else if (v.is_array()) {
      if (v.empty()) {
        return Invalid(where + ": a list of token ids needs at least one id");
      }
      in.is_ids = true;
      if (auto e = ParseIds(v, where, &in.ids)) return e;
    } else {
      return Invalid(
          fmt::format("{}: expected a string or a list of token ids, got {}",
                      where, v.type_name()));
    }
    inputs->push_back(std::move(in));
    return std::nullopt;
  };
  if (f->is_string() || IsIdArray(*f)) {
    *single = true;
    return one(*f, fmt::format("`{}`", field));
  }
  if (!f->is_array()) {
    return Invalid(fmt::format(
        "`{}`: expected a string, a list of token ids or a list of those, "
        "got {}",
        field, f->type_name()));
  }
  if (f->empty()) return NoInputs(field);
  if (f->size() > limits.max_inputs)
    return TooMany(f->size(), limits.max_inputs);
  *single = false;
  for (size_t i = 0; i < f->size(); ++i) {
    if (auto e = one((*f)[i], fmt::format("`{}`[{}]", field, i))) return e;
  }
  return std::nullopt;
}

// `inputs` of /fill-mask and /tokenize: a string or a list of strings.
std::optional<ApiError> ParseTextInputs(const json& j,
                                        const ParseLimits& limits,
                                        std::vector<std::string>* texts,
                                        bool* single) {
  const json* f = Field(j, "inputs");
  if (f == nullptr) return Invalid("`inputs`: missing");
  if (f->is_string()) {
    *single = true;
    texts->push_back(f->get<std::string>());
    return std::nullopt;
  }
  if (!f->is_array()) {
    return Invalid(
        fmt::format("`inputs`: expected a string or a list of strings, got {}",
                    f->type_name()));
  }
  if (f->empty()) return NoInputs("inputs");
  if (f->size() > limits.max_inputs)
    return TooMany(f->size(), limits.max_inputs);
  *single = false;
  for (size_t i = 0; i < f->size(); ++i) {
    if (!(*f)[i].is_string()) {
      return Invalid(fmt::format("`inputs`[{}]: expected a string, got {}", i,
                                 (*f)[i].type_name()));
    }
    texts->push_back((*f)[i].get<std::string>());
  }
  return std::nullopt;
}

std::optional<ApiError> ParseDimensions(const json& j,
                                        std::optional<int64_t>* out) {
  return OptionalInt(j, "dimensions", 1, int64_t{1} << 30, out);
}

}  // namespace

int JsonNestingDepth(std::string_view body) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        max_depth = std::max(max_depth, ++depth);
        break;
      case ']':
      case '}':
        --depth;
        break;
      default:
        break;
    }
  }
  return max_depth;
}

ApiResult<EmbedRequest> ParseEmbedRequest(std::string_view body,
                                          const ParseLimits& limits) {
  ApiResult<json> j = ParseObject(body, limits);
  if (!j.ok()) return j.error();
  EmbedRequest r;
  if (auto e = ParseEmbedInputs(*j, "inputs", limits, &r.inputs, &r.single)) {
    return *e;
  }
  if (auto e = OptionalBool(*j, "normalize", &r.normalize)) return *e;
  if (auto e = OptionalBool(*j, "truncate", &r.truncate)) return *e;
  if (auto e = ParseDimensions(*j, &r.dimensions)) return *e;
  if (auto e = CheckTeiOptions(*j)) return *e;
  return r;
}

ApiResult<OpenAiEmbedRequest> ParseOpenAiEmbedRequest(
    std::string_view body, const ParseLimits& limits) {
  ApiResult<json> j = ParseObject(body, limits);
  if (!j.ok()) return j.error();
  OpenAiEmbedRequest r;
  if (auto e = ParseEmbedInputs(*j, "input", limits, &r.inputs, &r.single)) {
    return *e;
  }
  if (const json* m = Field(*j, "model")) {
    if (!m->is_string()) {
      return Invalid(
          fmt::format("`model`: expected a string, got {}", m->type_name()));
    }
    r.model = m->get<std::string>();
  }
  if (const json* f = Field(*j, "encoding_format")) {
    const std::string v = f->is_string() ? f->get<std::string>() : f->dump();
    if (v == "base64") {
      r.base64 = true;
    } else if (v != "float") {
      return Invalid(fmt::format(
          "`encoding_format`: expected \"float\" or \"base64\", got {}",
          f->dump()));
    }
  }
  if (auto e = ParseDimensions(*j, &r.dimensions)) return *e;
  return r;
}

ApiResult<PredictRequest> ParsePredictRequest(std::string_view body,
                                              const ParseLimits& limits) {
  ApiResult<json> j = ParseObject(body, limits);
  if (!j.ok()) return j.error();
  PredictRequest r;
  const json* f = Field(*j, "inputs");
  if (f == nullptr) return Invalid("`inputs`: missing");
  // A sequence: one text, or a list of one or two texts (a pair).
  auto sequence = [&](const json& v,
                      const std::string& where) -> std::optional<ApiError> {
    TextInput in;
    if (v.is_string()) {
      in.text = v.get<std::string>();
    } else if (v.is_array() && (v.size() == 1 || v.size() == 2) &&
               v[0].is_string() && v.back().is_string()) {
      in.text = v[0].get<std::string>();
      if (v.size() == 2) in.pair = v[1].get<std::string>();
    } else {
      return Invalid(fmt::format(
          "{}: expected a string or a list of one or two strings (a pair), "
          "got {}",
          where, v.dump().substr(0, 80)));
    }
    r.inputs.push_back(std::move(in));
    return std::nullopt;
  };
  // TEI's forms: "text", ["text"], ["text a", "text b"] (one pair), or a
  // batch [["text"], ["text a", "text b"], ...].
  if (f->is_string() || (f->is_array() && !f->empty() && (*f)[0].is_string())) {
    r.single = true;
    if (auto e = sequence(*f, "`inputs`")) return *e;
  } else if (f->is_array()) {
    if (f->empty()) return NoInputs("inputs");
    if (f->size() > limits.max_inputs) {
      return TooMany(f->size(), limits.max_inputs);
    }
    for (size_t i = 0; i < f->size(); ++i) {
      const json& v = (*f)[i];
      if (!v.is_array()) {
        return Invalid(fmt::format(
            "`inputs`[{}]: in a batch each sequence is a list of one or two "
            "strings, got {}",
            i, v.type_name()));
      }
      if (auto e = sequence(v, fmt::format("`inputs`[{}]", i))) return *e;
    }
  } else {
    return Invalid(
        fmt::format("`inputs`: expected a string, a pair or a batch, got {}",
                    f->type_name()));
  }
  if (auto e = OptionalBool(*j, "truncate", &r.truncate)) return *e;
  if (auto e = OptionalBool(*j, "raw_scores", &r.raw_scores)) return *e;
  if (auto e = CheckTeiOptions(*j)) return *e;
  return r;
}

ApiResult<FillMaskRequest> ParseFillMaskRequest(std::string_view body,
                                                const ParseLimits& limits) {
  ApiResult<json> j = ParseObject(body, limits);
  if (!j.ok()) return j.error();
  FillMaskRequest r;
  std::vector<std::string> texts;
  if (auto e = ParseTextInputs(*j, limits, &texts, &r.single)) return *e;
  for (std::string& t : texts)
    r.inputs.push_back({std::move(t), {}, false, {}});
  if (const json* p = Field(*j, "parameters")) {
    if (!p->is_object()) {
      return Invalid(fmt::format("`parameters`: expected an object, got {}",
                                 p->type_name()));
    }
    std::optional<int64_t> top_k;
    if (auto e = OptionalInt(*p, "top_k", 1, 1000, &top_k)) {
      e->message = "`parameters`." + e->message;
      return *e;
    }
    if (top_k) r.top_k = static_cast<int>(*top_k);
    if (Field(*p, "targets") != nullptr) {
      return Invalid("`parameters`.`targets`: not supported");
    }
  }
  if (auto e = OptionalBool(*j, "truncate", &r.truncate)) return *e;
  return r;
}

ApiResult<TokenizeRequest> ParseTokenizeRequest(std::string_view body,
                                                const ParseLimits& limits) {
  ApiResult<json> j = ParseObject(body, limits);
  if (!j.ok()) return j.error();
  TokenizeRequest r;
  bool single = false;
  if (auto e = ParseTextInputs(*j, limits, &r.inputs, &single)) return *e;
  if (auto e = OptionalBool(*j, "add_special_tokens", &r.add_special_tokens)) {
    return *e;
  }
  if (Field(*j, "prompt_name") != nullptr) {
    return Invalid(
        "`prompt_name`: this model has no sentence-transformers prompts");
  }
  return r;
}

ApiResult<DecodeRequest> ParseDecodeRequest(std::string_view body,
                                            const ParseLimits& limits) {
  ApiResult<json> j = ParseObject(body, limits);
  if (!j.ok()) return j.error();
  DecodeRequest r;
  const json* f = Field(*j, "ids");
  if (f == nullptr) return Invalid("`ids`: missing");
  if (!f->is_array()) {
    return Invalid(fmt::format(
        "`ids`: expected a list of token ids or a list of those, got {}",
        f->type_name()));
  }
  if (f->empty() || (*f)[0].is_number()) {
    r.ids.emplace_back();
    if (auto e = ParseIds(*f, "`ids`", &r.ids.back())) return *e;
  } else {
    if (f->size() > limits.max_inputs) {
      return TooMany(f->size(), limits.max_inputs);
    }
    for (size_t i = 0; i < f->size(); ++i) {
      const json& v = (*f)[i];
      if (!v.is_array()) {
        return Invalid(
            fmt::format("`ids`[{}]: expected a list of token ids, "
                        "got {}",
                        i, v.type_name()));
      }
      r.ids.emplace_back();
      if (auto e = ParseIds(v, fmt::format("`ids`[{}]", i), &r.ids.back())) {
        return *e;
      }
    }
  }
  if (auto e =
          OptionalBool(*j, "skip_special_tokens", &r.skip_special_tokens)) {
    return *e;
  }
  return r;
}

std::string Base64Encode(const void* data, size_t n_bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve((n_bytes + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= n_bytes; i += 3) {
    const uint32_t v =
        (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8) | p[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < n_bytes) {
    uint32_t v = uint32_t(p[i]) << 16;
    if (i + 1 < n_bytes) v |= uint32_t(p[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n_bytes ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace fff::server
