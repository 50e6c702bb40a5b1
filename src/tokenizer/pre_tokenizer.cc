#include "src/tokenizer/pre_tokenizer.h"

#include <array>

#include "src/tokenizer/unicode.h"

namespace fff::tok {
namespace {

// Character classes: kSpace separates pieces and is dropped; a run of kWord
// or of kOther characters is one piece (kWhitespace keeps the two kinds
// apart, the other rules merge them); kIsolated is a piece on its own.
enum CharClass : uint8_t { kSpace, kWord, kOther, kIsolated };

constexpr std::array<uint8_t, 128> MakeAsciiTable(SplitRule rule) {
  std::array<uint8_t, 128> t{};
  for (char32_t c = 0; c < 128; ++c) {
    const bool space = c == ' ' || (c >= 9 && c <= 13);
    const bool word = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                      (c >= 'A' && c <= 'Z') || c == '_';
    const bool punct = (c >= 33 && c <= 47) || (c >= 58 && c <= 64) ||
                       (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    if (space) {
      t[c] = kSpace;
    } else if (rule == SplitRule::kWhitespace) {
      t[c] = word ? kWord : kOther;
    } else if (rule == SplitRule::kBert && punct) {
      t[c] = kIsolated;
    } else {
      t[c] = kWord;
    }
  }
  return t;
}

constexpr auto kWhitespaceTable = MakeAsciiTable(SplitRule::kWhitespace);
constexpr auto kWhitespaceSplitTable =
    MakeAsciiTable(SplitRule::kWhitespaceSplit);
constexpr auto kBertTable = MakeAsciiTable(SplitRule::kBert);

uint8_t ClassOf(SplitRule rule, char32_t cp) {
  if (IsWhitespace(cp)) return kSpace;
  switch (rule) {
    case SplitRule::kWhitespace:
      return IsWordChar(cp) ? kWord : kOther;
    case SplitRule::kBert:
      return IsBertPunctuation(cp) ? kIsolated : kWord;
    case SplitRule::kWhitespaceSplit:
      break;
  }
  return kWord;
}

void SplitOne(SplitRule rule, const std::string& s, Span range,
              std::vector<Span>* out) {
  const std::array<uint8_t, 128>& table =
      rule == SplitRule::kWhitespace        ? kWhitespaceTable
      : rule == SplitRule::kWhitespaceSplit ? kWhitespaceSplitTable
                                            : kBertTable;
  uint32_t run_begin = range.begin;
  uint8_t run_class = kSpace;
  for (uint32_t i = range.begin; i < range.end;) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len = 1;
    const uint8_t c =
        b < 0x80 ? table[b] : ClassOf(rule, DecodeUtf8(s.data() + i, &len));
    if (c != run_class || c == kIsolated) {
      if (run_class != kSpace) out->push_back({run_begin, i});
      run_begin = i;
      run_class = c;
    }
    i += len;
  }
  if (run_class != kSpace) out->push_back({run_begin, range.end});
}

}  // namespace

void PreTokenizer::Split(const NormalizedText& text, uint32_t begin,
                         uint32_t end, std::vector<Span>* out,
                         std::vector<Span>* scratch) const {
  if (begin >= end) return;
  if (rules_.empty()) {
    out->push_back({begin, end});
    return;
  }
  if (rules_.size() == 1) {
    SplitOne(rules_[0], text.text, {begin, end}, out);
    return;
  }
  // Sequence: every rule refines the pieces the previous one produced.
  std::vector<Span> pieces;
  pieces.push_back({begin, end});
  for (SplitRule rule : rules_) {
    scratch->clear();
    for (const Span& p : pieces) SplitOne(rule, text.text, p, scratch);
    pieces.swap(*scratch);
  }
  out->insert(out->end(), pieces.begin(), pieces.end());
}

}  // namespace fff::tok
