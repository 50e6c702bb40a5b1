// WordPieceTrainer: the written tokenizer.json loads, special tokens come
// first, the alphabet is complete (no training word encodes to <unk>),
// frequent words become single tokens, merges follow HF's BPE rules
// (hand-checked small cases), the output is deterministic however the text
// is split, and bad options / text give clear errors.
//
// Cross-checked once by hand against HuggingFace `tokenizers` 0.23.2 (npm
// binding, /tmp/npmtok; CI has no node): vocabularies of 8192 and 32768
// trained on the first 30 MB / 50 MB of
// ../shared/data/corpus/wikipedia-en-2015/train.txt.xz loaded in HF
// (Tokenizer.fromFile) and encoded 600 paragraphs (300 lines each of
// gutenberg/valid and wikipedia-en-2015/valid) plus brown (400 lines) and
// the valid-UTF-8 lines of tests/data/tokenizer/corpus.txt (edge cases:
// accents, CJK, emoji, special-token literals, words over 100 characters)
// to exactly the ids fff::Tokenizer gives (`cmp` of the id files: equal).
// HF's own trainer (Tokenizer.train with its default WordPieceTrainer,
// min_frequency 0) on the two MergesFollowBpeRules texts gives the same
// token sets as below (its ids differ: HF numbers ## characters in hash
// order).
#include "fff/wordpiece_trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fff/tokenizer.h"
#include "tests/testing/expect_status.h"

namespace fff {
namespace {

using ::fff::testing::ExpectError;

const std::vector<std::string> kSpecials = {"<pad>", "<s>",   "</s>",  "<unk>",
                                            "<cls>", "<sep>", "<mask>"};

// A few paragraphs with repeated words, accents, `` '' quotes, double
// spaces, non-ASCII that the normaliser deletes, punctuation runs and a
// literal special token.
const char* const kText[] = {
    "The quick brown fox jumps over the lazy dog. The dog sleeps.",
    "Caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9: the fox, the dog, the "
    "cat.",
    "``Quoted,'' she said -- and  then   left... (again!)",
    "Numbers 1234 and 56.78 appear; the year 1999 was before 2000.",
    "\xe4\xbd\xa0\xe5\xa5\xbd world \xf0\x9f\x98\x80 emoji <mask> token",
    "The the THE tHe thee thesis these those this that there then.",
    "Running runner runs ran; jumping jumper jumps jumped.",
};

std::string JoinedText() {
  std::string all;
  for (const char* line : kText) {
    all += line;
    all += '\n';
  }
  return all;
}

WordPieceTrainerOptions Options(int32_t vocab_size, int64_t min_frequency) {
  WordPieceTrainerOptions o;
  o.vocab_size = vocab_size;
  o.min_frequency = min_frequency;
  return o;
}

std::string Train(const WordPieceTrainerOptions& o,
                  const std::vector<std::string>& texts) {
  auto trainer = WordPieceTrainer::Create(o);
  EXPECT_TRUE(trainer.ok()) << trainer.status().ToString();
  if (!trainer.ok()) return "";
  for (const std::string& t : texts) {
    const Status s = trainer->AddText(t);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  auto json = trainer->TrainTokenizerJson();
  EXPECT_TRUE(json.ok()) << json.status().ToString();
  return json.ok() ? *json : "";
}

Tokenizer Load(const std::string& json) {
  auto tok = Tokenizer::FromTokenizerJsonString(json, "trained.json");
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return std::move(tok).value();
}

std::vector<std::string> Tokens(const Tokenizer& tok) {
  std::vector<std::string> out;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    out.push_back(tok.IdToToken(id));
  }
  return out;
}

std::vector<int32_t> Ids(const Tokenizer& tok, const std::string& text) {
  EncodeOptions no_special;
  no_special.add_special_tokens = false;
  auto enc = tok.Encode(text, no_special);
  EXPECT_TRUE(enc.ok()) << enc.status().ToString();
  return enc.ok() ? enc->ids : std::vector<int32_t>{};
}

TEST(WordPieceTrainerTest, RoundTripSpecialsAndVocabSize) {
  const std::string json = Train(Options(120, 2), {JoinedText()});
  const Tokenizer tok = Load(json);
  EXPECT_LE(tok.vocab_size(), 120);
  EXPECT_GT(tok.vocab_size(), static_cast<int32_t>(kSpecials.size()));
  for (size_t i = 0; i < kSpecials.size(); ++i) {
    EXPECT_EQ(tok.TokenToId(kSpecials[i]), static_cast<int32_t>(i))
        << kSpecials[i];
  }
  const SpecialTokenIds& ids = tok.special_ids();
  EXPECT_EQ(ids.pad, 0);
  EXPECT_EQ(ids.unk, 3);
  EXPECT_EQ(ids.cls, 4);
  EXPECT_EQ(ids.sep, 5);
  EXPECT_EQ(ids.mask, 6);
  // Templates: single `$A <sep>`, pair `<cls> $A <sep> $B <sep>`.
  auto single = tok.Encode("the dog");
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->ids.back(), 5);
  EXPECT_NE(single->ids.front(), 4);
  auto pair = tok.EncodePair("the", "dog");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->ids.front(), 4);
  EXPECT_EQ(pair->ids.back(), 5);
  // A literal special token in text is that token.
  EXPECT_EQ(Ids(tok, "<mask>"), std::vector<int32_t>{6});

