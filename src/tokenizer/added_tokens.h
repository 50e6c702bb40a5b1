// HF's AddedVocabulary: tokens listed in tokenizer.json's `added_tokens`,
// matched in the text before the model sees it. Tokens with
// normalized=false are matched in the raw input (before normalisation);
// tokens with normalized=true are matched, in their normalised form, in each
// normalised piece. Matching is leftmost-longest and non-overlapping (HF's
// Aho-Corasick with MatchKind::LeftmostLongest).
#ifndef FFF_SRC_TOKENIZER_ADDED_TOKENS_H_
#define FFF_SRC_TOKENIZER_ADDED_TOKENS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "src/tokenizer/normalizer.h"
#include "src/tokenizer/wordpiece.h"

namespace fff::tok {

struct AddedToken {
  std::string content;
  bool special = false;
  bool normalized = false;
};

struct AddedMatch {
  uint32_t begin, end;  // byte range in the searched text
  int32_t id;
};

// Leftmost-longest multi-pattern matcher for a handful of patterns.
class AddedTokenMatcher {
 public:
  void Add(std::string pattern, int32_t id);  // pattern non-empty
  bool empty() const { return patterns_.empty(); }
  // Appends the matches in `text`, in order.
  void FindMatches(std::string_view text, std::vector<AddedMatch>* out) const;

 private:
  std::array<bool, 256> first_byte_ = {};
  // Sorted by length, longest first, so the first hit at a position is the
  // longest.
  std::vector<std::pair<std::string, int32_t>> patterns_;
};

// Immutable after Finish; all const methods are thread-safe.
class AddedVocabulary {
 public:
  // HF's id rule: a content already known (an earlier added token, then the
  // model's vocabulary) keeps that id, whatever `id` the file gives; a new
  // content gets the next id after the model's vocabulary (the file's id is
  // only checked by HF, with a warning). Empty contents are ignored.
  void Add(AddedToken token, const WordPiece& model);
  // Builds the matchers; normalized tokens are matched in the form
  // `normalizer` gives them.
  void Finish(const NormalizerChain& normalizer);

  std::optional<int32_t> TokenToId(std::string_view content) const;
  // The token's text for decoding (normalised form for normalized tokens),
  // or nullopt when `id` is no added token.
  std::optional<std::string_view> IdToContent(int32_t id) const;
  bool IsSpecialContent(std::string_view content) const {
    return special_contents_.count(std::string(content)) != 0;
  }
  const AddedTokenMatcher& raw_matcher() const { return raw_; }
  const AddedTokenMatcher& normalized_matcher() const { return normalized_; }
  // (id, token) in id order.
  const std::vector<std::pair<int32_t, AddedToken>>& tokens() const {
    return tokens_;
  }
  int32_t max_id() const;

 private:
  std::vector<std::pair<int32_t, AddedToken>> tokens_;
  std::unordered_map<std::string, int32_t> content_to_id_;
  std::unordered_map<int32_t, std::string> decoded_;  // id -> decode text
  std::unordered_set<std::string> special_contents_;
  AddedTokenMatcher raw_, normalized_;
  int64_t next_id_ = -1;
};

}  // namespace fff::tok

#endif  // FFF_SRC_TOKENIZER_ADDED_TOKENS_H_
