// The WordPiece model: greedy longest-match-first over a vocabulary, as HF's
// models::wordpiece (a piece that cannot be covered completely, or that has
// more than max_input_chars_per_word code points, becomes one unk token).
#ifndef FFF_SRC_TOKENIZER_WORDPIECE_H_
#define FFF_SRC_TOKENIZER_WORDPIECE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fff/status.h"

namespace fff::tok {

// Open-addressing hash table from token text to id, looked up by
// string_view without allocating. Immutable after Build.
class VocabTable {
 public:
  // Later duplicates of a key replace earlier ones.
  void Build(const std::vector<std::pair<std::string, int32_t>>& entries);
  // -1 when absent.
  int32_t Find(std::string_view key) const;
  size_t size() const { return n_keys_; }
  size_t max_key_bytes() const { return max_key_bytes_; }

 private:
  struct Slot {
    uint32_t hash = 0;
    uint32_t offset = 0;  // into arena_
    uint32_t length = 0;
    int32_t id = -1;  // -1: empty slot
  };
  std::string arena_;
  std::vector<Slot> slots_;  // power-of-two size, at most half full
  size_t n_keys_ = 0;
  size_t max_key_bytes_ = 0;
};

// Byte trie over a vocabulary for longest-prefix lookups: edges live in one
// open-addressing table keyed by (node, byte). Immutable after Build.
class PrefixTrie {
 public:
  // Later duplicates of a key replace earlier ones; the empty key is ignored.
  void Build(const std::vector<std::pair<std::string, int32_t>>& entries);
  // The longest non-empty key that is a prefix of `s`: its byte length and
  // id, or {0, -1}. Keys and `s` being valid UTF-8, the length ends on a
  // character boundary of `s`.
  std::pair<uint32_t, int32_t> LongestPrefix(std::string_view s) const;

 private:
  struct Edge {
    uint64_t key = 0;  // (parent + 1) << 8 | byte; 0: empty slot
    uint32_t child = 0;
  };
  static uint64_t EdgeKey(uint32_t node, unsigned char byte) {
    return (static_cast<uint64_t>(node) + 1) << 8 | byte;
  }
  size_t Slot(uint64_t key) const;
  void Grow();

  uint32_t root_[256] = {};   // the root's children (0: none), by byte
  std::vector<Edge> edges_;   // power-of-two size, at most half full
  std::vector<int32_t> ids_;  // per node: the id of the key ending there, -1
  size_t n_edges_ = 0;
  int shift_ = 64;
};

struct WordPieceToken {
  int32_t id;
  uint32_t begin, end;  // byte range in the piece's text
};

// Immutable after Create; Tokenize is thread-safe.
class WordPiece {
 public:
  // `vocab`: token -> id (ids >= 0). InvalidArgument when unk_token is not
  // in the vocabulary (HF fails later, on the first unknown word).
  static Result<WordPiece> Create(
      std::vector<std::pair<std::string, int32_t>> vocab, std::string unk_token,
      std::string continuing_subword_prefix, size_t max_input_chars_per_word);

  // Appends the tokens of one pre-tokenized piece (valid UTF-8, non-empty)
  // to *out; offsets are relative to `piece`.
  void Tokenize(std::string_view piece, std::vector<WordPieceToken>* out) const;

  int32_t TokenToId(std::string_view token) const { return vocab_.Find(token); }
  std::optional<std::string_view> IdToToken(int32_t id) const;
  int32_t unk_id() const { return unk_id_; }
  const std::string& unk_token() const { return unk_token_; }
  const std::string& prefix() const { return prefix_; }
  size_t max_input_chars_per_word() const { return max_chars_; }
  size_t size() const { return vocab_.size(); }
  int32_t max_id() const { return max_id_; }

 private:
  VocabTable vocab_;  // every token, for TokenToId
  // Greedy longest-match-first is a longest-prefix search: over every token
  // at the start of a piece, over the prefixed tokens (without the prefix)
  // after it.
  PrefixTrie first_, continuation_;
  // (id, token) sorted by id, for IdToToken.
  std::vector<std::pair<int32_t, std::string>> by_id_;
  std::string unk_token_, prefix_;
  int32_t unk_id_ = -1;
  int32_t max_id_ = -1;
  size_t max_chars_ = 100;
};

}  // namespace fff::tok

#endif  // FFF_SRC_TOKENIZER_WORDPIECE_H_
