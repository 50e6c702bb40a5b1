#include "src/data/manifest.h"

#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>

#include "src/data/shard_format.h"

namespace fff::data {
namespace {

using nlohmann::ordered_json;

constexpr const char* kFormat = "fff-token-shards";
constexpr int kVersion = 1;

ordered_json StateJson(const StreamState& s) {
  return {{"input", s.input},
          {"offset", s.offset},
          {"in_document", s.in_document},
          {"carry", s.carry}};
}

std::string Join(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

// Typed access to a parsed document; the first failure is kept.
class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  const ordered_json* Field(const ordered_json& obj, const std::string& path,
                            const char* key) {
    if (!status_.ok()) return nullptr;
    if (!obj.is_object()) {
      Fail(path.empty() ? "(root)" : path, "expected an object");
      return nullptr;
    }
    const auto it = obj.find(key);
    if (it == obj.end()) {
      Fail(Join(path, key), "missing");
      return nullptr;
    }
    return &*it;
  }
  int64_t Int(const ordered_json& obj, const std::string& path, const char* key,
              int64_t min, int64_t max) {
    const ordered_json* v = Field(obj, path, key);
    if (!v) return 0;
    if (!v->is_number_integer() || v->get<int64_t>() < min ||
        v->get<int64_t>() > max) {
      Fail(Join(path, key), "expected an integer in [" + std::to_string(min) +
                                ", " + std::to_string(max) + "]");
      return 0;
    }
    return v->get<int64_t>();
  }
  std::string String(const ordered_json& obj, const std::string& path,
                     const char* key) {
    const ordered_json* v = Field(obj, path, key);
    if (!v) return "";
    if (!v->is_string()) {
      Fail(Join(path, key), "expected a string");
      return "";
    }
    return v->get<std::string>();
  }
  bool Bool(const ordered_json& obj, const std::string& path, const char* key) {
    const ordered_json* v = Field(obj, path, key);
    if (!v) return false;
    if (!v->is_boolean()) {
      Fail(Join(path, key), "expected true or false");
      return false;
    }
    return v->get<bool>();
  }
  uint64_t Hex(const ordered_json& obj, const std::string& path,
               const char* key) {
    const std::string s = String(obj, path, key);
    if (!status_.ok()) return 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 16);
    if (s.size() != 18 || s.compare(0, 2, "0x") != 0 || *end != '\0') {
      Fail(Join(path, key), "expected \"0x\" and 16 hex digits, got \"" +
                                s.substr(0, 40) + "\"");
      return 0;
    }
    return v;
  }
  const ordered_json* Array(const ordered_json& obj, const std::string& path,
                            const char* key) {
    const ordered_json* v = Field(obj, path, key);
    if (v && !v->is_array()) {
      Fail(Join(path, key), "expected an array");
      return nullptr;
    }
    return v;
  }
  StreamState State(const ordered_json& obj, const std::string& path) {
    StreamState s;
    const ordered_json* v = Field(obj, path, "next");
    if (!v) return s;
    const std::string p = path + ".next";
    s.input = static_cast<int32_t>(
        Int(*v, p, "input", 0, std::numeric_limits<int32_t>::max()));
    s.offset = Int(*v, p, "offset", 0, std::numeric_limits<int64_t>::max());
    s.in_document = Bool(*v, p, "in_document");
    const ordered_json* carry = Array(*v, p, "carry");
    if (!carry) return s;
    for (size_t i = 0; i < carry->size() && status_.ok(); ++i) {
      const ordered_json& t = (*carry)[i];
      if (!t.is_number_integer() || t.get<int64_t>() < 0 ||
          t.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
        Fail(p + ".carry[" + std::to_string(i) + "]",
             "expected a token id (integer >= 0)");
        break;
      }
      s.carry.push_back(t.get<int32_t>());
    }
    return s;
  }

  void Fail(const std::string& path, const std::string& what) {
    if (status_.ok()) {
      status_ =
          Status(StatusCode::kDataLoss, source_ + ": " + path + ": " + what);
    }
  }
  const Status& status() const { return status_; }

 private:
  std::string source_;
  Status status_;
};

}  // namespace

