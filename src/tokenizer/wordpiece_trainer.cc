// WordPieceTrainer: word counting through the file's own pipeline, then
// BPE-style merges with incremental pair counts (see the header).
#include "fff/wordpiece_trainer.h"

#include <algorithm>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "src/tokenizer/pipeline.h"
#include "src/tokenizer/unicode.h"

namespace fff {
namespace {

using OrderedJson = nlohmann::ordered_json;

constexpr const char* kPrefix = "##";
constexpr int64_t kProgressEvery = 256;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return std::hash<std::string_view>()(s);
  }
};

// Pair of symbol ids as one key: first << 32 | second.
using PairKey = uint64_t;
PairKey MakePair(int32_t a, int32_t b) {
  return static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32 |
         static_cast<uint32_t>(b);
}
int32_t First(PairKey p) { return static_cast<int32_t>(p >> 32); }
int32_t Second(PairKey p) { return static_cast<int32_t>(p & 0xffffffffu); }

struct PairHash {
  size_t operator()(PairKey x) const {  // splitmix64 finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return static_cast<size_t>(x);
  }
};

// Heap entry: the highest count first, then the lowest pair.
struct Candidate {
  int64_t count;
  PairKey pair;
  bool operator<(const Candidate& o) const {
    if (count != o.count) return count < o.count;
    return pair > o.pair;
  }
};

OrderedJson SpecialTemplatePiece(const std::string& id) {
  return {{"SpecialToken", {{"id", id}, {"type_id", 0}}}};
}

OrderedJson SequenceTemplatePiece(const char* id) {
  return {{"Sequence", {{"id", id}, {"type_id", 0}}}};
}

