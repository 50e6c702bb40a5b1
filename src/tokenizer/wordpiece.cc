#include "src/tokenizer/wordpiece.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "src/tokenizer/unicode.h"

namespace fff::tok {
namespace {

uint32_t HashBytes(std::string_view s) {
  constexpr uint64_t kMul = 0xbf58476d1ce4e5b9ull;
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 31;
  }
  uint64_t w = 0;
  std::memcpy(&w, s.data() + i, s.size() - i);
  h = (h ^ w) * kMul;
  h ^= h >> 29;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 32;
  return static_cast<uint32_t>(h);
}

}  // namespace

void VocabTable::Build(
    const std::vector<std::pair<std::string, int32_t>>& entries) {
  const size_t capacity =
      std::bit_ceil(std::max<size_t>(16, entries.size() * 2));
  slots_.assign(capacity, Slot{});
  arena_.clear();
  n_keys_ = 0;
  max_key_bytes_ = 0;
  const size_t mask = capacity - 1;
  for (const auto& [key, id] : entries) {
    const uint32_t h = HashBytes(key);
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s = {h, static_cast<uint32_t>(arena_.size()),
             static_cast<uint32_t>(key.size()), id};
        arena_ += key;
        ++n_keys_;
        max_key_bytes_ = std::max(max_key_bytes_, key.size());
        break;
      }
      if (s.hash == h &&
          std::string_view(arena_).substr(s.offset, s.length) == key) {
        s.id = id;
        break;
      }
    }
  }
}

int32_t VocabTable::Find(std::string_view key) const {
  if (slots_.empty()) return -1;
  const uint32_t h = HashBytes(key);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.id < 0) return -1;
    if (s.hash == h && s.length == key.size() &&
        std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
      return s.id;
    }
  }
}

size_t PrefixTrie::Slot(uint64_t key) const {
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
}

void PrefixTrie::Grow() {
  std::vector<Edge> old = std::move(edges_);
  const size_t capacity = std::max<size_t>(64, old.size() * 2);
  edges_.assign(capacity, Edge{});
  shift_ = 64 - std::countr_zero(capacity);
  const size_t mask = capacity - 1;
  for (const Edge& e : old) {
    if (e.key == 0) continue;
    size_t i = Slot(e.key);
    while (edges_[i].key != 0) i = (i + 1) & mask;
    edges_[i] = e;
  }
}

void PrefixTrie::Build(
    const std::vector<std::pair<std::string, int32_t>>& entries) {
  edges_.clear();
  n_edges_ = 0;
  ids_.assign(1, -1);
  std::fill(std::begin(root_), std::end(root_), 0);
  Grow();
  for (const auto& [key, id] : entries) {
    uint32_t node = 0;
    for (unsigned char b : key) {
      if (node == 0) {
        if (root_[b] == 0) {
          root_[b] = static_cast<uint32_t>(ids_.size());
          ids_.push_back(-1);
        }
        node = root_[b];
        continue;
      }
      if (2 * (n_edges_ + 1) > edges_.size()) Grow();
      const uint64_t k = EdgeKey(node, b);
      const size_t mask = edges_.size() - 1;
      size_t i = Slot(k);
      while (edges_[i].key != 0 && edges_[i].key != k) i = (i + 1) & mask;
      if (edges_[i].key == 0) {
        edges_[i] = {k, static_cast<uint32_t>(ids_.size())};
        ids_.push_back(-1);
        ++n_edges_;
      }
      node = edges_[i].child;
    }
    if (node != 0) ids_[node] = id;
  }
}

std::pair<uint32_t, int32_t> PrefixTrie::LongestPrefix(
    std::string_view s) const {
  std::pair<uint32_t, int32_t> best{0, -1};
  if (s.empty()) return best;
  uint32_t node = root_[static_cast<unsigned char>(s[0])];
  if (node == 0) return best;
  if (ids_[node] >= 0) best = {1, ids_[node]};
  const size_t mask = edges_.size() - 1;
  for (size_t i = 1; i < s.size(); ++i) {
    const uint64_t k = EdgeKey(node, static_cast<unsigned char>(s[i]));
    size_t slot = Slot(k);
    while (edges_[slot].key != k) {
      if (edges_[slot].key == 0) return best;
      slot = (slot + 1) & mask;
    }
    node = edges_[slot].child;
    if (ids_[node] >= 0) best = {static_cast<uint32_t>(i + 1), ids_[node]};
  }
  return best;
}

Result<WordPiece> WordPiece::Create(
    std::vector<std::pair<std::string, int32_t>> vocab, std::string unk_token,
    std::string continuing_subword_prefix, size_t max_input_chars_per_word) {
  WordPiece wp;
  wp.vocab_.Build(vocab);
  wp.unk_id_ = wp.vocab_.Find(unk_token);
  if (wp.unk_id_ < 0) {
    return InvalidArgumentError("unk_token \"" + unk_token +
                                "\" is not in the vocabulary");
  }
  // Tries built in id order (frequent tokens first in BERT vocabularies)
  // keep the nodes a text visits close together.
  std::stable_sort(
      vocab.begin(), vocab.end(),
      [](const auto& a, const auto& b) { return a.second < b.second; });
  std::vector<std::pair<std::string, int32_t>> continuation;
  wp.first_.Build(vocab);
  for (auto& [token, id] : vocab) {
    // A key repeated in `vocab` keeps its last id (as HF's map insertion);
    // the ids it had before belong to no token.
    if (wp.vocab_.Find(token) != id) continue;
    wp.max_id_ = std::max(wp.max_id_, id);
    if (token.compare(0, continuing_subword_prefix.size(),
                      continuing_subword_prefix) == 0) {
      continuation.emplace_back(token.substr(continuing_subword_prefix.size()),
                                id);
    }
    wp.by_id_.emplace_back(id, std::move(token));
  }
  wp.continuation_.Build(continuation);
  // Several tokens may share an id; IdToToken then answers the smallest
  // (HF's answer depends on hash-map order).
  std::sort(wp.by_id_.begin(), wp.by_id_.end());
  wp.unk_token_ = std::move(unk_token);
  wp.prefix_ = std::move(continuing_subword_prefix);
  wp.max_chars_ = max_input_chars_per_word;
  return wp;
}

void WordPiece::Tokenize(std::string_view piece,
                         std::vector<WordPieceToken>* out) const {
  const auto n = static_cast<uint32_t>(piece.size());
  if (n > max_chars_ && CountCodePoints(piece) > max_chars_) {
    out->push_back({unk_id_, 0, n});
    return;
  }
  const size_t first_token = out->size();
  uint32_t start = 0;
  while (start < n) {
    // HF tries ends from the piece's end down to start + 1 and keeps the
    // first that is a token: the longest token prefix of the rest.
    const auto [length, id] = (start == 0 ? first_ : continuation_)
                                  .LongestPrefix(piece.substr(start));
    if (id < 0) {
      out->resize(first_token);
      out->push_back({unk_id_, 0, n});
      return;
    }
    out->push_back({id, start, start + length});
    start += length;
  }
}

std::optional<std::string_view> WordPiece::IdToToken(int32_t id) const {
  const auto it = std::lower_bound(by_id_.begin(), by_id_.end(), id,
                                   [](const std::pair<int32_t, std::string>& e,
                                      int32_t v) { return e.first < v; });
  if (it == by_id_.end() || it->first != id) return std::nullopt;
  return std::string_view(it->second);
}

}  // namespace fff::tok
