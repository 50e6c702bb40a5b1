// Normalizers and their alignment maps (HF's NormalizedString semantics),
// and the Replace patterns fff supports. Expected alignments were read off
// HF (tokens' offsets through the npm binding).
#include "src/tokenizer/normalizer.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "src/tokenizer/replace_pattern.h"

namespace fff::tok {
namespace {

// (normalised text, input range of every normalised byte)
using Aligned =
    std::pair<std::string, std::vector<std::pair<uint32_t, uint32_t>>>;

Aligned Apply(const Normalizer& n, const std::string& input,
              uint32_t base = 0) {
  NormalizedText text, scratch;
  text.Assign(input, base);
  n.Apply(&text, &scratch);
  EXPECT_EQ(text.align.size(), text.text.size());
  std::vector<std::pair<uint32_t, uint32_t>> align;
  for (const Alignment& a : text.align) align.emplace_back(a.begin, a.end);
  bool ascii = true;
  for (char c : text.text)
    ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  EXPECT_EQ(text.ascii, ascii) << "ascii flag out of date for " << text.text;
  return {text.text, align};
}

std::unique_ptr<Normalizer> Replace(const std::string& regex,
                                    const std::string& content) {
  auto p = ReplacePattern::FromRegex(regex);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return MakeReplace(std::move(*p), content);
}

TEST(TokenizerNormalizedTextTest, AssignIsIdentityPerCharacter) {
  NormalizedText t;
  t.Assign("a\xc3\xa9z", 10);
  EXPECT_FALSE(t.ascii);
  ASSERT_EQ(t.align.size(), 4u);
  EXPECT_EQ(t.align[0], (Alignment{10, 11}));
  EXPECT_EQ(t.align[1], (Alignment{11, 13}));
  EXPECT_EQ(t.align[2], (Alignment{11, 13}));
  EXPECT_EQ(t.InputRange(1, 4), (Alignment{11, 14}));
}

TEST(TokenizerNormalizedTextTest, TransformerFollowsHfChangeMarkers) {
  NormalizedText src, dst;
  src.Assign("abc", 0);
  Transformer t(src, &dst);
  t.Emit('X', 0);   // replaces a
  t.Emit('Y', 1);   // inserted: takes a's alignment (last consumed)
  t.Emit('Z', -1);  // replaces b, drops c
  EXPECT_EQ(dst.text, "XYZ");
  EXPECT_EQ(dst.align[0], (Alignment{0, 1}));
  EXPECT_EQ(dst.align[1], (Alignment{0, 1}));
  EXPECT_EQ(dst.align[2], (Alignment{1, 2}));
  NormalizedText skipped;
  Transformer s(src, &skipped, /*skip_chars=*/2);
  s.Emit('q', 0);
  EXPECT_EQ(skipped.align[0], (Alignment{2, 3}));
}

TEST(TokenizerNormalizerTest, ReplaceContentTakesTheLastMatchedCharacter) {
  // HF: "``hi''" gives '"' at (1, 2) and (5, 6).
  auto r = Apply(*MakeReplace(ReplacePattern::Literal("``"), "\""), "``hi``");
  EXPECT_EQ(r.first, "\"hi\"");
  EXPECT_EQ(r.second[0], std::make_pair(1u, 2u));
  EXPECT_EQ(r.second[3], std::make_pair(5u, 6u));
  r = Apply(*Replace(" {2,}", " "), "a   b  c d");
  EXPECT_EQ(r.first, "a b c d");
  EXPECT_EQ(r.second[1], std::make_pair(3u, 4u));
  r = Apply(*Replace("[^\\x00-\\x7F]+", ""), "a\xc3\xa9\xe2\x82\xac b\xc3\xbc");
  EXPECT_EQ(r.first, "a b");
  EXPECT_EQ(r.second[1], std::make_pair(6u, 7u));
  r = Apply(*MakeReplace(ReplacePattern::Literal("x"), "\xc3\xa9\xc3\xa9"),
            "axb");
  EXPECT_EQ(r.first,
            "a\xc3\xa9\xc3\xa9"
            "b");
  EXPECT_EQ(r.second[4], std::make_pair(1u, 2u));
}

TEST(TokenizerNormalizerTest, LowercaseIsPerCodePoint) {
  auto r = Apply(*MakeLowercase(), "\xc4\xb0x");  // İx -> i + U+0307 + x
  EXPECT_EQ(r.first, "i\xcc\x87x");
  EXPECT_EQ(r.second[0], std::make_pair(0u, 2u));
  EXPECT_EQ(r.second[1], std::make_pair(0u, 2u));
  EXPECT_EQ(r.second[3], std::make_pair(2u, 3u));
  EXPECT_EQ(Apply(*MakeLowercase(), "\xce\x9f\xce\x94\xce\x9f\xce\xa3").first,
            "\xce\xbf\xce\xb4\xce\xbf\xcf\x83");  // ΟΔΟΣ -> οδοσ, no final ς
  EXPECT_EQ(Apply(*MakeLowercase(), "ABC xyz").first, "abc xyz");
}

TEST(TokenizerNormalizerTest, DecompositionAndComposition) {
  auto nfd = MakeUnicodeNormalizer(UnicodeForm::kNfd);
  auto r = Apply(*nfd, "\xc3\xa9x");  // é -> e + U+0301, both from é
  EXPECT_EQ(r.first, "e\xcc\x81x");
  EXPECT_EQ(r.second[0], std::make_pair(0u, 2u));
  EXPECT_EQ(r.second[1], std::make_pair(0u, 2u));
  // Canonical reordering moves characters, not alignments.
  r = Apply(*nfd, "a\xcc\x81\xcc\xa3");  // a U+0301 U+0323
  EXPECT_EQ(r.first, "a\xcc\xa3\xcc\x81");
  EXPECT_EQ(r.second[1], std::make_pair(1u, 3u));
  EXPECT_EQ(r.second[3], std::make_pair(3u, 5u));
  auto nfc = MakeUnicodeNormalizer(UnicodeForm::kNfc);
  r = Apply(*nfc, "e\xcc\x81x");  // HF aligns the composite with the 'e' only
  EXPECT_EQ(r.first, "\xc3\xa9x");
  EXPECT_EQ(r.second[0], std::make_pair(0u, 1u));
  EXPECT_EQ(Apply(*nfc, "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8").first,
            "\xea\xb0\x81");  // conjoining jamo -> 각
  auto nfkc = MakeUnicodeNormalizer(UnicodeForm::kNfkc);
  r = Apply(*nfkc, "\xef\xac\x81x");  // ﬁx -> fix, f and i both from ﬁ
  EXPECT_EQ(r.first, "fix");
  EXPECT_EQ(r.second[1], std::make_pair(0u, 3u));
  EXPECT_EQ(Apply(*nfkc, "abc").first, "abc");
}

TEST(TokenizerNormalizerTest, StripAccentsAndBert) {
  auto r = Apply(*MakeStripAccents(), "e\xcc\x81\xcc\xa3z");
  EXPECT_EQ(r.first, "ez");
  EXPECT_EQ(r.second[1], std::make_pair(5u, 6u));
  auto bert = MakeBertNormalizer({});
  r = Apply(*bert, "A\tB\x01\xe4\xb8\xad\xc3\x89");  // A\tB^A中É
  EXPECT_EQ(r.first, "a b \xe4\xb8\xad e");
  EXPECT_EQ(r.second[3], std::make_pair(4u, 7u));  // space before 中
  EXPECT_EQ(r.second[7], std::make_pair(4u, 7u));  // space after 中
  EXPECT_EQ(r.second[8], std::make_pair(7u, 9u));  // e from É
  BertNormalizerOptions keep_case;
  keep_case.lowercase = false;
  keep_case.strip_accents = false;
  EXPECT_EQ(Apply(*MakeBertNormalizer(keep_case), "Caf\xc3\xa9\r\n").first,
            "Caf\xc3\xa9  ");
  EXPECT_EQ(Apply(*bert, "\xe3\x80\x80x\xc2\x85y").first, " xy");
}

TEST(TokenizerNormalizerTest, ChainAppliesInOrder) {
  NormalizerChain chain;
  chain.Add(MakeUnicodeNormalizer(UnicodeForm::kNfd));
  chain.Add(MakeLowercase());
  chain.Add(MakeStripAccents());
  chain.Add(Replace("[^\\x00-\\x7F]+", ""));
  NormalizedText text, scratch;
  text.Assign("\xc3\x85ngstr\xc3\xb6m \xe6\x97\xa5", 0);
  chain.Apply(&text, &scratch);
  EXPECT_EQ(text.text, "angstrom ");
  EXPECT_TRUE(text.ascii);
}

TEST(TokenizerReplacePatternTest, ParsesTheSupportedSubset) {
  struct Case {
    std::string regex, text;
    std::vector<std::pair<size_t, size_t>> matches;
  };
  const std::vector<Case> cases = {
      {" {2,}", "a  b   c d", {{1, 3}, {4, 7}}},
      {" {2,3}", "a     b", {{1, 4}, {4, 6}}},
      {"x{2}", "xxxxx", {{0, 2}, {2, 4}}},
      {"[^\\x00-\\x7F]+", "a\xc3\xa9\xc3\xa9 b\xe2\x82\xac", {{1, 5}, {7, 10}}},
      {"[a-c\\-]+", "zab-cz-", {{1, 5}, {6, 7}}},
      {"\\.+", "a...b.", {{1, 4}, {5, 6}}},
      {"\\u00e9", "\xc3\xa9t\xc3\xa9", {{0, 2}, {3, 5}}},
      {"[\\x{263A}]", "x\xe2\x98\xba", {{1, 4}}},
      {"ab", "abab", {{0, 2}, {2, 4}}},
      {"\\t", "a\tb", {{1, 2}}},
  };
  for (const Case& c : cases) {
    auto p = ReplacePattern::FromRegex(c.regex);
    ASSERT_TRUE(p.ok()) << c.regex << ": " << p.status().ToString();
    std::vector<std::pair<size_t, size_t>> m;
    p->FindMatches(c.text, false, &m);
    EXPECT_EQ(m, c.matches) << c.regex;
  }
  for (const char* bad : {"", "\\s+", "a|b", "(a)", "a*", "a?", "a+?", "[]",
                          "[a", "x{0,2}", "x{3,2}", "[\\x80-\\xff]", ".", "^a",
                          "ab+", "\\d", "[[:alpha:]]", "a{2", "\\"}) {
    auto p = ReplacePattern::FromRegex(bad);
    EXPECT_FALSE(p.ok()) << "accepted " << bad;
    if (!p.ok()) {
      EXPECT_NE(p.status().message().find("unsupported regex"),
                std::string::npos);
    }
  }
}

}  // namespace
}  // namespace fff::tok