  // Through a file too.
  const auto path = std::filesystem::temp_directory_path() /
                    ("fff_wpt_" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream out(path, std::ios::binary);
    out << json;
  }
  auto from_file = Tokenizer::FromTokenizerJson(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  EXPECT_EQ(Tokens(*from_file), Tokens(tok));
}

TEST(WordPieceTrainerTest, AlphabetCompleteAndFrequentWordsSingleTokens) {
  const std::string json = Train(Options(400, 2), {JoinedText()});
  const Tokenizer tok = Load(json);
  for (const char* line : kText) {
    for (int32_t id : Ids(tok, line)) {
      EXPECT_NE(id, tok.special_ids().unk) << "in: " << line;
    }
  }
  // Words that occur several times (case-folded) are single tokens.
  for (const char* word : {"the", "dog", "fox", "jumps"}) {
    const std::vector<int32_t> ids = Ids(tok, word);
    ASSERT_EQ(ids.size(), 1u) << word;
    EXPECT_EQ(tok.IdToToken(ids[0]), word);
  }
  // Decoding gives the normalised text back.
  const std::vector<int32_t> ids = Ids(tok, "The quick brown fox jumps");
  auto text = tok.Decode(ids);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "the quick brown fox jumps");
}

TEST(WordPieceTrainerTest, NormalisationMatchesTheWrittenPipeline) {
  // Non-ASCII is deleted, accents stripped, quotes replaced, special-token
  // literals not counted: the alphabet is exactly what the file encodes.
  const Tokenizer tok = Load(
      Train(Options(1000, 1000), {"Caf\xc3\xa9 ``x'' \xe4\xbd\xa0 <mask>"}));
  const std::vector<std::string> expected = {
      "<pad>", "<s>", "</s>", "<unk>", "<cls>", "<sep>", "<mask>", "\"",
      "a",     "c",   "e",    "f",     "x",     "##a",   "##e",    "##f"};
  EXPECT_EQ(Tokens(tok), expected);
}

TEST(WordPieceTrainerTest, MergesFollowBpeRules) {
  // "ab" x3 and "abc" x1: (a, ##b) occurs 4 times, (##b, ##c) once, which is
  // below min_frequency 2. Every character appears bare; ## forms only for
  // those seen after the first character.
  {
    const Tokenizer tok = Load(Train(Options(1000, 2), {"ab ab ab abc"}));
    const std::vector<std::string> expected = {
        "<pad>", "<s>", "</s>", "<unk>", "<cls>", "<sep>", "<mask>",
        "a",     "b",   "c",    "##b",   "##c",   "ab"};
    EXPECT_EQ(Tokens(tok), expected);
  }
  // "aaaa" x3: a ##a ##a ##a. (##a, ##a) counts 6 (overlapping pairs) and
  // merges left to right: a ##aa ##a. Then (a, ##aa) and (##aa, ##a) tie at
  // 3; the lower pair of ids, (a, ##aa), wins: aaa ##a, then aaaa.
  {
    const Tokenizer tok = Load(Train(Options(1000, 2), {"aaaa aaaa aaaa"}));
    const std::vector<std::string> expected = {
        "<pad>",  "<s>", "</s>", "<unk>", "<cls>", "<sep>",
        "<mask>", "a",   "##a",  "##aa",  "aaa",   "aaaa"};
    EXPECT_EQ(Tokens(tok), expected);
  }
  // vocab_size stops the merges.
  {
    const Tokenizer tok = Load(Train(Options(10, 1), {"aaaa aaaa aaaa"}));
    EXPECT_EQ(tok.vocab_size(), 10);
    EXPECT_EQ(tok.IdToToken(9), "##aa");
  }
}

TEST(WordPieceTrainerTest, LongWordsAreSkipped) {
  WordPieceTrainerOptions o = Options(1000, 1);
  o.max_chars_per_word = 5;
  const Tokenizer tok = Load(Train(o, {"abcde xyzuvw"}));
  EXPECT_TRUE(tok.TokenToId("abcde").has_value());
  EXPECT_FALSE(tok.TokenToId("x").has_value());
  EXPECT_EQ(Ids(tok, "xyzuvw"), std::vector<int32_t>{3});
}

TEST(WordPieceTrainerTest, DeterministicHoweverTheTextIsSplit) {
  const WordPieceTrainerOptions o = Options(150, 2);
  const std::string whole = Train(o, {JoinedText()});
  std::vector<std::string> lines;
  for (const char* line : kText) lines.emplace_back(line);
  std::vector<std::string> reversed(lines.rbegin(), lines.rend());
  EXPECT_EQ(Train(o, {JoinedText()}), whole);
  EXPECT_EQ(Train(o, lines), whole);
  EXPECT_EQ(Train(o, reversed), whole);

  auto trainer = WordPieceTrainer::Create(o);
  ASSERT_TRUE(trainer.ok());
  ASSERT_TRUE(trainer->AddText(JoinedText()).ok());
  auto first = trainer->TrainTokenizerJson();
  auto second = trainer->TrainTokenizerJson();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, whole);
  EXPECT_EQ(*second, whole);
}

