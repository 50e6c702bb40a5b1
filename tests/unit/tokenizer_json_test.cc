// Loading tokenizer.json and vocab.txt: malformed files, wrong field types
// and unsupported components give a Status naming the file and the JSON
// path (DataLoss / Unimplemented / InvalidArgument), never a crash; optional
// sections may be absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/testing/expect_status.h"
#include "fff/tokenizer.h"

namespace fff {
namespace {

using ::fff::testing::ExpectError;

using nlohmann::json;

const std::string kTinyJson =
    std::string(FFF_TEST_DATA_DIR) + "/tiny/tokenizer.json";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The tiny tokenizer.json with one JSON-pointer location replaced.
std::string TinyWith(const std::string& pointer, const json& value) {
  json doc = json::parse(ReadFile(kTinyJson));
  if (value.is_discarded()) {
    doc.at(json::json_pointer(pointer).parent_pointer())
        .erase(json::json_pointer(pointer).back());
  } else {
    doc[json::json_pointer(pointer)] = value;
  }
  return doc.dump();
}

Status LoadString(const std::string& text) {
  return Tokenizer::FromTokenizerJsonString(text, "bad.json").status();
}

TEST(TokenizerLoadTest, MalformedJsonIsDataLossWithPosition) {
  ExpectError(LoadString("{\"model\": "), StatusCode::kDataLoss,
              {"bad.json", "malformed JSON near byte"});
  ExpectError(LoadString("[1, 2]"), StatusCode::kDataLoss,
              {"bad.json", "object"});
  ExpectError(LoadString(""), StatusCode::kDataLoss, {"bad.json"});
  ExpectError(LoadString("{\"a\": \"\xff\"}"), StatusCode::kDataLoss,
              {"bad.json"});
  ExpectError(
      Tokenizer::FromTokenizerJson("/nonexistent/tokenizer.json").status(),
      StatusCode::kNotFound, {"/nonexistent/tokenizer.json"});
}

TEST(TokenizerLoadTest, WrongTypesAreDataLossNamingTheField) {
  const json discard = json::value_t::discarded;
  struct Case {
    std::string pointer;
    json value;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"/model", discard, "model: missing"},
      {"/model/vocab", json::array(), "model.vocab"},
      {"/model/vocab/the", "7", "model.vocab[\"the\"]"},
      {"/model/vocab/the", -3, "model.vocab[\"the\"]"},
      {"/model/vocab/the", 3.5, "model.vocab[\"the\"]"},
      {"/model/vocab/the", 4294967296ull, "model.vocab[\"the\"]"},
      {"/model/unk_token", 1, "model.unk_token"},
      {"/model/max_input_chars_per_word", "100",
       "model.max_input_chars_per_word"},
      {"/model/continuing_subword_prefix", discard,
       "model.continuing_subword_prefix"},
      {"/normalizer/normalizers", "NFD", "normalizer.normalizers"},
      {"/normalizer/normalizers/2", 7, "normalizer.normalizers[2]"},
      {"/normalizer/normalizers/2/type", discard,
       "normalizer.normalizers[2].type"},
      {"/normalizer/normalizers/0/pattern", "``",
       "normalizer.normalizers[0].pattern"},
      {"/normalizer/normalizers/0/content", json(),
       "normalizer.normalizers[0].content"},
      {"/pre_tokenizer/type", 3, "pre_tokenizer.type"},
      {"/added_tokens", json::object(), "added_tokens"},
      {"/added_tokens/0/id", -1, "added_tokens[0].id"},
      {"/added_tokens/0/content", json::array(), "added_tokens[0].content"},
      {"/added_tokens/0/special", "yes", "added_tokens[0].special"},
      {"/post_processor/single", json::object(), "post_processor.single"},
      {"/post_processor/single/0", json::object(), "post_processor.single[0]"},
      {"/post_processor/pair/0/SpecialToken/id", "<nope>",
       "post_processor.special_tokens[\"<nope>\"]"},
      {"/post_processor/special_tokens/<sep>/ids/0", "0",
       "post_processor.special_tokens[\"<sep>\"].ids[0]"},
      {"/post_processor/single/0/Sequence/id", "B", "post_processor.single[0]"},
      {"/decoder/cleanup", "yes", "decoder.cleanup"},
      {"/version", 1, "version"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pointer);
    ExpectError(LoadString(TinyWith(c.pointer, c.value)), StatusCode::kDataLoss,
                {"bad.json: ", c.field});
  }
}

TEST(TokenizerLoadTest, UnsupportedComponentsAreUnimplementedNamingThePath) {
  struct Case {
    std::string pointer;
    json value;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"/normalizer/normalizers/2/type", "Precompiled",
       "normalizer.normalizers[2].type: unsupported \"Precompiled\""},
      {"/normalizer/normalizers/5/pattern/Regex", "\\s+",
       "normalizer.normalizers[5].pattern.Regex"},
      {"/normalizer/normalizers/5/pattern/Regex", "a|b",
       "normalizer.normalizers[5].pattern.Regex"},
      {"/normalizer/normalizers/5/pattern/Regex", " *",
       "normalizer.normalizers[5].pattern.Regex"},
      {"/normalizer/normalizers/5/pattern/Regex", "[\\x80-\\xFF]",
       "normalizer.normalizers[5].pattern.Regex"},
      {"/normalizer/normalizers/0/pattern", json{{"Glob", "x"}},
       "normalizer.normalizers[0].pattern: unsupported \"Glob\""},
      {"/pre_tokenizer/type", "ByteLevel",
       "pre_tokenizer.type: unsupported \"ByteLevel\""},
      {"/model/type", "BPE", "model.type: unsupported \"BPE\""},
      {"/post_processor/type", "RobertaProcessing", "post_processor.type"},
      {"/decoder/type", "ByteLevel", "decoder.type"},
      {"/added_tokens/2/lstrip", true, "added_tokens[2].lstrip"},
      {"/version", "2.0", "version: unsupported \"2.0\""},
      // A sequence used twice (found by tokenizer_json_fuzz: truncation
      // gives each sequence one share of max_length, so $B twice overflowed
      // it).
      {"/post_processor/pair/4", json{{"Sequence", {{"id", "B"}}}},
       "post_processor.pair[4]: a template that uses $B more than once"},
      {"/post_processor/single/1", json{{"Sequence", {{"id", "A"}}}},
       "post_processor.single[1]: a template that uses $A more than once"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pointer);
    ExpectError(LoadString(TinyWith(c.pointer, c.value)),
                StatusCode::kUnimplemented, {"bad.json: ", c.field});
  }
}

