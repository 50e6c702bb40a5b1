#include "src/tokenizer/added_tokens.h"

#include <algorithm>
#include <limits>

namespace fff::tok {

void AddedTokenMatcher::Add(std::string pattern, int32_t id) {
  first_byte_[static_cast<unsigned char>(pattern[0])] = true;
  patterns_.emplace_back(std::move(pattern), id);
  std::stable_sort(patterns_.begin(), patterns_.end(),
                   [](const auto& a, const auto& b) {
                     return a.first.size() > b.first.size();
                   });
}

void AddedTokenMatcher::FindMatches(std::string_view text,
                                    std::vector<AddedMatch>* out) const {
  if (patterns_.empty()) return;
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    if (!first_byte_[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    const std::string_view rest = text.substr(i);
    bool found = false;
    for (const auto& [p, id] : patterns_) {
      if (rest.size() >= p.size() && rest.compare(0, p.size(), p) == 0) {
        out->push_back({static_cast<uint32_t>(i),
                        static_cast<uint32_t>(i + p.size()), id});
        i += p.size();
        found = true;
        break;
      }
    }
    if (!found) ++i;
  }
}

void AddedVocabulary::Add(AddedToken token, const WordPiece& model) {
  if (token.content.empty()) return;
  if (next_id_ < 0) next_id_ = static_cast<int64_t>(model.size());
  int32_t id;
  if (auto known = content_to_id_.find(token.content);
      known != content_to_id_.end()) {
    id = known->second;
  } else if (const int32_t in_model = model.TokenToId(token.content);
             in_model >= 0) {
    id = in_model;
  } else {
    id = static_cast<int32_t>(
        std::min<int64_t>(next_id_++, std::numeric_limits<int32_t>::max()));
  }
  content_to_id_[token.content] = id;
  if (token.special) special_contents_.insert(token.content);
  const auto it = std::find_if(tokens_.begin(), tokens_.end(),
                               [id](const auto& t) { return t.first == id; });
  if (it != tokens_.end()) {
    it->second = std::move(token);
  } else {
    tokens_.emplace_back(id, std::move(token));
  }
}

void AddedVocabulary::Finish(const NormalizerChain& normalizer) {
  std::sort(tokens_.begin(), tokens_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  NormalizedText text, scratch;
  for (const auto& [id, token] : tokens_) {
    if (!token.normalized) {
      raw_.Add(token.content, id);
      decoded_[id] = token.content;
      continue;
    }
    text.Assign(token.content, 0);
    normalizer.Apply(&text, &scratch);
    decoded_[id] = text.text;
    if (!text.text.empty()) normalized_.Add(text.text, id);
  }
}

std::optional<int32_t> AddedVocabulary::TokenToId(
    std::string_view content) const {
  const auto it = content_to_id_.find(std::string(content));
  if (it == content_to_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string_view> AddedVocabulary::IdToContent(int32_t id) const {
  const auto it = decoded_.find(id);
  if (it == decoded_.end()) return std::nullopt;
  return std::string_view(it->second);
}

int32_t AddedVocabulary::max_id() const {
  return tokens_.empty() ? -1 : tokens_.back().first;
}

}  // namespace fff::tok
