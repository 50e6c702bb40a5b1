// The tokenizer against HuggingFace `tokenizers` itself: every golden record
// (made by python/reference/hf_tokenizer_goldens.js from corpus.txt) must
// match exactly, ids, type ids and byte offsets, for both tokenizer files;
// plus the API's contracts and bad input (files and texts), which must give
// a Status naming the file/field or byte, never a crash.
#include "tests/testing/expect_status.h"
#include "fff/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fff {
namespace {

using ::fff::testing::ExpectError;

using nlohmann::json;

const std::string kDataDir = FFF_TEST_DATA_DIR;
const std::string kTinyJson = kDataDir + "/tiny/tokenizer.json";
const std::string kBertDir =
    kDataDir + "/../../../shared/data/tokenizer/bert-base-uncased-wordpiece";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<std::string> ReadLines(const std::string& path) {
  const std::string text = ReadFile(path);
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return lines;
}

// C-style escapes for non-printable and non-ASCII bytes, for messages.
std::string Escaped(std::string_view s) {
  std::string out;
  char buf[8];
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
    } else {
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

template <class T>
std::string Join(const std::vector<T>& v) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size(); ++i) os << (i ? " " : "") << +v[i];
  return os.str();
}

std::vector<int32_t> Ints(const json& r, const char* key, size_t n,
                          int32_t fill) {
  if (!r.contains(key)) return std::vector<int32_t>(n, fill);
  return r[key].get<std::vector<int32_t>>();
}

// First index where the two sequences differ, or -1.
template <class A, class B>
long FirstDifference(const A& a, const B& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<long>(a[i]) != static_cast<long>(b[i])) {
      return static_cast<long>(i);
    }
  }
  return a.size() == b.size() ? -1 : static_cast<long>(n);
}

// Compares one golden record with fff's encoding; returns "" when equal.
std::string CompareRecord(const json& r, const Encoding& e) {
  const size_t n = r["ids"].size();
  std::vector<int32_t> offsets;
  for (const auto& [b, end] : e.offsets) {
    offsets.push_back(static_cast<int32_t>(b));
    offsets.push_back(static_cast<int32_t>(end));
  }
  std::vector<std::pair<std::string,
                        std::pair<std::vector<int32_t>, std::vector<int32_t>>>>
      fields = {
          {"ids", {Ints(r, "ids", n, 0), e.ids}},
          {"type_ids", {Ints(r, "type_ids", n, 0), e.type_ids}},
          {"offsets", {Ints(r, "offsets", 2 * n, 0), offsets}},
      };
  if (r.contains("special_mask")) {
    fields.push_back(
        {"special_mask",
         {Ints(r, "special_mask", n, 0),
          {e.special_tokens_mask.begin(), e.special_tokens_mask.end()}}});
    fields.push_back(
        {"sequence_ids", {Ints(r, "sequence_ids", n, 0), e.sequence_ids}});
  }
  for (const auto& [name, values] : fields) {
    const long at = FirstDifference(values.first, values.second);
    if (at >= 0) {
      return name + " differ at position " + std::to_string(at) +
             "\n  HF : " + Join(values.first) +
             "\n  fff: " + Join(values.second);
    }
  }
  if (r.contains("n_truncated") &&
      r["n_truncated"].get<size_t>() != e.n_truncated) {
    return "n_truncated: HF " + r["n_truncated"].dump() + ", fff " +
           std::to_string(e.n_truncated);
  }
  if (e.attention_mask != std::vector<uint8_t>(e.ids.size(), 1)) {
    return "attention_mask is not all 1";
  }
  return "";
}

struct ParityResult {
  size_t records = 0, matched = 0;
};

