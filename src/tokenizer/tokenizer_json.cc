// Loading a HuggingFace tokenizer.json. Malformed JSON and fields of the
// wrong type are DataLoss errors, components fff does not implement are
// Unimplemented errors; both name the file and the JSON path. The
// `truncation` and `padding` sections are ignored: fff truncates through
// EncodeOptions::max_length and never pads an Encoding.
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "fff/tokenizer.h"
#include "src/tokenizer/pipeline.h"

namespace fff {
namespace {

using nlohmann::json;

constexpr int kMaxNesting = 32;  // Sequence inside Sequence ...
constexpr uint64_t kMaxId = std::numeric_limits<int32_t>::max();

// Finds where a document fails to parse, without exceptions.
struct ErrorLocator : nlohmann::json_sax<json> {
  size_t position = 0;
  std::string message;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t pos, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    position = pos;
    message = ex.what();
    return false;
  }
};

class Loader {
 public:
  explicit Loader(std::string source) : source_(std::move(source)) {}

  Result<tok::Pipeline> Load(std::string_view text) {
    const json doc = json::parse(text.begin(), text.end(), nullptr, false);
    if (doc.is_discarded()) {
      ErrorLocator locator;
      json::sax_parse(text.begin(), text.end(), &locator);
      return Status(StatusCode::kDataLoss,
                    source_ + ": malformed JSON near byte " +
                        std::to_string(locator.position) + ": " +
                        locator.message);
    }
    if (!doc.is_object()) return Malformed("(root)", "expected an object");
    tok::Pipeline pipeline;
    tok::Pipeline* impl = &pipeline;
    impl->source = source_;
    if (const json* v = Find(doc, "version"); v && !v->is_null()) {
      if (!v->is_string()) return Malformed("version", "expected a string");
      if (v->get<std::string>() != "1.0") {
        return Unsupported("version", v->get<std::string>());
      }
    }
    if (const json* n = Find(doc, "normalizer"); n && !n->is_null()) {
      FFF_RETURN_IF_ERROR(Normalizer(*n, "normalizer", 0, &impl->normalizer));
    }
    if (const json* p = Find(doc, "pre_tokenizer"); p && !p->is_null()) {
      FFF_RETURN_IF_ERROR(PreTokenizer(*p, "pre_tokenizer", 0, impl));
    }
    const json* model = Find(doc, "model");
    if (!model) return Malformed("model", "missing");
    FFF_RETURN_IF_ERROR(Model(*model, impl));
    if (const json* a = Find(doc, "added_tokens"); a && !a->is_null()) {
      FFF_RETURN_IF_ERROR(AddedTokens(*a, impl));
    }
    if (const json* p = Find(doc, "post_processor"); p && !p->is_null()) {
      FFF_RETURN_IF_ERROR(PostProcessor(*p, impl));
    }
    if (const json* d = Find(doc, "decoder"); d && !d->is_null()) {
      FFF_RETURN_IF_ERROR(Decoder(*d, impl));
    }
    impl->Finish();
    return pipeline;
  }

 private:
  Status Malformed(const std::string& path, const std::string& what) const {
    return Status(StatusCode::kDataLoss, source_ + ": " + path + ": " + what);
  }
  Status Unsupported(const std::string& path, const std::string& what) const {
    return Status(StatusCode::kUnimplemented,
                  source_ + ": " + path + ": unsupported \"" + what + "\"");
  }

  static const json* Find(const json& obj, const std::string& key) {
    const auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }

  Status Object(const json& j, const std::string& path) const {
    return j.is_object() ? Status::Ok() : Malformed(path, "expected an object");
  }

  Result<std::string> String(const json& obj, const std::string& path,
                             const char* key,
                             const char* fallback = nullptr) const {
    const json* v = Find(obj, key);
    if (!v && fallback) return std::string(fallback);
    if (!v) return Malformed(path + "." + key, "missing");
    if (!v->is_string())
      return Malformed(path + "." + key, "expected a string");
    return v->get<std::string>();
  }

  // An optional boolean; null counts as absent.
  Result<std::optional<bool>> OptBool(const json& obj, const std::string& path,
                                      const char* key) const {
    const json* v = Find(obj, key);
    if (!v || v->is_null()) return std::optional<bool>();
    if (!v->is_boolean())
      return Malformed(path + "." + key, "expected a boolean");
    return std::optional<bool>(v->get<bool>());
  }

  Result<uint64_t> Uint(const json& v, const std::string& path,
                        uint64_t max) const {
    if (!v.is_number_unsigned() || v.get<uint64_t>() > max) {
      return Malformed(
          path, "expected an integer in [0, " + std::to_string(max) + "]");
    }
    return v.get<uint64_t>();
  }

  Result<std::string> Type(const json& j, const std::string& path) const {
    FFF_RETURN_IF_ERROR(Object(j, path));
    return String(j, path, "type");
  }