TEST(WordPieceTrainerTest, TrainsOnTheTokenizerCorpus) {
  std::ifstream in(std::string(FFF_TEST_DATA_DIR) + "/tokenizer/corpus.txt",
                   std::ios::binary);
  ASSERT_TRUE(in) << "tests/data/tokenizer/corpus.txt";
  auto trainer = WordPieceTrainer::Create(Options(600, 2));
  ASSERT_TRUE(trainer.ok());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    // Lines with invalid UTF-8 are rejected, the rest counted.
    if (trainer->AddText(line).ok()) lines.push_back(line);
  }
  EXPECT_GT(trainer->n_words(), 5000);
  int calls = 0;
  WordPieceTrainProgress last;
  auto json = trainer->TrainTokenizerJson([&](const WordPieceTrainProgress& p) {
    ++calls;
    last = p;
  });
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  const Tokenizer tok = Load(*json);
  EXPECT_EQ(tok.vocab_size(), 600);
  EXPECT_GE(calls, 1);
  EXPECT_EQ(last.vocab_size, 600);
  EXPECT_EQ(last.target_size, 600);
  for (const std::string& line : lines) {
    EncodeOptions no_special;
    no_special.add_special_tokens = false;
    auto enc = tok.Encode(line, no_special);
    ASSERT_TRUE(enc.ok());
    for (size_t i = 0; i < enc->ids.size(); ++i) {
      if (enc->ids[i] != tok.special_ids().unk) continue;
      // Only words over 100 characters (and a literal "<unk>") are unknown.
      const auto [b, e] = enc->offsets[i];
      if (line.substr(b, e - b) == "<unk>") continue;
      EXPECT_GT(e - b, 100u) << line.substr(b, e - b);
    }
  }
}

TEST(WordPieceTrainerTest, VocabTooSmallForAlphabet) {
  auto trainer = WordPieceTrainer::Create(Options(12, 2));
  ASSERT_TRUE(trainer.ok());
  ASSERT_TRUE(trainer->AddText("abc def").ok());
  ExpectError(trainer->TrainTokenizerJson().status(),
              StatusCode::kInvalidArgument,
              {"vocab_size 12", "7 special tokens", "10 alphabet tokens"});
}

TEST(WordPieceTrainerTest, InvalidUtf8NamesTheOffset) {
  auto trainer = WordPieceTrainer::Create(Options(100, 2));
  ASSERT_TRUE(trainer.ok());
  ASSERT_TRUE(trainer->AddText("hello").ok());
  ExpectError(trainer->AddText("ab\xff"
                               "cd"),
              StatusCode::kInvalidArgument,
              {"invalid UTF-8 at byte 2", "byte 7 of all text"});
  ExpectError(trainer->AddText("\xe2\x82"), StatusCode::kInvalidArgument,
              {"byte 0"});
  EXPECT_EQ(trainer->n_words(), 1);  // nothing of the bad texts counted
}

TEST(WordPieceTrainerTest, BadOptions) {
  const auto create = [](auto edit) {
    WordPieceTrainerOptions o;
    edit(o);
    return WordPieceTrainer::Create(o).status();
  };
  ExpectError(create([](auto& o) { o.vocab_size = 0; }),
              StatusCode::kInvalidArgument, {"vocab_size", "got 0"});
  ExpectError(create([](auto& o) { o.min_frequency = 0; }),
              StatusCode::kInvalidArgument, {"min_frequency", "got 0"});
  ExpectError(create([](auto& o) { o.max_chars_per_word = 0; }),
              StatusCode::kInvalidArgument, {"max_chars_per_word"});
  ExpectError(create([](auto& o) { o.special_tokens.push_back("<s>"); }),
              StatusCode::kInvalidArgument, {"special_tokens[7]", "repeats"});
  ExpectError(create([](auto& o) { o.special_tokens.push_back(""); }),
              StatusCode::kInvalidArgument, {"special_tokens[7]", "empty"});
  ExpectError(create([](auto& o) { o.special_tokens.push_back("\xff"); }),
              StatusCode::kInvalidArgument, {"special_tokens[7]", "UTF-8"});
  ExpectError(create([](auto& o) { o.unk_token = "[UNK]"; }),
              StatusCode::kInvalidArgument, {"unk_token", "[UNK]"});
  ExpectError(create([](auto& o) {
                o.special_tokens.erase(o.special_tokens.begin() + 5);
              }),
              StatusCode::kInvalidArgument, {"sep_token", "<sep>"});
}

TEST(WordPieceTrainerTest, EmptyTextGivesSpecialsOnly) {
  const Tokenizer tok = Load(Train(Options(100, 2), {"", "   \n"}));
  EXPECT_EQ(Tokens(tok), kSpecials);
  EXPECT_EQ(Ids(tok, "abc"), std::vector<int32_t>{3});
}

}  // namespace
}  // namespace fff