// Checks every record of `golden`; records naming a "variant" use that
// tokenizer of `variants`, the others `tok`.
ParityResult CheckGoldens(
    const Tokenizer* tok, const std::string& golden,
    const std::map<std::string, const Tokenizer*>& variants = {}) {
  const std::vector<std::string> corpus =
      ReadLines(kDataDir + "/tokenizer/corpus.txt");
  const std::vector<std::string> records = ReadLines(golden);
  ParityResult result;
  for (const std::string& line : records) {
    const json r = json::parse(line);
    const std::string kind = r["kind"];
    if (kind == "meta") {
      EXPECT_EQ(r["corpus_lines"].get<size_t>(), corpus.size())
          << "corpus.txt and " << golden << " are out of step";
      continue;
    }
    ++result.records;
    const Tokenizer* t = tok;
    if (r.contains("variant")) {
      const auto it = variants.find(r["variant"].get<std::string>());
      if (it == variants.end()) {
        ADD_FAILURE() << "no tokenizer for variant " << r["variant"];
        continue;
      }
      t = it->second;
    }
    const Tokenizer& tok_ref = *t;
    const size_t i = r["line"];
    const std::string& text = corpus.at(i);
    EncodeOptions options;
    Result<Encoding> e = InternalError("unset");
    std::string what = kind;
    if (r.contains("variant"))
      what += " (variant " + r["variant"].get<std::string>() + ")";
    if (kind == "single") {
      e = tok_ref.Encode(text);
    } else if (kind == "no_special") {
      options.add_special_tokens = false;
      e = tok_ref.Encode(text, options);
    } else if (kind == "pair") {
      e = tok_ref.EncodePair(text, corpus.at(i + 1));
    } else if (kind == "truncated") {
      options.max_length = r["max_length"];
      what += " max_length=" + std::to_string(options.max_length);
      e = r["pair"].get<bool>()
              ? tok_ref.EncodePair(text, corpus.at(i + 1), options)
              : tok_ref.Encode(text, options);
    }
    if (!e.ok()) {
      ADD_FAILURE() << golden << ": " << what << ", line " << i << ": "
                    << e.status().ToString();
      continue;
    }
    std::string diff = CompareRecord(r, *e);
    for (const char* key : {"decoded", "decoded_all"}) {
      if (!diff.empty() || !r.contains(key)) continue;
      const Result<std::string> d =
          tok_ref.Decode(e->ids, std::string(key) == "decoded");
      if (!d.ok() || *d != r[key].get<std::string>()) {
        diff = std::string(key) + ": HF \"" +
               Escaped(r[key].get<std::string>()) + "\", fff \"" +
               (d.ok() ? Escaped(*d) : d.status().ToString()) + "\"";
      }
    }
    if (diff.empty()) {
      ++result.matched;
    } else {
      ADD_FAILURE() << golden << ": " << what << ", corpus line " << i + 1
                    << " (index " << i << "): \"" << Escaped(text) << "\"\n"
                    << diff;
    }
  }
  std::printf("%s: %zu/%zu records match HF\n", golden.c_str(), result.matched,
              result.records);
  return result;
}

bool HaveBert() {
  return std::filesystem::exists(kBertDir + "/tokenizer.json");
}

TEST(TokenizerGoldenTest, TinyMatchesHuggingFace) {
  auto tok = Tokenizer::FromTokenizerJson(kTinyJson);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const ParityResult r =
      CheckGoldens(&*tok, kDataDir + "/tokenizer/golden_tiny.jsonl");
  EXPECT_GT(r.records, 800u);
  EXPECT_EQ(r.matched, r.records);
}