  Status Normalizer(const json& j, const std::string& path, int depth,
                    tok::NormalizerChain* chain) const {
    if (depth > kMaxNesting) return Malformed(path, "nested too deeply");
    FFF_ASSIGN_OR_RETURN(const std::string type, Type(j, path));
    if (type == "Sequence") {
      const json* list = Find(j, "normalizers");
      const std::string lpath = path + ".normalizers";
      if (!list || !list->is_array())
        return Malformed(lpath, "expected an array");
      for (size_t i = 0; i < list->size(); ++i) {
        FFF_RETURN_IF_ERROR(Normalizer((*list)[i],
                                       lpath + "[" + std::to_string(i) + "]",
                                       depth + 1, chain));
      }
    } else if (type == "Replace") {
      const json* pattern = Find(j, "pattern");
      const std::string ppath = path + ".pattern";
      if (!pattern || !pattern->is_object() || pattern->size() != 1) {
        return Malformed(ppath,
                         "expected {\"String\": ...} or {\"Regex\": ...}");
      }
      FFF_ASSIGN_OR_RETURN(std::string content, String(j, path, "content"));
      const std::string kind = pattern->begin().key();
      const json& value = pattern->begin().value();
      if (!value.is_string())
        return Malformed(ppath + "." + kind, "expected a string");
      const std::string p = value.get<std::string>();
      if (kind == "String") {
        if (p.empty()) return Unsupported(ppath + ".String", "");
        chain->Add(tok::MakeReplace(tok::ReplacePattern::Literal(p),
                                    std::move(content)));
      } else if (kind == "Regex") {
        auto regex = tok::ReplacePattern::FromRegex(p);
        if (!regex.ok()) {
          return Status(
              StatusCode::kUnimplemented,
              source_ + ": " + ppath + ".Regex: " + regex.status().message());
        }
        chain->Add(tok::MakeReplace(std::move(*regex), std::move(content)));
      } else {
        return Unsupported(ppath, kind);
      }
    } else if (type == "NFD" || type == "NFKD" || type == "NFC" ||
               type == "NFKC") {
      chain->Add(tok::MakeUnicodeNormalizer(
          type == "NFD"    ? tok::UnicodeForm::kNfd
          : type == "NFKD" ? tok::UnicodeForm::kNfkd
          : type == "NFC"  ? tok::UnicodeForm::kNfc
                           : tok::UnicodeForm::kNfkc));
    } else if (type == "Lowercase") {
      chain->Add(tok::MakeLowercase());
    } else if (type == "StripAccents") {
      chain->Add(tok::MakeStripAccents());
    } else if (type == "BertNormalizer") {
      tok::BertNormalizerOptions o;
      FFF_ASSIGN_OR_RETURN(auto clean, OptBool(j, path, "clean_text"));
      FFF_ASSIGN_OR_RETURN(auto chinese,
                           OptBool(j, path, "handle_chinese_chars"));
      FFF_ASSIGN_OR_RETURN(auto strip, OptBool(j, path, "strip_accents"));
      FFF_ASSIGN_OR_RETURN(auto lower, OptBool(j, path, "lowercase"));
      o.clean_text = clean.value_or(true);
      o.handle_chinese_chars = chinese.value_or(true);
      o.lowercase = lower.value_or(true);
      o.strip_accents = strip.value_or(o.lowercase);
      chain->Add(tok::MakeBertNormalizer(o));
    } else {
      return Unsupported(path + ".type", type);
    }
    return Status::Ok();
  }

  Status PreTokenizer(const json& j, const std::string& path, int depth,
                      tok::Pipeline* impl) const {
    if (depth > kMaxNesting) return Malformed(path, "nested too deeply");
    FFF_ASSIGN_OR_RETURN(const std::string type, Type(j, path));
    if (type == "Whitespace") {
      impl->pre_tokenizer.Add(tok::SplitRule::kWhitespace);
    } else if (type == "WhitespaceSplit") {
      impl->pre_tokenizer.Add(tok::SplitRule::kWhitespaceSplit);
    } else if (type == "BertPreTokenizer") {
      impl->pre_tokenizer.Add(tok::SplitRule::kBert);
    } else if (type == "Sequence") {
      const json* list = Find(j, "pretokenizers");
      const std::string lpath = path + ".pretokenizers";
      if (!list || !list->is_array())
        return Malformed(lpath, "expected an array");
      for (size_t i = 0; i < list->size(); ++i) {
        FFF_RETURN_IF_ERROR(PreTokenizer((*list)[i],
                                         lpath + "[" + std::to_string(i) + "]",
                                         depth + 1, impl));
      }
    } else {
      return Unsupported(path + ".type", type);
    }
    return Status::Ok();
  }

