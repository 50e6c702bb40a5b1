// Token shards: the sequences read back equal the corpus encoded directly
// (paragraphs without special tokens, <sep> after each document, cut into
// seq_len pieces, last partial piece dropped); an interrupted run resumed
// (max_shards, should_stop, a corrupted shard) gives the same bytes as an
// uninterrupted one; .xz input equals plain input; corrupt, truncated or
// missing shards and mismatched settings give errors naming file and field.
#include "fff/token_shards.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fff/tokenizer.h"
#include "tests/testing/expect_status.h"

namespace fff {
namespace {

namespace fs = std::filesystem;
using ::fff::testing::ExpectError;

const std::string kTokenizer =
    std::string(FFF_TEST_DATA_DIR) + "/tiny/tokenizer.json";
const std::string kSharedCorpus =
    std::string(FFF_TEST_DATA_DIR) + "/../../../shared/data/corpus";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

uint64_t Fnv1a64(const std::string& bytes, size_t begin) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = begin; i < bytes.size(); ++i) {
    h ^= static_cast<uint8_t>(bytes[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016llx",
                static_cast<unsigned long long>(v));
  return buf;
}

// A deterministic corpus in the shared/data format: documents of 1-4
// paragraphs of 3-30 words, separated by one empty line, ending "\n\n".
// The second file ends without the final empty line (still a document end).
std::string MakeCorpus(uint32_t seed, int n_docs, bool trailing_blank) {
  static const char* const kWords[] = {
      "the",        "of",          "and",         "in",      "to",
      "a",          "was",         "he",          "is",      "for",
      "city",       "river",       "music",       "history", "war",
      "university", "Caf\xc3\xa9", "running",     "quickly", "1999",
      ",",          ".",           "(",           ")",       "don't",
      "ZEBRA",      "xylophonist", "\xe2\x82\xac"};
  uint32_t state = seed;
  const auto next = [&](uint32_t n) {
    state = state * 1664525u + 1013904223u;
    return (state >> 8) % n;
  };
  std::string text;
  for (int d = 0; d < n_docs; ++d) {
    const int n_par = 1 + static_cast<int>(next(4));
    for (int p = 0; p < n_par; ++p) {
      const int n_words = 3 + static_cast<int>(next(28));
      for (int w = 0; w < n_words; ++w) {
        if (w) text += ' ';
        text += kWords[next(std::size(kWords))];
      }
      text += '\n';
    }
    if (d + 1 < n_docs || trailing_blank) text += '\n';
  }
  return text;
}

// The token stream the shards must hold, computed directly.
std::vector<int32_t> ExpectedStream(const Tokenizer& tok,
                                    const std::vector<std::string>& texts) {
  EncodeOptions no_special;
  no_special.add_special_tokens = false;
  const int32_t sep = tok.special_ids().sep;
  std::vector<int32_t> out;
  for (const std::string& text : texts) {
    bool in_doc = false;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      const std::string line = text.substr(pos, end - pos);
      pos = end + 1;
      if (line.empty()) {
        if (in_doc) out.push_back(sep);
        in_doc = false;
        continue;
      }
      auto enc = tok.Encode(line, no_special);
      EXPECT_TRUE(enc.ok());
      out.insert(out.end(), enc->ids.begin(), enc->ids.end());
      in_doc = true;
    }
    if (in_doc) out.push_back(sep);
  }
  return out;
}

std::vector<std::string> DirFiles(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void ExpectSameDirs(const std::string& a, const std::string& b) {
  const std::vector<std::string> names = DirFiles(a);
  ASSERT_EQ(names, DirFiles(b));
  for (const std::string& n : names) {
    EXPECT_TRUE(ReadFile(a + "/" + n) == ReadFile(b + "/" + n)) << n;
  }
}

class TokenShardsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (fs::temp_directory_path() /
             ("fff_shards_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                .string();
    fs::remove_all(root_);
    fs::create_directories(root_);
    texts_ = {MakeCorpus(1, 40, true), MakeCorpus(2, 25, false)};
    inputs_ = {root_ + "/a.txt", root_ + "/b.txt"};
    WriteFile(inputs_[0], texts_[0]);
    WriteFile(inputs_[1], texts_[1]);
    options_.seq_len = 16;
    options_.sequences_per_shard = 7;
  }
  void TearDown() override { fs::remove_all(root_); }

  Result<TokenShardWriteResult> Write(const std::string& dir) {
    return WriteTokenShards(kTokenizer, inputs_, dir, options_);
  }
  std::string Dir(const std::string& name) { return root_ + "/" + name; }

  std::string root_;
  std::vector<std::string> texts_;
  std::vector<std::string> inputs_;
  TokenShardWriterOptions options_;
};

TEST_F(TokenShardsTest, ReadBackEqualsDirectEncoding) {
  auto tok = Tokenizer::FromTokenizerJson(kTokenizer);
  ASSERT_TRUE(tok.ok());
  const std::vector<int32_t> stream = ExpectedStream(*tok, texts_);
  const int64_t n_seq = static_cast<int64_t>(stream.size()) / 16;
  ASSERT_GT(n_seq, 30);  // several shards

  int progress_calls = 0;
  TokenShardProgress last;
  options_.progress = [&](const TokenShardProgress& p) {
    ++progress_calls;
    last = p;
  };
  auto r = Write(Dir("out"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->n_sequences, n_seq);
  EXPECT_EQ(r->n_shards, (n_seq + 6) / 7);
  EXPECT_EQ(r->n_tokens_dropped, static_cast<int64_t>(stream.size()) % 16);
  EXPECT_EQ(r->n_shards_kept, 0);
  EXPECT_GT(progress_calls, 0);
  EXPECT_EQ(last.bytes_total,
            static_cast<int64_t>(texts_[0].size() + texts_[1].size()));
  EXPECT_EQ(last.bytes_read, last.bytes_total);
  EXPECT_EQ(last.n_sequences, n_seq);

  auto set = TokenShardSet::Open(Dir("out"));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_TRUE(set->complete());
  EXPECT_EQ(set->n_sequences(), n_seq);
  EXPECT_EQ(set->seq_len(), 16);
  EXPECT_EQ(set->vocab_size(), tok->vocab_size());
  EXPECT_EQ(set->sep_id(), tok->special_ids().sep);
  EXPECT_EQ(static_cast<int64_t>(set->n_shards()), r->n_shards);
  std::vector<int32_t> seq(16);
  for (int64_t i = 0; i < n_seq; ++i) {
    set->CopySequence(i, seq.data());
    const std::vector<int32_t> want(stream.begin() + i * 16,
                                    stream.begin() + (i + 1) * 16);
    ASSERT_EQ(seq, want) << "sequence " << i;
  }

  // The header as documented.
  const std::string shard = ReadFile(Dir("out") + "/shard-000000.bin");
  ASSERT_EQ(shard.size(), 64u + 7 * 16 * 2);
  EXPECT_EQ(shard.substr(0, 8), "FFFSHRD1");
  EXPECT_EQ(shard[8], 1);    // version
  EXPECT_EQ(shard[12], 64);  // header bytes
  EXPECT_EQ(shard[16], 16);  // seq_len
  EXPECT_EQ(shard[20], 2);   // uint16
  EXPECT_EQ(shard[24], 7);   // n_sequences
}

TEST_F(TokenShardsTest, SepBetweenDocumentsOnly) {
  // Runs of empty lines make one boundary; a file's end closes its document.
  texts_ = {"the city\n\n\n\nriver\nmusic\n\n", "war history"};
  WriteFile(inputs_[0], texts_[0]);
  WriteFile(inputs_[1], texts_[1]);
  options_.seq_len = 1;
  auto r = Write(Dir("out"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto tok = Tokenizer::FromTokenizerJson(kTokenizer);
  ASSERT_TRUE(tok.ok());
  const int32_t sep = tok->special_ids().sep;
  std::vector<int32_t> want;
  const auto add = [&](const char* paragraph) {
    EncodeOptions no_special;
    no_special.add_special_tokens = false;
    const std::vector<int32_t> ids = tok->Encode(paragraph, no_special)->ids;
    ASSERT_FALSE(ids.empty());
    want.insert(want.end(), ids.begin(), ids.end());
  };
  add("the city");
  want.push_back(sep);
  add("river");
  add("music");
  want.push_back(sep);
  add("war history");
  want.push_back(sep);
  auto set = TokenShardSet::Open(Dir("out"));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->n_sequences(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    int32_t t = -1;
    set->CopySequence(static_cast<int64_t>(i), &t);
    EXPECT_EQ(t, want[i]) << i;
  }
  EXPECT_EQ(r->n_tokens_dropped, 0);
}

TEST_F(TokenShardsTest, ResumeIsByteIdentical) {
  ASSERT_TRUE(Write(Dir("full")).ok());

  // Interrupted after 2, then after 4 shards, then run to the end.
  options_.max_shards = 2;
  auto r = Write(Dir("resumed"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->complete);
  EXPECT_EQ(r->n_shards, 2);
  auto partial = TokenShardSet::Open(Dir("resumed"));
  ASSERT_TRUE(partial.ok()) << partial.status().ToString();
  EXPECT_FALSE(partial->complete());
  EXPECT_EQ(partial->n_sequences(), 14);
  options_.max_shards = 4;
  r = Write(Dir("resumed"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->n_shards_kept, 2);
  EXPECT_EQ(r->n_shards, 4);
  options_.max_shards = 0;
  r = Write(Dir("resumed"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->n_shards_kept, 4);
  ExpectSameDirs(Dir("full"), Dir("resumed"));

  // A complete directory is verified and left alone.
  r = Write(Dir("resumed"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->n_shards_kept, r->n_shards);
  ExpectSameDirs(Dir("full"), Dir("resumed"));

  // should_stop: stops after the first shard; resuming completes it.
  options_.should_stop = [] { return true; };
  r = Write(Dir("stopped"));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->complete);
  EXPECT_EQ(r->n_shards, 1);
  options_.should_stop = nullptr;
  ASSERT_TRUE(Write(Dir("stopped")).ok());
  ExpectSameDirs(Dir("full"), Dir("stopped"));

  // A corrupted shard and the ones after it are written again.
  const std::string shard2 = Dir("stopped") + "/shard-000002.bin";
  std::string bytes = ReadFile(shard2);
  bytes[100] ^= 1;
  WriteFile(shard2, bytes);
  r = Write(Dir("stopped"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->n_shards_kept, 2);
  ExpectSameDirs(Dir("full"), Dir("stopped"));
}

TEST_F(TokenShardsTest, XzInputEqualsPlainInput) {
  if (std::system("xz --version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "xz not installed";
  }
  ASSERT_TRUE(Write(Dir("plain")).ok());
  ASSERT_EQ(std::system(("xz -k -0 " + inputs_[0] + " " + inputs_[1]).c_str()),
            0);
  inputs_ = {inputs_[0] + ".xz", inputs_[1] + ".xz"};
  int64_t total = -2;
  options_.progress = [&](const TokenShardProgress& p) {
    total = p.bytes_total;
  };
  ASSERT_TRUE(Write(Dir("xz")).ok());
  EXPECT_EQ(total, static_cast<int64_t>(texts_[0].size() + texts_[1].size()));
  for (const std::string& n : DirFiles(Dir("plain"))) {
    if (n == "manifest.json") continue;  // names the inputs
    EXPECT_TRUE(ReadFile(Dir("plain") + "/" + n) ==
                ReadFile(Dir("xz") + "/" + n))
        << n;
  }
  // Resuming mid-way through an .xz input.
  options_.max_shards = 3;
  ASSERT_TRUE(Write(Dir("xz2")).ok());
  options_.max_shards = 0;
  ASSERT_TRUE(Write(Dir("xz2")).ok());
  ExpectSameDirs(Dir("xz"), Dir("xz2"));

  // A corrupt .xz file: xz's failure is reported.
  std::string bytes = ReadFile(inputs_[1]);
  bytes.resize(bytes.size() / 2);
  WriteFile(inputs_[1], bytes);
  auto r = Write(Dir("bad"));
  ExpectError(r.status(), StatusCode::kDataLoss, {"b.txt.xz", "xz -dc failed"});
}

TEST_F(TokenShardsTest, SettingsMismatchIsAnError) {
  options_.max_shards = 1;
  ASSERT_TRUE(Write(Dir("out")).ok());
  options_.max_shards = 0;
  options_.seq_len = 32;
  ExpectError(Write(Dir("out")).status(), StatusCode::kFailedPrecondition,
              {"manifest.json", "seq_len", "32", "16"});
  options_.seq_len = 16;
  WriteFile(inputs_[1], texts_[1] + "more\n");
  ExpectError(Write(Dir("out")).status(), StatusCode::kFailedPrecondition,
              {"inputs[1]", "b.txt"});
}

TEST_F(TokenShardsTest, BadInputAndOptions) {
  WriteFile(inputs_[1], "fine line\n\nbad \xff line\n");
  ExpectError(Write(Dir("out")).status(), StatusCode::kInvalidArgument,
              {"b.txt", "line 3", "text byte 11", "invalid UTF-8 at byte 4"});
  inputs_[1] = root_ + "/missing.txt";
  ExpectError(Write(Dir("out2")).status(), StatusCode::kNotFound,
              {"missing.txt"});
  options_.seq_len = 0;
  ExpectError(Write(Dir("out3")).status(), StatusCode::kInvalidArgument,
              {"seq_len"});
  options_.seq_len = 16;
  options_.sequences_per_shard = 0;
  ExpectError(Write(Dir("out3")).status(), StatusCode::kInvalidArgument,
              {"sequences_per_shard"});
  options_.sequences_per_shard = 7;
  ExpectError(
      WriteTokenShards(root_ + "/none.json", inputs_, Dir("out4"), options_)
          .status(),
      StatusCode::kNotFound, {"none.json"});
}

class TokenShardReaderErrors : public TokenShardsTest {
 protected:
  void SetUp() override {
    TokenShardsTest::SetUp();
    ASSERT_TRUE(Write(Dir("out")).ok());
    shard_ = Dir("out") + "/shard-000001.bin";
    bytes_ = ReadFile(shard_);
  }
  Status Open() { return TokenShardSet::Open(Dir("out")).status(); }

  std::string shard_, bytes_;
};

TEST_F(TokenShardReaderErrors, Truncated) {
  WriteFile(shard_, bytes_.substr(0, bytes_.size() - 1));
  ExpectError(
      Open(), StatusCode::kDataLoss,
      {"shard-000001.bin", "file size", "expected 288 bytes", "got 287 bytes"});
  WriteFile(shard_, bytes_.substr(0, 10));
  ExpectError(Open(), StatusCode::kDataLoss,
              {"shard-000001.bin", "file size", "at least 64"});
}

TEST_F(TokenShardReaderErrors, FlippedPayloadByte) {
  bytes_[64 + 37] ^= 0x10;
  WriteFile(shard_, bytes_);
  ExpectError(Open(), StatusCode::kDataLoss,
              {"shard-000001.bin", "payload checksum", "(header)"});
}

TEST_F(TokenShardReaderErrors, WrongMagicAndHeaderFields) {
  std::string b = bytes_;
  b[3] = 'X';
  WriteFile(shard_, b);
  ExpectError(Open(), StatusCode::kDataLoss,
              {"shard-000001.bin", "magic", "expected \"FFFSHRD1\"",
               "got \"FFFXHRD1\""});
  b = bytes_;
  b[16] = 17;  // seq_len
  WriteFile(shard_, b);
  ExpectError(Open(), StatusCode::kDataLoss,
              {"shard-000001.bin", "seq_len", "expected 16", "got 17"});
  b = bytes_;
  b[8] = 2;  // version
  WriteFile(shard_, b);
  ExpectError(Open(), StatusCode::kDataLoss,
              {"format version", "expected 1", "got 2"});
}

TEST_F(TokenShardReaderErrors, IdOutOfVocabulary) {
  // A consistent file (checksums fixed up) holding id 1536 = vocab_size.
  std::string b = bytes_;
  b[64 + 2 * 5] = static_cast<char>(1536 & 0xff);
  b[64 + 2 * 5 + 1] = static_cast<char>(1536 >> 8);
  const uint64_t old_sum = Fnv1a64(bytes_, 64);
  const uint64_t new_sum = Fnv1a64(b, 64);
  for (int i = 0; i < 8; ++i) {
    b[40 + i] = static_cast<char>(new_sum >> (8 * i));
  }
  WriteFile(shard_, b);
  std::string manifest = ReadFile(Dir("out") + "/manifest.json");
  const size_t at = manifest.find(Hex(old_sum));
  ASSERT_NE(at, std::string::npos);
  manifest.replace(at, 18, Hex(new_sum));
  WriteFile(Dir("out") + "/manifest.json", manifest);
  ExpectError(Open(), StatusCode::kDataLoss,
              {"shard-000001.bin", "token 5 (sequence 0, position 5)",
               "id 1536", "expected < vocab_size 1536"});
}

TEST_F(TokenShardReaderErrors, MissingShardAndManifest) {
  fs::remove(shard_);
  ExpectError(Open(), StatusCode::kNotFound, {"shard-000001.bin"});
  fs::remove(Dir("out") + "/manifest.json");
  ExpectError(Open(), StatusCode::kNotFound, {"manifest.json"});
  WriteFile(Dir("out") + "/manifest.json", "{\"format\": \"fff-token-shards\"");
  ExpectError(Open(), StatusCode::kDataLoss, {"manifest.json", "malformed"});
  WriteFile(Dir("out") + "/manifest.json",
            "{\"format\": \"fff-token-shards\", \"version\": 1}");
  ExpectError(Open(), StatusCode::kDataLoss,
              {"manifest.json", "tokenizer", "missing"});
}

TEST(TokenShardsSharedDataTest, PresidentialSpeeches) {
  const std::string input =
      kSharedCorpus + "/us-presidential-speeches/speeches.txt.xz";
  if (!fs::exists(input) || std::system("xz --version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << input << " or xz not available";
  }
  const std::string dir =
      (fs::temp_directory_path() /
       ("fff_shards_speeches_" + std::to_string(::getpid())))
          .string();
  fs::remove_all(dir);
  TokenShardWriterOptions o;
  o.sequences_per_shard = 2048;
  auto r = WriteTokenShards(kTokenizer, {input}, dir, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->bytes_read, 2863489);  // shared/data/README.md
  auto set = TokenShardSet::Open(dir);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_GT(set->n_sequences(), 4000);
  // 124 speeches: a <sep> after each (the last may be in the dropped tail).
  int64_t n_sep = 0;
  std::vector<int32_t> seq(128);
  for (int64_t i = 0; i < set->n_sequences(); ++i) {
    set->CopySequence(i, seq.data());
    for (int32_t t : seq) n_sep += t == set->sep_id();
  }
  EXPECT_GE(n_sep, 123);
  EXPECT_LE(n_sep, 124);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace fff
