// The encoding pipeline, in HF's order: split off added tokens in the raw
// text, normalise every other piece, split off normalised added tokens,
// pre-tokenize, WordPiece, truncate, apply the template.
#include <algorithm>
#include <limits>
#include <string>

#include "fff/tokenizer.h"
#include "src/tokenizer/pipeline.h"
#include "src/tokenizer/unicode.h"

namespace fff {
namespace {

// Per-thread working buffers, reused across calls so that encoding does not
// allocate once they have grown.
struct Workspace {
  tok::NormalizedText text, scratch;
  std::vector<tok::AddedMatch> raw_matches, normalized_matches;
  std::vector<tok::Span> spans, span_scratch;
  std::vector<tok::WordPieceToken> pieces;
  tok::SequenceTokens a, b;
};

Workspace& LocalWorkspace() {
  thread_local Workspace ws;
  return ws;
}

Status CheckText(std::string_view text, const char* name) {
  if (text.size() > std::numeric_limits<uint32_t>::max()) {
    return OutOfRangeError(std::string(name) + ": " +
                           std::to_string(text.size()) +
                           " bytes; at most 4 GiB - 1 supported");
  }
  const size_t bad = tok::FindInvalidUtf8(text);
  if (bad != tok::kValidUtf8) {
    return InvalidArgumentError(std::string(name) + ": invalid UTF-8 at byte " +
                                std::to_string(bad));
  }
  return Status::Ok();
}

bool ContainsNoCase(std::string_view s, std::string_view what) {
  const auto lower = [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  };
  return std::search(s.begin(), s.end(), what.begin(), what.end(),
                     [&](char x, char y) { return lower(x) == lower(y); }) !=
         s.end();
}

// Model tokens of text.text[begin, end): pre-tokenize, then WordPiece.
void TokenizeRange(const tok::Pipeline& impl, const tok::NormalizedText& text,
                   uint32_t begin, uint32_t end, Workspace& ws,
                   tok::SequenceTokens* out) {
  ws.spans.clear();
  impl.pre_tokenizer.Split(text, begin, end, &ws.spans, &ws.span_scratch);
  for (const tok::Span& span : ws.spans) {
    ws.pieces.clear();
    impl.model.Tokenize(
        std::string_view(text.text).substr(span.begin, span.end - span.begin),
        &ws.pieces);
    for (const tok::WordPieceToken& t : ws.pieces) {
      const tok::Alignment a =
          text.InputRange(span.begin + t.begin, span.begin + t.end);
      out->ids.push_back(t.id);
      out->offsets.emplace_back(a.begin, a.end);
    }
    out->EndSplit(false);
  }
}

// One piece of input between raw added tokens, from input byte `base`.
void EncodePiece(const tok::Pipeline& impl, std::string_view piece,
                 uint32_t base, Workspace& ws, tok::SequenceTokens* out) {
  if (piece.empty()) return;
  tok::NormalizedText& text = ws.text;
  text.Assign(piece, base);
  impl.normalizer.Apply(&text, &ws.scratch);
  const auto n = static_cast<uint32_t>(text.text.size());
  if (n == 0) return;
  const tok::AddedTokenMatcher& matcher = impl.added.normalized_matcher();
  if (matcher.empty()) {
    TokenizeRange(impl, text, 0, n, ws, out);
    return;
  }
  ws.normalized_matches.clear();
  matcher.FindMatches(text.text, &ws.normalized_matches);
  uint32_t pos = 0;
  for (const tok::AddedMatch& m : ws.normalized_matches) {
    TokenizeRange(impl, text, pos, m.begin, ws, out);
    const tok::Alignment a = text.InputRange(m.begin, m.end);
    out->ids.push_back(m.id);
    out->offsets.emplace_back(a.begin, a.end);
    out->EndSplit(true);
    pos = m.end;
  }
  TokenizeRange(impl, text, pos, n, ws, out);
}

void EncodeSequence(const tok::Pipeline& impl, std::string_view input,
                    Workspace& ws, tok::SequenceTokens* out) {
  out->clear();
  ws.raw_matches.clear();
  impl.added.raw_matcher().FindMatches(input, &ws.raw_matches);
  uint32_t pos = 0;
  for (const tok::AddedMatch& m : ws.raw_matches) {
    EncodePiece(impl, input.substr(pos, m.begin - pos), pos, ws, out);
    out->ids.push_back(m.id);
    out->offsets.emplace_back(m.begin, m.end);
    out->EndSplit(true);
    pos = m.end;
  }
  EncodePiece(impl, input.substr(pos), pos, ws, out);
}

Result<Encoding> Finish(const tok::Pipeline& impl, tok::SequenceTokens* a,
                        tok::SequenceTokens* b, const EncodeOptions& options) {
  size_t n_truncated = 0;
  if (options.max_length > 0) {
    const size_t n_added =
        options.add_special_tokens
            ? impl.post_processor.NumSpecialTokens(b != nullptr)
            : 0;
    if (options.max_length < n_added) {
      return InvalidArgumentError(
          "max_length " + std::to_string(options.max_length) +
          " is less than the " + std::to_string(n_added) +
          " special tokens the template adds");
    }
    const size_t budget = options.max_length - n_added;
    const size_t total = a->size() + (b ? b->size() : 0);
    if (total > budget && options.error_on_truncation) {
      return OutOfRangeError(
          "input has " + std::to_string(total + n_added) +
          " tokens (special tokens included), max_length is " +
          std::to_string(options.max_length));
    }
    n_truncated = tok::TruncateLongestFirst(budget, options.max_length, a, b);
  }
  Encoding encoding;
  impl.post_processor.Assemble(*a, b, options.add_special_tokens, &encoding);
  encoding.n_truncated = n_truncated;
  return encoding;
}

std::optional<std::string_view> LookupId(const tok::Pipeline& impl,
                                         int32_t id) {
  if (auto added = impl.added.IdToContent(id)) return added;
  return impl.model.IdToToken(id);
}

}  // namespace

namespace tok {

void Pipeline::Finish() {
  added.Finish(normalizer);
  vocab_size = std::max(model.max_id(), added.max_id()) + 1;
  special_ids = SpecialTokenIds{};
  special_ids.unk = model.unk_id();
  post_processor.FindClsSep(&special_ids.cls, &special_ids.sep);
  for (const auto& [id, token] : added.tokens()) {  // id order: lowest wins
    if (!token.special) continue;
    if (special_ids.mask < 0 && ContainsNoCase(token.content, "mask")) {
      special_ids.mask = id;
    }
    if (special_ids.pad < 0 && ContainsNoCase(token.content, "pad")) {
      special_ids.pad = id;
    }
  }
}

void ForEachPreToken(const Pipeline& pipeline, std::string_view input,
                     const std::function<void(std::string_view)>& fn) {
  Workspace& ws = LocalWorkspace();
  // The same steps as EncodeSequence / EncodePiece / TokenizeRange, without
  // the model: raw added tokens, normaliser, normalised added tokens,
  // pre-tokenizer.
  const auto split = [&](uint32_t begin, uint32_t end) {
    ws.spans.clear();
    pipeline.pre_tokenizer.Split(ws.text, begin, end, &ws.spans,
                                 &ws.span_scratch);
    for (const Span& span : ws.spans) {
      fn(std::string_view(ws.text.text)
             .substr(span.begin, span.end - span.begin));
    }
  };
  const auto piece = [&](std::string_view text, uint32_t base) {
    if (text.empty()) return;
    ws.text.Assign(text, base);
    pipeline.normalizer.Apply(&ws.text, &ws.scratch);
    const auto n = static_cast<uint32_t>(ws.text.text.size());
    if (n == 0) return;
    ws.normalized_matches.clear();
    pipeline.added.normalized_matcher().FindMatches(ws.text.text,
                                                    &ws.normalized_matches);
    uint32_t pos = 0;
    for (const AddedMatch& m : ws.normalized_matches) {
      split(pos, m.begin);
      pos = m.end;
    }
    split(pos, n);
  };
  ws.raw_matches.clear();
  pipeline.added.raw_matcher().FindMatches(input, &ws.raw_matches);
  uint32_t pos = 0;
  for (const AddedMatch& m : ws.raw_matches) {
    piece(input.substr(pos, m.begin - pos), pos);
    pos = m.end;
  }
  piece(input.substr(pos), pos);
}

}  // namespace tok

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Encoding> Tokenizer::Encode(std::string_view text,
                                   const EncodeOptions& options) const {
  FFF_RETURN_IF_ERROR(CheckText(text, "text"));
  Workspace& ws = LocalWorkspace();
  EncodeSequence(impl_->pipeline, text, ws, &ws.a);
  return Finish(impl_->pipeline, &ws.a, nullptr, options);
}

Result<Encoding> Tokenizer::EncodePair(std::string_view text_a,
                                       std::string_view text_b,
                                       const EncodeOptions& options) const {
  FFF_RETURN_IF_ERROR(CheckText(text_a, "text_a"));
  FFF_RETURN_IF_ERROR(CheckText(text_b, "text_b"));
  Workspace& ws = LocalWorkspace();
  EncodeSequence(impl_->pipeline, text_a, ws, &ws.a);
  EncodeSequence(impl_->pipeline, text_b, ws, &ws.b);
  return Finish(impl_->pipeline, &ws.a, &ws.b, options);
}

Result<std::string> Tokenizer::Decode(std::span<const int32_t> ids,
                                      bool skip_special_tokens) const {
  std::vector<std::string_view> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    const auto token = LookupId(impl_->pipeline, id);
    if (!token) continue;  // HF skips ids it does not know
    if (skip_special_tokens && impl_->pipeline.added.IsSpecialContent(*token))
      continue;
    tokens.push_back(*token);
  }
  return tok::DecodeTokens(tokens, impl_->pipeline.decoder);
}

int32_t Tokenizer::vocab_size() const { return impl_->pipeline.vocab_size; }

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  if (auto id = impl_->pipeline.added.TokenToId(token)) return id;
  const int32_t id = impl_->pipeline.model.TokenToId(token);
  if (id < 0) return std::nullopt;
  return id;
}

std::string Tokenizer::IdToToken(int32_t id) const {
  const auto token = LookupId(impl_->pipeline, id);
  return token ? std::string(*token) : std::string();
}

const SpecialTokenIds& Tokenizer::special_ids() const {
  return impl_->pipeline.special_ids;
}

size_t Tokenizer::NumSpecialTokens(bool pair) const {
  return impl_->pipeline.post_processor.NumSpecialTokens(pair);
}

}  // namespace fff