  Status Model(const json& j, tok::Pipeline* impl) const {
    const std::string path = "model";
    FFF_RETURN_IF_ERROR(Object(j, path));
    FFF_ASSIGN_OR_RETURN(const std::string type,
                         String(j, path, "type", "WordPiece"));
    if (type != "WordPiece") return Unsupported("model.type", type);
    FFF_ASSIGN_OR_RETURN(std::string unk, String(j, path, "unk_token"));
    FFF_ASSIGN_OR_RETURN(std::string prefix,
                         String(j, path, "continuing_subword_prefix"));
    const json* max_chars = Find(j, "max_input_chars_per_word");
    if (!max_chars)
      return Malformed("model.max_input_chars_per_word", "missing");
    FFF_ASSIGN_OR_RETURN(const uint64_t max_chars_value,
                         Uint(*max_chars, "model.max_input_chars_per_word",
                              std::numeric_limits<uint32_t>::max()));
    const json* vocab = Find(j, "vocab");
    if (!vocab || !vocab->is_object()) {
      return Malformed("model.vocab", "expected an object of token: id");
    }
    std::vector<std::pair<std::string, int32_t>> entries;
    entries.reserve(vocab->size());
    for (const auto& [token, id] : vocab->items()) {
      FFF_ASSIGN_OR_RETURN(const uint64_t v,
                           Uint(id, "model.vocab[\"" + token + "\"]", kMaxId));
      entries.emplace_back(token, static_cast<int32_t>(v));
    }
    auto wp = tok::WordPiece::Create(std::move(entries), std::move(unk),
                                     std::move(prefix), max_chars_value);
    if (!wp.ok()) {
      return Status(StatusCode::kInvalidArgument,
                    source_ + ": model.unk_token: " + wp.status().message());
    }
    impl->model = std::move(*wp);
    return Status::Ok();
  }

  Status AddedTokens(const json& j, tok::Pipeline* impl) const {
    if (!j.is_array()) return Malformed("added_tokens", "expected an array");
    for (size_t i = 0; i < j.size(); ++i) {
      const std::string path = "added_tokens[" + std::to_string(i) + "]";
      const json& t = j[i];
      FFF_RETURN_IF_ERROR(Object(t, path));
      const json* id = Find(t, "id");
      if (!id) return Malformed(path + ".id", "missing");
      FFF_RETURN_IF_ERROR(Uint(*id, path + ".id", kMaxId).status());
      tok::AddedToken token;
      FFF_ASSIGN_OR_RETURN(token.content, String(t, path, "content"));
      FFF_ASSIGN_OR_RETURN(auto special, OptBool(t, path, "special"));
      FFF_ASSIGN_OR_RETURN(auto normalized, OptBool(t, path, "normalized"));
      token.special = special.value_or(false);
      token.normalized = normalized.value_or(!token.special);
      for (const char* flag : {"single_word", "lstrip", "rstrip"}) {
        FFF_ASSIGN_OR_RETURN(auto value, OptBool(t, path, flag));
        if (value.value_or(false)) {
          return Unsupported(path + "." + flag, "true");
        }
      }
      impl->added.Add(std::move(token), impl->model);
    }
    return Status::Ok();
  }