TEST(TokenizerGoldenTest, BertMatchesHuggingFace) {
  if (!HaveBert()) GTEST_SKIP() << kBertDir << " not present";
  auto tok = Tokenizer::FromTokenizerJson(kBertDir + "/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const ParityResult r =
      CheckGoldens(&*tok, kDataDir + "/tokenizer/golden_bert.jsonl");
  EXPECT_GT(r.records, 800u);
  EXPECT_EQ(r.matched, r.records);
}

// Other pipelines (see hf_tokenizer_goldens.js): variants.json holds them
// and their character-level vocabulary; the tokenizer.json of each is built
// here as the script builds it for HF.
TEST(TokenizerGoldenTest, VariantsMatchHuggingFace) {
  const json spec =
      json::parse(ReadFile(kDataDir + "/tokenizer/variants.json"));
  std::vector<Tokenizer> tokenizers;
  std::map<std::string, const Tokenizer*> by_name;
  tokenizers.reserve(spec["variants"].size());
  for (const json& v : spec["variants"]) {
    const json file = {{"version", "1.0"},
                       {"added_tokens", v["added_tokens"]},
                       {"normalizer", v["normalizer"]},
                       {"pre_tokenizer", v["pre_tokenizer"]},
                       {"post_processor", v["post_processor"]},
                       {"decoder", v["decoder"]},
                       {"model",
                        {{"type", "WordPiece"},
                         {"unk_token", "[UNK]"},
                         {"continuing_subword_prefix", "##"},
                         {"max_input_chars_per_word", 100},
                         {"vocab", spec["vocab"]}}}};
    auto tok = Tokenizer::FromTokenizerJsonString(file.dump(), v["name"]);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tokenizers.push_back(std::move(*tok));
    by_name[v["name"]] = &tokenizers.back();
  }
  const ParityResult r = CheckGoldens(
      nullptr, kDataDir + "/tokenizer/golden_variants.jsonl", by_name);
  EXPECT_GT(r.records, 900u);
  EXPECT_EQ(r.matched, r.records);
}

TEST(TokenizerGoldenTest, VocabTxtMatchesTokenizerJson) {
  if (!HaveBert()) GTEST_SKIP() << kBertDir << " not present";
  auto from_json = Tokenizer::FromTokenizerJson(kBertDir + "/tokenizer.json");
  auto from_txt = Tokenizer::FromVocabTxt(kBertDir + "/vocab.txt");
  ASSERT_TRUE(from_json.ok()) << from_json.status().ToString();
  ASSERT_TRUE(from_txt.ok()) << from_txt.status().ToString();
  EXPECT_EQ(from_txt->vocab_size(), from_json->vocab_size());
  const SpecialTokenIds& a = from_json->special_ids();
  const SpecialTokenIds& b = from_txt->special_ids();
  EXPECT_EQ(std::vector<int32_t>({a.pad, a.unk, a.cls, a.sep, a.mask}),
            std::vector<int32_t>({b.pad, b.unk, b.cls, b.sep, b.mask}));
  const std::vector<std::string> corpus =
      ReadLines(kDataDir + "/tokenizer/corpus.txt");
  for (size_t i = 0; i + 1 < corpus.size(); ++i) {
    auto x = from_json->EncodePair(corpus[i], corpus[i + 1]);
    auto y = from_txt->EncodePair(corpus[i], corpus[i + 1]);
    ASSERT_TRUE(x.ok() && y.ok());
    EXPECT_EQ(x->ids, y->ids) << "line " << i << ": " << Escaped(corpus[i]);
    EXPECT_EQ(x->type_ids, y->type_ids) << "line " << i;
    EXPECT_EQ(x->offsets, y->offsets) << "line " << i;
  }
}

TEST(TokenizerTest, SpecialIdsComeFromTheFile) {
  auto tok = Tokenizer::FromTokenizerJson(kTinyJson);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const SpecialTokenIds& s = tok->special_ids();
  EXPECT_EQ(s.sep, 0);
  EXPECT_EQ(s.unk, 1);
  EXPECT_EQ(s.mask, 2);
  EXPECT_EQ(s.pad, 3);
  EXPECT_EQ(s.cls, 4);
  EXPECT_EQ(tok->vocab_size(), 1536);
  EXPECT_EQ(tok->NumSpecialTokens(false), 1u);
  EXPECT_EQ(tok->NumSpecialTokens(true), 3u);
  EXPECT_EQ(tok->TokenToId("<mask>"), 2);
  EXPECT_EQ(tok->TokenToId("the"), tok->TokenToId("the"));
  EXPECT_FALSE(tok->TokenToId("no-such-token").has_value());
  EXPECT_EQ(tok->IdToToken(4), "<cls>");
  EXPECT_EQ(tok->IdToToken(-1), "");
  EXPECT_EQ(tok->IdToToken(1536), "");
  if (HaveBert()) {
    auto bert = Tokenizer::FromTokenizerJson(kBertDir + "/tokenizer.json");
    ASSERT_TRUE(bert.ok());
    const SpecialTokenIds& b = bert->special_ids();
    EXPECT_EQ(std::vector<int32_t>({b.pad, b.unk, b.cls, b.sep, b.mask}),
              std::vector<int32_t>({0, 100, 101, 102, 103}));
    EXPECT_EQ(bert->vocab_size(), 30522);
    EXPECT_EQ(bert->NumSpecialTokens(false), 2u);
    EXPECT_EQ(bert->NumSpecialTokens(true), 3u);
  }
}

TEST(TokenizerTest, EmptyAndWhitespaceInputGiveOnlyTemplateTokens) {
  auto tok = Tokenizer::FromTokenizerJson(kTinyJson);
  ASSERT_TRUE(tok.ok());
  for (std::string_view text : {"", " ", "\t\n  ", "\xe3\x80\x80"}) {
    auto e = tok->Encode(text);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->ids, std::vector<int32_t>({0})) << Escaped(text);
    EXPECT_EQ(e->special_tokens_mask, std::vector<uint8_t>({1}));
    EXPECT_EQ(e->sequence_ids, std::vector<int32_t>({-1}));
  }
  auto pair = tok->EncodePair("", "");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->ids, std::vector<int32_t>({4, 0, 0}));
}

TEST(TokenizerTest, SpecialTokenLiteralIsMatchedInRawText) {
  auto tok = Tokenizer::FromTokenizerJson(kTinyJson);
  ASSERT_TRUE(tok.ok());
  auto e = tok->Encode("Paris is <mask>.");
  ASSERT_TRUE(e.ok());
  ASSERT_GE(e->ids.size(), 3u);
  const size_t mask_at = e->ids.size() - 3;
  EXPECT_EQ(e->ids[mask_at], 2);
  EXPECT_EQ(e->offsets[mask_at], std::make_pair(9u, 15u));
  EXPECT_EQ(e->special_tokens_mask[mask_at], 0) << "matched, not added";
}