TEST(TokenizerLoadTest, VocabWithoutUnkTokenIsAnError) {
  ExpectError(LoadString(TinyWith("/model/unk_token", "<missing>")),
              StatusCode::kInvalidArgument,
              {"bad.json", "model.unk_token", "<missing>"});
  ExpectError(LoadString(TinyWith("/model/vocab", json::object())),
              StatusCode::kInvalidArgument, {"unk_token"});
}

TEST(TokenizerLoadTest, VocabTxtErrors) {
  const std::string dir = ::testing::TempDir();
  const std::string no_cls = dir + "/fff_tok_vocab_no_cls.txt";
  std::ofstream(no_cls) << "[PAD]\n[UNK]\n[SEP]\nhello\n";
  ExpectError(Tokenizer::FromVocabTxt(no_cls).status(),
              StatusCode::kInvalidArgument, {no_cls, "[CLS]"});
  const std::string no_unk = dir + "/fff_tok_vocab_no_unk.txt";
  std::ofstream(no_unk) << "[CLS]\n[SEP]\nhello\n";
  ExpectError(Tokenizer::FromVocabTxt(no_unk).status(),
              StatusCode::kInvalidArgument, {no_unk, "[UNK]"});
  const std::string bad = dir + "/fff_tok_vocab_bad.txt";
  std::ofstream(bad) << "[CLS]\n\xff\n";
  ExpectError(Tokenizer::FromVocabTxt(bad).status(), StatusCode::kDataLoss,
              {bad, "byte 6"});
  ExpectError(Tokenizer::FromVocabTxt(dir + "/nope.txt").status(),
              StatusCode::kNotFound, {"nope.txt"});
  const std::string ok = dir + "/fff_tok_vocab_ok.txt";
  std::ofstream(ok) << "[PAD]\r\n[UNK]\n[CLS]  \n[SEP]\nhello\n##s\n";
  auto tok = Tokenizer::FromVocabTxt(ok, /*lowercase=*/false);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(tok->Encode("hellos Hello")->ids,
            std::vector<int32_t>({2, 4, 5, 1, 3}));
  std::filesystem::remove(no_cls);
  std::filesystem::remove(no_unk);
  std::filesystem::remove(bad);
  std::filesystem::remove(ok);
}

TEST(TokenizerLoadTest, MinimalFileWithoutOptionalSections) {
  const std::string text = R"({
    "model": {"type": "WordPiece", "unk_token": "?", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 5, "vocab": {"?": 0, "ab": 1, "##c": 2}}})";
  auto tok = Tokenizer::FromTokenizerJsonString(text, "min.json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto e = tok->EncodePair("abc", "abcdefg");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->ids, std::vector<int32_t>({1, 2, 0}));
  EXPECT_EQ(e->type_ids, std::vector<int32_t>({0, 0, 1}));
  EXPECT_EQ(e->sequence_ids, std::vector<int32_t>({0, 0, 1}));
  EXPECT_EQ(e->offsets[2], std::make_pair(0u, 7u));
  EXPECT_EQ(tok->NumSpecialTokens(true), 0u);
  EXPECT_EQ(*tok->Decode(e->ids), "ab ##c ?") << "no decoder: joined by spaces";
  const SpecialTokenIds& s = tok->special_ids();
  EXPECT_EQ(std::vector<int32_t>({s.pad, s.unk, s.cls, s.sep, s.mask}),
            std::vector<int32_t>({-1, 0, -1, -1, -1}));
}

}  // namespace
}  // namespace fff