std::string ManifestToJson(const Manifest& m) {
  ordered_json doc;
  doc["format"] = kFormat;
  doc["version"] = kVersion;
  doc["tokenizer"] = {{"path", m.tokenizer_path},
                      {"bytes", m.tokenizer_bytes},
                      {"fnv1a64", HexU64(m.tokenizer_fnv1a64)}};
  doc["vocab_size"] = m.vocab_size;
  doc["sep_id"] = m.sep_id;
  doc["dtype"] = m.token_bytes == 2 ? "uint16" : "uint32";
  doc["seq_len"] = m.seq_len;
  doc["sequences_per_shard"] = m.sequences_per_shard;
  ordered_json inputs = ordered_json::array();
  for (const InputEntry& in : m.inputs) {
    inputs.push_back({{"path", in.path}, {"bytes", in.bytes}});
  }
  doc["inputs"] = std::move(inputs);
  ordered_json shards = ordered_json::array();
  int64_t n_sequences = 0;
  for (const ShardEntry& s : m.shards) {
    shards.push_back({{"file", s.file},
                      {"n_sequences", s.n_sequences},
                      {"checksum", HexU64(s.checksum)},
                      {"next", StateJson(s.next)}});
    n_sequences += s.n_sequences;
  }
  doc["shards"] = std::move(shards);
  doc["n_sequences"] = n_sequences;
  doc["complete"] = m.complete;
  doc["n_tokens_dropped"] = m.n_tokens_dropped;
  // Paths may hold any bytes; `replace` keeps dump() from throwing on
  // invalid UTF-8 (such a path then fails the resume comparison, safely).
  return doc.dump(1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

Result<Manifest> ParseManifest(std::string_view json,
                               const std::string& source) {
  const ordered_json doc =
      ordered_json::parse(json.begin(), json.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status(StatusCode::kDataLoss,
                  source + ": not a JSON object (malformed or truncated)");
  }
  Reader r(source);
  Manifest m;
  constexpr int64_t kMaxI32 = std::numeric_limits<int32_t>::max();
  constexpr int64_t kMaxI64 = std::numeric_limits<int64_t>::max();
  if (r.String(doc, "", "format") != kFormat && r.status().ok()) {
    r.Fail("format", std::string("expected \"") + kFormat + "\"");
  }
  if (r.Int(doc, "", "version", 0, kMaxI32) != kVersion && r.status().ok()) {
    r.Fail("version", "expected " + std::to_string(kVersion));
  }
  if (const ordered_json* t = r.Field(doc, "", "tokenizer")) {
    m.tokenizer_path = r.String(*t, "tokenizer", "path");
    m.tokenizer_bytes = r.Int(*t, "tokenizer", "bytes", 0, kMaxI64);
    m.tokenizer_fnv1a64 = r.Hex(*t, "tokenizer", "fnv1a64");
  }
  m.vocab_size = static_cast<int32_t>(r.Int(doc, "", "vocab_size", 1, kMaxI32));
  m.sep_id = static_cast<int32_t>(r.Int(doc, "", "sep_id", 0, kMaxI32));
  const std::string dtype = r.String(doc, "", "dtype");
  if (r.status().ok()) {
    if (dtype == "uint16") {
      m.token_bytes = 2;
    } else if (dtype == "uint32") {
      m.token_bytes = 4;
    } else {
      r.Fail("dtype", "expected \"uint16\" or \"uint32\", got \"" +
                          dtype.substr(0, 40) + "\"");
    }
  }
  m.seq_len = static_cast<int32_t>(r.Int(doc, "", "seq_len", 1, kMaxI32));
  m.sequences_per_shard = r.Int(doc, "", "sequences_per_shard", 1, kMaxI64);
  if (const ordered_json* inputs = r.Array(doc, "", "inputs")) {
    for (size_t i = 0; i < inputs->size() && r.status().ok(); ++i) {
      const std::string p = "inputs[" + std::to_string(i) + "]";
      InputEntry in;
      in.path = r.String((*inputs)[i], p, "path");
      in.bytes = r.Int((*inputs)[i], p, "bytes", 0, kMaxI64);
      m.inputs.push_back(std::move(in));
    }
  }
  if (const ordered_json* shards = r.Array(doc, "", "shards")) {
    for (size_t i = 0; i < shards->size() && r.status().ok(); ++i) {
      const std::string p = "shards[" + std::to_string(i) + "]";
      const ordered_json& s = (*shards)[i];
      ShardEntry e;
      e.file = r.String(s, p, "file");
      if (r.status().ok() &&
          (e.file.empty() || e.file.find('/') != std::string::npos ||
           e.file == "." || e.file == "..")) {
        r.Fail(p + ".file", "expected a file name inside the directory");
      }
      e.n_sequences = r.Int(s, p, "n_sequences", 0, kMaxI64);
      e.checksum = r.Hex(s, p, "checksum");
      e.next = r.State(s, p);
      m.shards.push_back(std::move(e));
    }
  }
  m.complete = r.Bool(doc, "", "complete");
  m.n_tokens_dropped = r.Int(doc, "", "n_tokens_dropped", 0, kMaxI64);
  if (!r.status().ok()) return r.status();
  return m;
}

}  // namespace fff::data