// The tokenizer.json document with `vocab` as the model's vocabulary
// (token -> id; special tokens must be in it).
OrderedJson MakeDocument(const WordPieceTrainerOptions& o,
                         const std::vector<std::string>& specials,
                         OrderedJson vocab) {
  OrderedJson added = OrderedJson::array();
  for (size_t i = 0; i < specials.size(); ++i) {
    added.push_back({{"id", static_cast<int32_t>(i)},
                     {"content", specials[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  const auto replace = [](const char* kind, const char* pattern,
                          const char* content) {
    return OrderedJson{{"type", "Replace"},
                       {"pattern", {{kind, pattern}}},
                       {"content", content}};
  };
  OrderedJson normalizer = {{"type", "Sequence"},
                            {"normalizers",
                             {replace("String", "``", "\""),
                              replace("String", "''", "\""),
                              {{"type", "NFD"}},
                              {{"type", "Lowercase"}},
                              {{"type", "StripAccents"}},
                              replace("Regex", " {2,}", " "),
                              replace("Regex", "[^\\x00-\\x7F]+", "")}}};
  const auto id_of = [&](const std::string& t) {
    return static_cast<int32_t>(std::find(specials.begin(), specials.end(), t) -
                                specials.begin());
  };
  OrderedJson special_tokens = OrderedJson::object();
  for (const std::string* t : {&o.cls_token, &o.sep_token}) {
    special_tokens[*t] = {{"id", *t}, {"ids", {id_of(*t)}}, {"tokens", {*t}}};
  }
  OrderedJson post = {
      {"type", "TemplateProcessing"},
      {"single",
       {SequenceTemplatePiece("A"), SpecialTemplatePiece(o.sep_token)}},
      {"pair",
       {SpecialTemplatePiece(o.cls_token), SequenceTemplatePiece("A"),
        SpecialTemplatePiece(o.sep_token), SequenceTemplatePiece("B"),
        SpecialTemplatePiece(o.sep_token)}},
      {"special_tokens", std::move(special_tokens)}};
  OrderedJson doc;
  doc["version"] = "1.0";
  doc["truncation"] = nullptr;
  doc["padding"] = nullptr;
  doc["added_tokens"] = std::move(added);
  doc["normalizer"] = std::move(normalizer);
  doc["pre_tokenizer"] = {{"type", "Whitespace"}};
  doc["post_processor"] = std::move(post);
  doc["decoder"] = {
      {"type", "WordPiece"}, {"prefix", kPrefix}, {"cleanup", true}};
  doc["model"] = {{"type", "WordPiece"},
                  {"unk_token", o.unk_token},
                  {"continuing_subword_prefix", kPrefix},
                  {"max_input_chars_per_word", o.max_chars_per_word},
                  {"vocab", std::move(vocab)}};
  return doc;
}

std::string Dump(const OrderedJson& doc) {
  // Every string is valid UTF-8 (checked), so `replace` never fires; it only
  // guarantees dump() cannot throw.
  return doc.dump(2, ' ', false, OrderedJson::error_handler_t::replace);
}

}  // namespace

struct WordPieceTrainer::Impl {
  WordPieceTrainerOptions options;
  OrderedJson special_vocab;  // special token -> id
  tok::Pipeline pipeline;     // of the document with only special tokens
  std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> counts;
  int64_t n_words = 0;
  int64_t n_bytes = 0;
};

WordPieceTrainer::WordPieceTrainer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
WordPieceTrainer::WordPieceTrainer(WordPieceTrainer&&) noexcept = default;
WordPieceTrainer& WordPieceTrainer::operator=(WordPieceTrainer&&) noexcept =
    default;
WordPieceTrainer::~WordPieceTrainer() = default;

Result<WordPieceTrainer> WordPieceTrainer::Create(
    WordPieceTrainerOptions options) {
  const auto bad = [](const std::string& m) {
    return InvalidArgumentError("WordPieceTrainerOptions: " + m);
  };
  if (options.vocab_size < 1) {
    return bad("vocab_size: expected >= 1, got " +
               std::to_string(options.vocab_size));
  }
  if (options.min_frequency < 1) {
    return bad("min_frequency: expected >= 1, got " +
               std::to_string(options.min_frequency));
  }
  if (options.max_chars_per_word < 1 ||
      options.max_chars_per_word > std::numeric_limits<uint32_t>::max()) {
    return bad("max_chars_per_word: expected in [1, 2^32 - 1], got " +
               std::to_string(options.max_chars_per_word));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < options.special_tokens.size(); ++i) {
    const std::string& t = options.special_tokens[i];
    const std::string what = "special_tokens[" + std::to_string(i) + "]";
    if (t.empty()) return bad(what + " is empty");
    if (tok::FindInvalidUtf8(t) != tok::kValidUtf8) {
      return bad(what + " is not valid UTF-8");
    }
    if (!seen.insert(t).second) return bad(what + " \"" + t + "\" repeats");
  }
  for (const auto& [name, token] : {std::pair<const char*, const std::string*>{
                                        "unk_token", &options.unk_token},
                                    {"cls_token", &options.cls_token},
                                    {"sep_token", &options.sep_token}}) {
    if (seen.count(*token) == 0) {
      return bad(std::string(name) + " \"" + *token +
                 "\" is not one of special_tokens");
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->special_vocab = OrderedJson::object();
  for (size_t i = 0; i < options.special_tokens.size(); ++i) {
    impl->special_vocab[options.special_tokens[i]] = static_cast<int32_t>(i);
  }
  // The pipeline that counts words is loaded from the document the trainer
  // writes (with only the special tokens as vocabulary), so training and
  // encoding split text identically by construction.
  const std::string skeleton =
      Dump(MakeDocument(options, options.special_tokens, impl->special_vocab));
  auto pipeline = tok::LoadPipelineJson(skeleton, "trainer tokenizer.json");
  if (!pipeline.ok()) {
    return InternalError("WordPieceTrainer: " + pipeline.status().message());
  }
  impl->pipeline = std::move(*pipeline);
  impl->options = std::move(options);
  return WordPieceTrainer(std::move(impl));
}

Status WordPieceTrainer::AddText(std::string_view text) {
  Impl& s = *impl_;
  if (text.size() > std::numeric_limits<uint32_t>::max()) {
    return OutOfRangeError(
        "WordPieceTrainer::AddText: " + std::to_string(text.size()) +
        " bytes; at most 4 GiB - 1 per call");
  }
  const size_t bad = tok::FindInvalidUtf8(text);
  if (bad != tok::kValidUtf8) {
    return InvalidArgumentError(
        "WordPieceTrainer::AddText: invalid UTF-8 at byte " +
        std::to_string(bad) + " of this text (byte " +
        std::to_string(static_cast<uint64_t>(s.n_bytes) + bad) +
        " of all text added)");
  }
  const size_t max_chars = s.options.max_chars_per_word;
  tok::ForEachPreToken(s.pipeline, text, [&](std::string_view word) {
    if (word.size() > max_chars && tok::CountCodePoints(word) > max_chars) {
      return;
    }
    ++s.n_words;
    if (auto it = s.counts.find(word); it != s.counts.end()) {
      ++it->second;
    } else {
      s.counts.emplace(std::string(word), 1);
    }
  });
  s.n_bytes += static_cast<int64_t>(text.size());
  return Status::Ok();
}

int64_t WordPieceTrainer::n_words() const { return impl_->n_words; }
int64_t WordPieceTrainer::n_distinct_words() const {
  return static_cast<int64_t>(impl_->counts.size());
}
int64_t WordPieceTrainer::n_bytes() const { return impl_->n_bytes; }

namespace {

// The merge loop over the distinct words (each a list of symbol ids).
class Merger {
 public:
  Merger(std::vector<std::string>* id_to_token,
         std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>*
             token_to_id,
         std::vector<std::vector<int32_t>> words, std::vector<int64_t> counts)
      : id_to_token_(*id_to_token),
        token_to_id_(*token_to_id),
        words_(std::move(words)),
        counts_(std::move(counts)) {}

  void Run(int32_t vocab_size, int64_t min_frequency,
           const std::function<void(const WordPieceTrainProgress&)>& progress) {
    CountInitialPairs();
    WordPieceTrainProgress p;
    p.target_size = vocab_size;
    while (static_cast<int64_t>(id_to_token_.size()) < vocab_size &&
           !heap_.empty()) {
      const Candidate top = heap_.top();
      heap_.pop();
      const auto it = pair_counts_.find(top.pair);
      const int64_t current = it == pair_counts_.end() ? 0 : it->second;
      if (current != top.count) {  // stale: the count went down since
        if (current > 0) heap_.push({current, top.pair});
        continue;
      }
      if (current < min_frequency || current < 1) break;
      Merge(top.pair);
      ++p.n_merges;
      p.last_count = current;
      if (progress && p.n_merges % kProgressEvery == 0) {
        p.vocab_size = static_cast<int32_t>(id_to_token_.size());
        progress(p);
      }
    }
    if (progress) {
      p.vocab_size = static_cast<int32_t>(id_to_token_.size());
      progress(p);
    }
  }

 private:
  void CountInitialPairs() {
    for (size_t w = 0; w < words_.size(); ++w) {
      const std::vector<int32_t>& s = words_[w];
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const PairKey p = MakePair(s[i], s[i + 1]);
        pair_counts_[p] += counts_[w];
        std::vector<uint32_t>& where = where_[p];
        if (where.empty() || where.back() != w) {
          where.push_back(static_cast<uint32_t>(w));
        }
      }
    }
    for (const auto& [pair, count] : pair_counts_) heap_.push({count, pair});
  }

  // The token of merging `pair`: an existing token with that text keeps its
  // id (HF does the same), otherwise a new id.
  int32_t MergedId(PairKey pair) {
    const std::string& a = id_to_token_[First(pair)];
    std::string_view b = id_to_token_[Second(pair)];
    if (b.substr(0, 2) == kPrefix) b.remove_prefix(2);
    std::string merged = a;
    merged.append(b);
    if (const auto it = token_to_id_.find(merged); it != token_to_id_.end()) {
      return it->second;
    }
    const auto id = static_cast<int32_t>(id_to_token_.size());
    token_to_id_.emplace(merged, id);
    id_to_token_.push_back(std::move(merged));
    return id;
  }

  void Merge(PairKey pair) {
    const int32_t a = First(pair), b = Second(pair);
    const int32_t id = MergedId(pair);
    std::vector<uint32_t> where;
    if (auto it = where_.find(pair); it != where_.end()) {
      where.swap(it->second);
      where_.erase(it);
    }
    std::sort(where.begin(), where.end());
    where.erase(std::unique(where.begin(), where.end()), where.end());
    delta_.clear();
    for (const uint32_t w : where) {
      std::vector<int32_t>& s = words_[w];
      bool found = false;
      for (size_t i = 0; i + 1 < s.size() && !found; ++i) {
        found = s[i] == a && s[i + 1] == b;
      }
      if (!found) continue;
      const int64_t c = counts_[w];
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        delta_[MakePair(s[i], s[i + 1])] -= c;
      }
      // Left to right, non-overlapping (HF's Word::merge).
      size_t out = 0;
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          s[out++] = id;
          i += 2;
        } else {
          s[out++] = s[i++];
        }
      }
      s.resize(out);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const PairKey p = MakePair(s[i], s[i + 1]);
        delta_[p] += c;
        // Pairs without the new id were in the word before, so the word is
        // already listed for them.
        if (s[i] == id || s[i + 1] == id) where_[p].push_back(w);
      }
    }
    for (const auto& [p, d] : delta_) {
      if (d == 0) continue;
      int64_t& count = pair_counts_[p];
      count += d;
      if (d > 0) heap_.push({count, p});
      if (count == 0) pair_counts_.erase(p);
    }
  }

  std::vector<std::string>& id_to_token_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>&
      token_to_id_;
  std::vector<std::vector<int32_t>> words_;
  std::vector<int64_t> counts_;
  std::unordered_map<PairKey, int64_t, PairHash> pair_counts_;
  std::unordered_map<PairKey, std::vector<uint32_t>, PairHash> where_;
  std::unordered_map<PairKey, int64_t, PairHash> delta_;  // per merge
  std::priority_queue<Candidate> heap_;
};

}  // namespace

Result<std::string> WordPieceTrainer::TrainTokenizerJson(
    const std::function<void(const WordPieceTrainProgress&)>& progress) const {
  const Impl& s = *impl_;
  const WordPieceTrainerOptions& o = s.options;

  // Distinct words in byte order, so nothing below depends on hash order.
  std::vector<std::pair<std::string_view, int64_t>> words;
  words.reserve(s.counts.size());
  for (const auto& [w, c] : s.counts) words.emplace_back(w, c);
  std::sort(words.begin(), words.end());

  std::set<char32_t> bare, continuation;
  for (const auto& [w, c] : words) {
    for (size_t i = 0; i < w.size();) {
      int len;
      const char32_t cp = tok::DecodeUtf8(w.data() + i, &len);
      bare.insert(cp);
      if (i > 0) continuation.insert(cp);
      i += len;
    }
  }

  std::vector<std::string> id_to_token;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>
      token_to_id;
  const auto add = [&](std::string t) {
    if (token_to_id.count(t)) return;
    token_to_id.emplace(t, static_cast<int32_t>(id_to_token.size()));
    id_to_token.push_back(std::move(t));
  };
  for (const std::string& t : o.special_tokens) add(t);
  for (char32_t cp : bare) {
    std::string t;
    tok::AppendUtf8(cp, &t);
    add(std::move(t));
  }
  for (char32_t cp : continuation) {
    std::string t = kPrefix;
    tok::AppendUtf8(cp, &t);
    add(std::move(t));
  }
  if (static_cast<int64_t>(id_to_token.size()) > o.vocab_size) {
    return InvalidArgumentError(
        "WordPieceTrainer: vocab_size " + std::to_string(o.vocab_size) +
        " is less than the " + std::to_string(o.special_tokens.size()) +
        " special tokens + " +
        std::to_string(id_to_token.size() - o.special_tokens.size()) +
        " alphabet tokens (" + std::to_string(bare.size()) + " characters, " +
        std::to_string(continuation.size()) +
        " with the ## prefix) the vocabulary needs");
  }

  std::vector<std::vector<int32_t>> symbols(words.size());
  std::vector<int64_t> counts(words.size());
  for (size_t w = 0; w < words.size(); ++w) {
    const std::string_view word = words[w].first;
    std::string t;
    for (size_t i = 0; i < word.size();) {
      const int len =
          tok::Utf8SequenceLength(static_cast<unsigned char>(word[i]));
      t.assign(i == 0 ? "" : kPrefix);
      t.append(word.substr(i, len));
      symbols[w].push_back(token_to_id.find(t)->second);
      i += len;
    }
    counts[w] = words[w].second;
  }
  words.clear();

  Merger merger(&id_to_token, &token_to_id, std::move(symbols),
                std::move(counts));
  merger.Run(o.vocab_size, o.min_frequency, progress);

  // The vocabulary object is written by hand (32k keys through an
  // ordered_json object would be quadratic), spliced into the dump of the
  // document at its placeholder, the empty vocab at the very end.
  std::string json =
      Dump(MakeDocument(o, o.special_tokens, OrderedJson::object()));
  const std::string placeholder = "\"vocab\": {}\n  }\n}";
  if (json.size() < placeholder.size() ||
      json.compare(json.size() - placeholder.size(), placeholder.size(),
                   placeholder) != 0) {
    return InternalError("WordPieceTrainer: unexpected document layout");
  }
  json.resize(json.size() - placeholder.size());
  json += "\"vocab\": {";
  for (size_t id = 0; id < id_to_token.size(); ++id) {
    json += id == 0 ? "\n      " : ",\n      ";
    json += nlohmann::json(id_to_token[id])
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    json += ": ";
    json += std::to_string(id);
  }
  json += "\n    }\n  }\n}\n";
  return json;
}

}  // namespace fff
