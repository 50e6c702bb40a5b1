// WordPiece (and its vocabulary table), the pre-tokenizer rules, and the
// post-processor: template assembly and HF's LongestFirst truncation.
#include "src/tokenizer/wordpiece.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/tokenizer/post_processor.h"
#include "src/tokenizer/pre_tokenizer.h"

namespace fff::tok {
namespace {

WordPiece MakeModel(std::vector<std::pair<std::string, int32_t>> vocab,
                    std::string prefix = "##", size_t max_chars = 100) {
  auto wp = WordPiece::Create(std::move(vocab), "[UNK]", std::move(prefix),
                              max_chars);
  EXPECT_TRUE(wp.ok()) << wp.status().ToString();
  return std::move(*wp);
}

std::vector<int32_t> Ids(const WordPiece& wp, std::string_view piece) {
  std::vector<WordPieceToken> out;
  wp.Tokenize(piece, &out);
  std::vector<int32_t> ids;
  for (const auto& t : out) ids.push_back(t.id);
  return ids;
}

TEST(TokenizerVocabTableTest, FindsEveryKeyAndOnlyThem) {
  std::vector<std::pair<std::string, int32_t>> entries;
  for (int i = 0; i < 5000; ++i)
    entries.emplace_back("tok" + std::to_string(i), i);
  entries.emplace_back("", 5000);
  entries.emplace_back("tok7", 70);  // a later duplicate wins
  VocabTable table;
  table.Build(entries);
  EXPECT_EQ(table.size(), 5001u);
  for (int i = 0; i < 5000; ++i) {
    EXPECT_EQ(table.Find("tok" + std::to_string(i)), i == 7 ? 70 : i);
  }
  EXPECT_EQ(table.Find(""), 5000);
  EXPECT_EQ(table.Find("tok"), -1);
  EXPECT_EQ(table.Find("tok50000"), -1);
  EXPECT_EQ(table.max_key_bytes(), 7u);
  VocabTable empty;
  EXPECT_EQ(empty.Find("x"), -1);
}

TEST(TokenizerWordPieceTest, GreedyLongestMatchFirst) {
  const WordPiece wp = MakeModel({{"[UNK]", 0},
                                  {"un", 1},
                                  {"##aff", 2},
                                  {"##able", 3},
                                  {"unaff", 4},
                                  {"##a", 5},
                                  {"caf\xc3\xa9", 6},
                                  {"caf", 7},
                                  {"##\xc3\xa9", 8}});
  EXPECT_EQ(Ids(wp, "unaffable"), std::vector<int32_t>({4, 3}));
  EXPECT_EQ(Ids(wp, "unable"), std::vector<int32_t>({1, 3}));
  EXPECT_EQ(Ids(wp, "unx"), std::vector<int32_t>({0})) << "uncoverable";
  EXPECT_EQ(Ids(wp, "caf\xc3\xa9"), std::vector<int32_t>({6}));
  EXPECT_EQ(Ids(wp, "caf\xc3\xa9\xc3\xa9"), std::vector<int32_t>({6, 8}));
  std::vector<WordPieceToken> out;
  wp.Tokenize("unaffa", &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].begin, 5u);
  EXPECT_EQ(out[1].end, 6u);
  out.clear();
  wp.Tokenize("unx", &out);
  EXPECT_EQ(out[0].end, 3u) << "unk covers the whole piece";
  EXPECT_EQ(wp.IdToToken(4), "unaff");
  EXPECT_FALSE(wp.IdToToken(99).has_value());
  EXPECT_EQ(wp.max_id(), 8);
}

TEST(TokenizerWordPieceTest, MaxCharsCountsCodePoints) {
  const WordPiece wp =
      MakeModel({{"[UNK]", 0}, {"\xc3\xa9", 1}, {"##\xc3\xa9", 2}}, "##", 3);
  EXPECT_EQ(Ids(wp, "\xc3\xa9\xc3\xa9\xc3\xa9"),
            std::vector<int32_t>({1, 2, 2}));
  EXPECT_EQ(Ids(wp, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
            std::vector<int32_t>({0}));
}

TEST(TokenizerWordPieceTest, EmptyPrefixAndMissingUnk) {
  const WordPiece wp = MakeModel({{"[UNK]", 0}, {"ab", 1}, {"c", 2}}, "");
  EXPECT_EQ(Ids(wp, "abc"), std::vector<int32_t>({1, 2}));
  auto bad = WordPiece::Create({{"a", 0}}, "[UNK]", "##", 100);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

std::vector<std::string> Pieces(std::initializer_list<SplitRule> rules,
                                const std::string& s) {
  PreTokenizer p;
  for (SplitRule r : rules) p.Add(r);
  NormalizedText text;
  text.Assign(s, 0);
  std::vector<Span> spans, scratch;
  p.Split(text, 0, static_cast<uint32_t>(s.size()), &spans, &scratch);
  std::vector<std::string> out;
  for (const Span& sp : spans)
    out.push_back(s.substr(sp.begin, sp.end - sp.begin));
  return out;
}

TEST(TokenizerPreTokenizerTest, Rules) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Pieces({SplitRule::kWhitespace}, "Hey man!! it's_ok\xc3\xa9."),
            V({"Hey", "man", "!!", "it", "'", "s_ok\xc3\xa9", "."}));
  EXPECT_EQ(Pieces({SplitRule::kWhitespaceSplit},
                   " a,b  c\xe3\x80\x80"
                   "d "),
            V({"a,b", "c", "d"}));
  EXPECT_EQ(
      Pieces({SplitRule::kBert}, "Hey friend!  How?!? \xe3\x80\x82x"),
      V({"Hey", "friend", "!", "How", "?", "!", "?", "\xe3\x80\x82", "x"}));
  EXPECT_EQ(Pieces({SplitRule::kWhitespaceSplit, SplitRule::kBert}, "a.b c"),
            V({"a", ".", "b", "c"}));
  EXPECT_EQ(Pieces({}, " as is "), V({" as is "}));
  EXPECT_EQ(Pieces({SplitRule::kWhitespace}, "  \t "), V({}));
}

SequenceTokens Seq(size_t n, std::vector<uint32_t> word_ends = {}) {
  SequenceTokens s;
  for (size_t i = 0; i < n; ++i) {
    s.ids.push_back(static_cast<int32_t>(i));
    s.offsets.emplace_back(i, i + 1);
  }
  if (word_ends.empty()) {
    for (size_t i = 1; i <= n; ++i)
      word_ends.push_back(static_cast<uint32_t>(i));
  }
  for (uint32_t e : word_ends) {
    s.split_ends.push_back(e);
    s.split_is_added.push_back(0);
  }
  return s;
}

TEST(TokenizerPostProcessorTest, LongestFirstAsHf) {
  struct Case {
    size_t a, b, budget, want_a, want_b;
  };
  for (const Case& c : std::vector<Case>{{10, 2, 6, 4, 2},
                                         {2, 10, 6, 2, 4},
                                         {10, 10, 5, 2, 3},
                                         {10, 9, 5, 3, 2},
                                         {3, 3, 6, 3, 3},
                                         {4, 4, 0, 0, 0},
                                         {7, 0, 4, 4, 0}}) {
    SequenceTokens a = Seq(c.a), b = Seq(c.b);
    const size_t dropped = TruncateLongestFirst(c.budget, 1000, &a, &b);
    EXPECT_EQ(a.size(), c.want_a) << c.a << "+" << c.b << " in " << c.budget;
    EXPECT_EQ(b.size(), c.want_b) << c.a << "+" << c.b << " in " << c.budget;
    EXPECT_EQ(dropped, c.a + c.b - a.size() - b.size());
  }
  // HF judges "longest" on the lengths its early stop leaves: a is 12
  // tokens in words of 6, b 10 tokens in words of 1; with max_length 8 HF
  // sees a as 12 and b as 8, so b is "shorter" and gets the smaller half.
  SequenceTokens a = Seq(12, {6, 12}), b = Seq(10);
  TruncateLongestFirst(5, 8, &a, &b);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(b.size(), 2u);
  SequenceTokens single = Seq(9);
  EXPECT_EQ(TruncateLongestFirst(4, 6, &single, nullptr), 5u);
  EXPECT_EQ(single.size(), 4u);
}

TEST(TokenizerPostProcessorTest, TemplateAssembly) {
  const TemplatePiece cls{false, 0, {101}, "[CLS]", 0};
  const TemplatePiece sep{false, 0, {102, 103}, "[SEP]", 0};
  const TemplatePiece a{true, 0, {}, "A", 0}, b{true, 1, {}, "B", 1};
  const PostProcessor post({cls, a, sep}, {b, sep, a});
  EXPECT_EQ(post.NumSpecialTokens(false), 3u);
  EXPECT_EQ(post.NumSpecialTokens(true), 2u);
  int32_t c, s;
  post.FindClsSep(&c, &s);  // around $A: pair first, then single
  EXPECT_EQ(c, 102);
  EXPECT_EQ(s, 102);
  PostProcessor({a, sep}, {cls, a, sep, b, sep}).FindClsSep(&c, &s);
  EXPECT_EQ(c, 101);
  EXPECT_EQ(s, 102);
  PostProcessor({a}, {a, b}).FindClsSep(&c, &s);
  EXPECT_EQ(c, -1);
  EXPECT_EQ(s, -1);
  Encoding e;
  const SequenceTokens x = Seq(2), y = Seq(1);
  post.Assemble(x, &y, true, &e);
  EXPECT_EQ(e.ids, std::vector<int32_t>({0, 102, 103, 0, 1}));
  EXPECT_EQ(e.type_ids, std::vector<int32_t>({1, 0, 0, 0, 0}));
  EXPECT_EQ(e.sequence_ids, std::vector<int32_t>({1, -1, -1, 0, 0}));
  EXPECT_EQ(e.special_tokens_mask, std::vector<uint8_t>({0, 1, 1, 0, 0}));
  EXPECT_EQ(e.offsets[1], std::make_pair(0u, 0u));
  post.Assemble(x, nullptr, false, &e);
  EXPECT_EQ(e.ids, std::vector<int32_t>({0, 1}));
  EXPECT_EQ(e.attention_mask, std::vector<uint8_t>({1, 1}));
  const PostProcessor none;
  none.Assemble(x, &y, true, &e);
  EXPECT_EQ(e.type_ids, std::vector<int32_t>({0, 0, 1}));
  EXPECT_EQ(none.NumSpecialTokens(true), 0u);
}

}  // namespace
}  // namespace fff::tok