  Result<tok::TemplatePiece> Piece(const json& j, const std::string& path,
                                   const json& specials) const {
    if (!j.is_object() || j.size() != 1) {
      return Malformed(
          path, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
    const std::string kind = j.begin().key();
    const json& body = j.begin().value();
    const std::string bpath = path + "." + kind;
    FFF_RETURN_IF_ERROR(Object(body, bpath));
    tok::TemplatePiece piece;
    FFF_ASSIGN_OR_RETURN(const std::string id, String(body, bpath, "id"));
    if (const json* type_id = Find(body, "type_id")) {
      FFF_ASSIGN_OR_RETURN(const uint64_t t,
                           Uint(*type_id, bpath + ".type_id", kMaxId));
      piece.type_id = static_cast<int32_t>(t);
    }
    if (kind == "Sequence") {
      if (id != "A" && id != "B") return Unsupported(bpath + ".id", id);
      piece.is_sequence = true;
      piece.sequence = id == "A" ? 0 : 1;
      return piece;
    }
    if (kind != "SpecialToken") return Unsupported(path, kind);
    const json* special = specials.is_object() ? Find(specials, id) : nullptr;
    const std::string spath = "post_processor.special_tokens[\"" + id + "\"]";
    if (!special || !special->is_object()) return Malformed(spath, "missing");
    const json* ids = Find(*special, "ids");
    if (!ids || !ids->is_array())
      return Malformed(spath + ".ids", "expected an array");
    for (size_t i = 0; i < ids->size(); ++i) {
      FFF_ASSIGN_OR_RETURN(
          const uint64_t v,
          Uint((*ids)[i], spath + ".ids[" + std::to_string(i) + "]", kMaxId));
      piece.ids.push_back(static_cast<int32_t>(v));
    }
    piece.name = id;
    return piece;
  }

  Result<std::vector<tok::TemplatePiece>> Template(const json& j,
                                                   const char* key,
                                                   bool pair) const {
    const std::string path = std::string("post_processor.") + key;
    const json* list = Find(j, key);
    if (!list || !list->is_array()) return Malformed(path, "expected an array");
    const json* specials = Find(j, "special_tokens");
    static const json kNone = json::object();
    std::vector<tok::TemplatePiece> pieces;
    for (size_t i = 0; i < list->size(); ++i) {
      FFF_ASSIGN_OR_RETURN(
          tok::TemplatePiece p,
          Piece((*list)[i], path + "[" + std::to_string(i) + "]",
                specials ? *specials : kNone));
      if (p.is_sequence && p.sequence == 1 && !pair) {
        return Malformed(path + "[" + std::to_string(i) + "]",
                         "the single template cannot use $B");
      }
      pieces.push_back(std::move(p));
    }
    // Each sequence at most once: truncation gives every sequence one share
    // of max_length (a repeated $B would overflow it).
    int uses[2] = {0, 0};
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (pieces[i].is_sequence && ++uses[pieces[i].sequence] > 1) {
        return Status(StatusCode::kUnimplemented,
                      source_ + ": " + path + "[" + std::to_string(i) +
                          "]: a template that uses $" +
                          (pieces[i].sequence == 0 ? "A" : "B") +
                          " more than once is not supported");
      }
    }
    return pieces;
  }

  Status PostProcessor(const json& j, tok::Pipeline* impl) const {
    const std::string path = "post_processor";
    FFF_ASSIGN_OR_RETURN(const std::string type, Type(j, path));
    if (type == "TemplateProcessing") {
      FFF_ASSIGN_OR_RETURN(auto single, Template(j, "single", false));
      FFF_ASSIGN_OR_RETURN(auto pair, Template(j, "pair", true));
      impl->post_processor =
          tok::PostProcessor(std::move(single), std::move(pair));
      return Status::Ok();
    }
    if (type == "BertProcessing") {
      tok::TemplatePiece cls, sep;
      const std::pair<const char*, tok::TemplatePiece*> parts[] = {
          {"cls", &cls}, {"sep", &sep}};
      for (const auto& [key, piece] : parts) {
        const json* v = Find(j, key);
        const std::string kpath = path + "." + key;
        if (!v || !v->is_array() || v->size() != 2 || !(*v)[0].is_string()) {
          return Malformed(kpath, "expected [token, id]");
        }
        FFF_ASSIGN_OR_RETURN(const uint64_t id,
                             Uint((*v)[1], kpath + "[1]", kMaxId));
        piece->name = (*v)[0].get<std::string>();
        piece->ids = {static_cast<int32_t>(id)};
      }
      tok::TemplatePiece a{true, 0, {}, "A", 0}, b{true, 1, {}, "B", 1};
      tok::TemplatePiece sep_b = sep;
      sep_b.type_id = 1;
      impl->post_processor =
          tok::PostProcessor({cls, a, sep}, {cls, a, sep, b, sep_b});
      return Status::Ok();
    }
    return Unsupported(path + ".type", type);
  }

  Status Decoder(const json& j, tok::Pipeline* impl) const {
    const std::string path = "decoder";
    FFF_ASSIGN_OR_RETURN(const std::string type, Type(j, path));
    if (type != "WordPiece") return Unsupported(path + ".type", type);
    tok::WordPieceDecoder d;
    FFF_ASSIGN_OR_RETURN(d.prefix, String(j, path, "prefix", "##"));
    FFF_ASSIGN_OR_RETURN(auto cleanup, OptBool(j, path, "cleanup"));
    d.cleanup = cleanup.value_or(true);
    impl->decoder = d;
    return Status::Ok();
  }

  std::string source_;
};

}  // namespace

namespace tok {

Result<Pipeline> LoadPipelineJson(std::string_view json,
                                  std::string source_name) {
  return Loader(std::move(source_name)).Load(json);
}

}  // namespace tok

Result<Tokenizer> Tokenizer::FromTokenizerJsonString(std::string_view json,
                                                     std::string source_name) {
  FFF_ASSIGN_OR_RETURN(tok::Pipeline pipeline,
                       tok::LoadPipelineJson(json, std::move(source_name)));
  auto impl = std::make_unique<Impl>();
  impl->pipeline = std::move(pipeline);
  return Tokenizer(std::move(impl));
}

Result<Tokenizer> Tokenizer::FromTokenizerJson(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status(StatusCode::kDataLoss, path + ": read failed");
  return FromTokenizerJsonString(text.str(), path);
}

}  // namespace fff
