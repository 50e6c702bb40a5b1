// Every Unicode scalar value through every normalizer and pre-tokenizer rule,
// against HuggingFace: tests/data/tokenizer/hf_unicode_blocks.txt holds a
// hash of HF's answers per block of 4096 code points (made by
// python/reference/make_unicode_tables.py from hf_unicode_probe.js's dump);
// fff's answers, written the same way, must hash the same. Plus UTF-8
// validation and the helpers.
#include "src/tokenizer/unicode.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "src/tokenizer/normalizer.h"
#include "src/tokenizer/pre_tokenizer.h"

namespace fff::tok {
namespace {

const char* const kColumns[] = {"ws",    "bp",         "clean", "nfd",
                                "nfkd",  "nfc",        "nfkc",  "lower",
                                "strip", "bert_strip", "cjk"};

std::string Utf8(char32_t cp) {
  std::string s;
  AppendUtf8(cp, &s);
  return s;
}

std::u32string CodePoints(const std::string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    int len;
    out.push_back(DecodeUtf8(s.data() + i, &len));
    i += len;
  }
  return out;
}

// fff's answers for one code point, in hf_unicode_probe.js's notation.
class Prober {
 public:
  Prober() {
    normalizers_.push_back(MakeUnicodeNormalizer(UnicodeForm::kNfd));
    normalizers_.push_back(MakeUnicodeNormalizer(UnicodeForm::kNfkd));
    normalizers_.push_back(MakeUnicodeNormalizer(UnicodeForm::kNfc));
    normalizers_.push_back(MakeUnicodeNormalizer(UnicodeForm::kNfkc));
    normalizers_.push_back(MakeLowercase());
    normalizers_.push_back(MakeStripAccents());
    BertNormalizerOptions none{false, false, false, false};
    BertNormalizerOptions strip = none, cjk = none, clean = none;
    strip.strip_accents = true;
    cjk.handle_chinese_chars = true;
    clean.clean_text = true;
    normalizers_.push_back(MakeBertNormalizer(strip));
    normalizers_.push_back(MakeBertNormalizer(cjk));
    clean_ = MakeBertNormalizer(clean);
    ws_.Add(SplitRule::kWhitespace);
    bp_.Add(SplitRule::kBert);
  }

  std::vector<std::string> Answers(char32_t cp) {
    const std::string c = Utf8(cp);
    std::vector<std::string> out;
    // ws: "a" + c is one piece "ac" (word), one piece "a" (space) or two.
    std::vector<Span> pieces = Split(ws_, "a" + c);
    out.push_back(pieces.size() == 2 ? "P" : pieces[0].end == 1 ? "S" : "W");
    pieces = Split(bp_, "a" + c + "a");
    out.push_back(pieces.size() == 2 ? "S" : pieces.size() == 3 ? "P" : "N");
    const std::string cleaned = Normalize(*clean_, c);
    if (cleaned.empty()) {
      out.push_back("X");
    } else if (cleaned == c) {
      out.push_back("=");
    } else if (cleaned == " ") {
      out.push_back("S");
    } else {
      out.push_back(
          std::string("?").append(CodePointsHex(CodePoints(cleaned))));
    }
    for (const auto& n : normalizers_) {
      const std::string o = Normalize(*n, c);
      out.push_back(o == c ? "=" : CodePointsHex(CodePoints(o)));
    }
    return out;
  }

 private:
  std::vector<Span> Split(const PreTokenizer& p, const std::string& s) {
    text_.Assign(s, 0);
    std::vector<Span> pieces, scratch;
    p.Split(text_, 0, static_cast<uint32_t>(s.size()), &pieces, &scratch);
    return pieces;
  }
  std::string Normalize(const Normalizer& n, const std::string& s) {
    text_.Assign(s, 0);
    n.Apply(&text_, &scratch_);
    return text_.text;
  }

  std::vector<std::unique_ptr<Normalizer>> normalizers_;
  std::unique_ptr<Normalizer> clean_;
  PreTokenizer ws_, bp_;
  NormalizedText text_, scratch_;
};

uint64_t Fnv1a(std::string_view s, uint64_t h) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

TEST(TokenizerUnicodeTest, EveryCodePointMatchesHuggingFace) {
  std::ifstream in(std::string(FFF_TEST_DATA_DIR) +
                   "/tokenizer/hf_unicode_blocks.txt");
  ASSERT_TRUE(in) << "hf_unicode_blocks.txt missing";
  std::map<std::pair<std::string, uint32_t>, uint64_t> expected;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string column, block, hash;
    fields >> column >> block >> hash;
    expected[{column, std::stoul(block, nullptr, 16)}] =
        std::stoull(hash, nullptr, 16);
  }
  ASSERT_EQ(expected.size(), std::size(kColumns) * 272u);