TEST(TokenizerTest, CarriageReturnAndNulAreWhitespaceOrRemoved) {
  if (!HaveBert()) GTEST_SKIP();
  auto tok = Tokenizer::FromTokenizerJson(kBertDir + "/tokenizer.json");
  ASSERT_TRUE(tok.ok());
  // HF: clean_text drops NUL and maps \r to a space; "bc" spans the NUL.
  auto e = tok->Encode(std::string_view("a\r\nb\0c", 6));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->ids, std::vector<int32_t>({101, 1037, 4647, 102}));
  EXPECT_EQ(e->offsets[1], std::make_pair(0u, 1u));
  EXPECT_EQ(e->offsets[2], std::make_pair(3u, 6u));
}

TEST(TokenizerTest, InvalidUtf8IsAnErrorNamingTheByte) {
  auto tok = Tokenizer::FromTokenizerJson(kTinyJson);
  ASSERT_TRUE(tok.ok());
  const std::vector<std::string> cases =
      ReadLines(kDataDir + "/tokenizer/invalid_utf8.bin");
  std::vector<std::string> offsets;
  for (const std::string& l :
       ReadLines(kDataDir + "/tokenizer/invalid_utf8_offsets.txt")) {
    if (!l.empty() && l[0] != '#') offsets.push_back(l);
  }
  ASSERT_EQ(cases.size(), offsets.size());
  ASSERT_GE(cases.size(), 10u);
  for (size_t i = 0; i < cases.size(); ++i) {
    auto e = tok->Encode(cases[i]);
    ASSERT_FALSE(e.ok()) << Escaped(cases[i]);
    ExpectError(e.status(), StatusCode::kInvalidArgument,
                {"text", "invalid UTF-8 at byte " + offsets[i]});
    auto p = tok->EncodePair("fine", cases[i]);
    ASSERT_FALSE(p.ok());
    ExpectError(p.status(), StatusCode::kInvalidArgument,
                {"text_b", "byte " + offsets[i]});
  }
}

TEST(TokenizerTest, TruncationCountsSpecialTokensAndCanBeAnError) {
  auto tok = Tokenizer::FromTokenizerJson(kTinyJson);
  ASSERT_TRUE(tok.ok());
  const std::string text = "one two three four five six seven eight";
  auto full = tok->Encode(text);
  ASSERT_TRUE(full.ok());
  ASSERT_EQ(full->ids.size(), 9u);
  EncodeOptions o;
  o.max_length = 5;
  auto cut = tok->Encode(text, o);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->ids.size(), 5u);
  EXPECT_EQ(cut->ids.back(), 0) << "the template's <sep> is kept";
  EXPECT_EQ(cut->n_truncated, 4u);
  o.max_length = 9;
  auto exact = tok->Encode(text, o);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->n_truncated, 0u);
  o.max_length = 8;
  o.error_on_truncation = true;
  auto err = tok->Encode(text, o);
  ExpectError(err.status(), StatusCode::kOutOfRange,
              {"9 tokens", "max_length is 8"});
  o.error_on_truncation = false;
  o.max_length = 2;
  ExpectError(tok->EncodePair("a", "b", o).status(),
              StatusCode::kInvalidArgument, {"max_length 2", "3 special"});
  o.add_special_tokens = false;
  auto bare = tok->EncodePair("a b c", "d", o);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->ids.size(), 2u);
}

TEST(TokenizerTest, DecodeSkipsSpecialAndUnknownIds) {
  auto tok = Tokenizer::FromTokenizerJson(kTinyJson);
  ASSERT_TRUE(tok.ok());
  auto e = tok->Encode("Hello there, <mask>!");
  ASSERT_TRUE(e.ok());
  std::vector<int32_t> ids = e->ids;
  ids.push_back(-5);
  ids.push_back(99999);
  EXPECT_EQ(*tok->Decode(ids), "hello there,!");
  EXPECT_EQ(*tok->Decode(ids, false), "hello there, <mask>! <sep>");
  EXPECT_EQ(*tok->Decode({}), "");
}

TEST(TokenizerTest, ConcurrentEncodingGivesTheSameResult) {
  auto tok = Tokenizer::FromTokenizerJson(kTinyJson);
  ASSERT_TRUE(tok.ok());
  const std::vector<std::string> corpus =
      ReadLines(kDataDir + "/tokenizer/corpus.txt");
  std::vector<std::vector<int32_t>> expected;
  for (const std::string& line : corpus)
    expected.push_back(tok->Encode(line)->ids);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < corpus.size(); i += 2) {
        if (tok->Encode(corpus[i])->ids != expected[i]) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace fff
