// Loading a classic BERT vocab.txt: the pipeline BertTokenizerFast builds
// for it (BertNormalizer, BertPreTokenizer, WordPiece with [UNK] and "##",
// [CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1, the five BERT special tokens
// that the vocabulary contains, WordPiece decoder).
#include <fstream>
#include <sstream>
#include <string>

#include "fff/tokenizer.h"
#include "src/tokenizer/pipeline.h"
#include "src/tokenizer/unicode.h"

namespace fff {

Result<Tokenizer> Tokenizer::FromVocabTxt(const std::string& path,
                                          bool lowercase) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Status(StatusCode::kDataLoss, path + ": read failed");
  const std::string text = buffer.str();
  if (const size_t bad = tok::FindInvalidUtf8(text); bad != tok::kValidUtf8) {
    return Status(StatusCode::kDataLoss,
                  path + ": invalid UTF-8 at byte " + std::to_string(bad));
  }
  // As HF's WordPiece::read_file: one token per line (\n or \r\n), trailing
  // whitespace trimmed, id = line number, a repeated token keeps its last id.
  std::vector<std::pair<std::string, int32_t>> vocab;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    while (!line.empty()) {
      size_t last = line.size() - 1;
      while (last > 0 && tok::IsContinuationByte(line[last])) --last;
      int len;
      if (!tok::IsWhitespace(tok::DecodeUtf8(line.data() + last, &len))) break;
      line = line.substr(0, last);
    }
    if (vocab.size() >= static_cast<size_t>(INT32_MAX)) {
      return Status(StatusCode::kDataLoss, path + ": too many lines");
    }
    vocab.emplace_back(std::string(line), static_cast<int32_t>(vocab.size()));
    pos = end + 1;
  }

  auto owner = std::make_unique<Impl>();
  tok::Pipeline* impl = &owner->pipeline;
  impl->source = path;
  tok::BertNormalizerOptions norm;
  norm.lowercase = lowercase;
  norm.strip_accents = lowercase;
  impl->normalizer.Add(tok::MakeBertNormalizer(norm));
  impl->pre_tokenizer.Add(tok::SplitRule::kBert);
  auto model = tok::WordPiece::Create(std::move(vocab), "[UNK]", "##", 100);
  if (!model.ok()) {
    return Status(StatusCode::kInvalidArgument,
                  path + ": " + model.status().message());
  }
  impl->model = std::move(*model);
  const int32_t cls = impl->model.TokenToId("[CLS]");
  const int32_t sep = impl->model.TokenToId("[SEP]");
  if (cls < 0 || sep < 0) {
    return Status(StatusCode::kInvalidArgument,
                  path + ": [CLS] and [SEP] must be in the vocabulary");
  }
  for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    if (impl->model.TokenToId(special) < 0) continue;
    impl->added.Add({special, /*special=*/true, /*normalized=*/false},
                    impl->model);
  }
  const tok::TemplatePiece a{true, 0, {}, "A", 0}, b{true, 1, {}, "B", 1};
  const tok::TemplatePiece cls_piece{false, 0, {cls}, "[CLS]", 0};
  const tok::TemplatePiece sep_piece{false, 0, {sep}, "[SEP]", 0};
  const tok::TemplatePiece sep_b{false, 0, {sep}, "[SEP]", 1};
  impl->post_processor = tok::PostProcessor(
      {cls_piece, a, sep_piece}, {cls_piece, a, sep_piece, b, sep_b});
  impl->decoder = tok::WordPieceDecoder{};
  impl->Finish();
  return Tokenizer(std::move(owner));
}

}  // namespace fff