  constexpr size_t kNumColumns = std::size(kColumns);
  Prober prober;
  std::vector<uint64_t> hashes(kNumColumns);
  std::vector<std::string> first_lines(kNumColumns);
  int mismatched_blocks = 0;
  char buf[16];
  for (uint32_t block = 0; block < 272; ++block) {
    std::fill(hashes.begin(), hashes.end(), 0xcbf29ce484222325ull);
    for (auto& f : first_lines) f.clear();
    for (char32_t cp = block << 12; cp < ((block + 1) << 12); ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      const std::vector<std::string> answers = prober.Answers(cp);
      std::snprintf(buf, sizeof(buf), "%x\t", static_cast<unsigned>(cp));
      for (size_t k = 0; k < kNumColumns; ++k) {
        const std::string entry = buf + answers[k] + "\n";
        hashes[k] = Fnv1a(entry, hashes[k]);
        if (first_lines[k].size() < 200) first_lines[k] += entry;
      }
    }
    for (size_t k = 0; k < kNumColumns; ++k) {
      const auto it = expected.find({kColumns[k], block});
      if (it != expected.end() && it->second == hashes[k]) continue;
      ++mismatched_blocks;
      ADD_FAILURE() << "column " << kColumns[k] << ", code points U+"
                    << std::hex << (block << 12) << "..U+"
                    << ((block + 1) << 12) - 1 << std::dec
                    << " differ from HF (diff fff's answers against the dump "
                       "of python/reference/hf_unicode_probe.js); fff's first "
                       "answers:\n"
                    << first_lines[k];
      if (mismatched_blocks > 20) return;
    }
  }
}

TEST(TokenizerUnicodeTest, FindInvalidUtf8) {
  EXPECT_EQ(FindInvalidUtf8(""), kValidUtf8);
  EXPECT_EQ(FindInvalidUtf8("plain ascii text, longer than 8 bytes"),
            kValidUtf8);
  EXPECT_EQ(FindInvalidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            kValidUtf8);
  EXPECT_EQ(FindInvalidUtf8("\xf4\x8f\xbf\xbf"), kValidUtf8);  // U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("\xef\xbf\xbf"), kValidUtf8);      // U+FFFF
  EXPECT_EQ(FindInvalidUtf8("abcdefgh\x80"), 8u);
  EXPECT_EQ(FindInvalidUtf8("abcdefghijklmno\xc3"), 15u);
  EXPECT_EQ(FindInvalidUtf8("\xed\x9f\xbf\xed\xa0\x80"), 3u);  // U+D7FF, D800
  EXPECT_EQ(FindInvalidUtf8("\xf0\x8f\xbf\xbf"), 0u);  // overlong U+FFFF
  EXPECT_EQ(FindInvalidUtf8(std::string_view("a\0\xc2", 3)), 2u);
}

TEST(TokenizerUnicodeTest, Utf8RoundTripAndCounts) {
  for (char32_t cp :
       {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    std::string s;
    const int n = AppendUtf8(cp, &s);
    EXPECT_EQ(n, Utf8Length(cp));
    EXPECT_EQ(FindInvalidUtf8(s), kValidUtf8);
    int len;
    EXPECT_EQ(DecodeUtf8(s.data(), &len), cp);
    EXPECT_EQ(len, n);
    EXPECT_EQ(Utf8SequenceLength(static_cast<unsigned char>(s[0])), n);
  }
  EXPECT_EQ(CountCodePoints("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), 4u);
  EXPECT_TRUE(IsAscii("0123456789abcdefghij"));
  EXPECT_FALSE(IsAscii("0123456789abcdefghi\xc3\xa9"));
}

TEST(TokenizerUnicodeTest, PropertiesHfSpellsOut) {
  EXPECT_TRUE(IsWhitespace(0x3000));
  EXPECT_FALSE(IsWhitespace(0x200B));       // ZWSP is not White_Space
  EXPECT_TRUE(IsWordChar(0x200D));          // regex \w includes Join_Control
  EXPECT_TRUE(IsWordChar(0x24B6));          // circled A: Other_Alphabetic
  EXPECT_FALSE(IsWordChar(0x2460));         // circled 1: No
  EXPECT_TRUE(IsBertPunctuation('$'));      // ASCII punctuation, category Sc
  EXPECT_FALSE(IsBertPunctuation(0x2E5D));  // newer than HF's tables
  EXPECT_TRUE(IsBertRemoved(0));
  EXPECT_TRUE(IsBertRemoved(0xFFFD));
  EXPECT_FALSE(IsBertRemoved('\t'));
  EXPECT_FALSE(IsBertRemoved(0x0890));  // Cf since Unicode 14, not for HF
  EXPECT_TRUE(IsChineseChar(0x4E2D));
  EXPECT_FALSE(IsChineseChar(0x3042));  // hiragana
  EXPECT_EQ(CombiningClass(0x0301), 230);
  EXPECT_EQ(CombiningClass(0x1ABF), 0);  // a mark HF's Unicode 9 lacks
  char32_t lower[2];
  ASSERT_EQ(ToLowercase(0x130, lower), 2);
  EXPECT_EQ(lower[0], U'i');
  EXPECT_EQ(lower[1], 0x307u);
  ASSERT_EQ(ToLowercase(0x3A3, lower), 1);
  EXPECT_EQ(lower[0], 0x3C3u);  // no final-sigma rule
  EXPECT_EQ(Compose(U'e', 0x301), 0xE9u);
  EXPECT_EQ(Compose(0x2ADD, 0x338), 0u);        // composition exclusion
  EXPECT_EQ(Compose(0x1100, 0x1161), 0xAC00u);  // Hangul LV
  char32_t d[kMaxDecomposition];
  ASSERT_EQ(Decompose(0x1E69, false, d), 3);
  EXPECT_EQ(CodePointsHex({d, 3}), "73 323 307");
  EXPECT_EQ(Decompose(0xFB01, false, d), 1);
  EXPECT_EQ(Decompose(0xFB01, true, d), 2);
}

}  // namespace
}  // namespace fff::tok
