// The patterns of HF's Replace normalizer that fff supports, and their
// matching. HF compiles Replace patterns with Oniguruma; fff implements the
// subset it can reproduce exactly:
//   - String patterns (any non-empty literal);
//   - Regex patterns made of literal characters only (no metacharacters);
//   - Regex patterns that are one atom with a quantifier: a literal
//     character, an escaped one (\. \x41 \x{263A} \u263A \t \n \r), or a
//     bracket class [...] / [^...] of such characters and ranges, followed by
//     + ? {n} {n,} or {n,m} with n >= 1 (e.g. " {2,}", "[^\x00-\x7F]+").
// Anything else (alternation, groups, \s \w \d, lazy quantifiers, patterns
// that can match the empty string) is rejected at load.
#ifndef FFF_SRC_TOKENIZER_REPLACE_PATTERN_H_
#define FFF_SRC_TOKENIZER_REPLACE_PATTERN_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fff/status.h"

namespace fff::tok {

class ReplacePattern {
 public:
  static ReplacePattern Literal(std::string literal);
  // InvalidArgument (unsupported or malformed) naming the pattern.
  static Result<ReplacePattern> FromRegex(std::string_view regex);

  // Leftmost-first, non-overlapping, greedy matches in valid UTF-8 `text`,
  // appended to `*matches` as byte ranges [begin, end).
  void FindMatches(std::string_view text, bool text_is_ascii,
                   std::vector<std::pair<size_t, size_t>>* matches) const;
  const std::string& literal() const { return literal_; }

 private:
  bool ClassContains(char32_t cp) const;

  std::string literal_;  // a literal pattern when non-empty
  // Otherwise one atom: a class of code-point ranges (possibly negated),
  // repeated min_..max_ times.
  std::vector<std::pair<char32_t, char32_t>> ranges_;
  bool negated_ = false;
  std::array<bool, 128> ascii_ = {};  // ClassContains for ASCII
  bool any_non_ascii_ = false;        // some non-ASCII code point matches
  int only_ascii_byte_ = -1;          // the one character matching, when ASCII
  uint32_t min_ = 1, max_ = 1;
};

}  // namespace fff::tok

#endif  // FFF_SRC_TOKENIZER_REPLACE_PATTERN_H_
