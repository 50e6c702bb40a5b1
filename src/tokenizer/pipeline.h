// Pipeline: everything a loaded tokenizer is made of, shared by the loaders
// (tokenizer_json.cc, vocab_txt.cc) and the encoder (tokenizer.cc).
#ifndef FFF_SRC_TOKENIZER_PIPELINE_H_
#define FFF_SRC_TOKENIZER_PIPELINE_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "fff/tokenizer.h"
#include "src/tokenizer/added_tokens.h"
#include "src/tokenizer/decoder.h"
#include "src/tokenizer/normalizer.h"
#include "src/tokenizer/post_processor.h"
#include "src/tokenizer/pre_tokenizer.h"
#include "src/tokenizer/wordpiece.h"

namespace fff {
namespace tok {

struct Pipeline {
  std::string source;  // file name, for messages
  NormalizerChain normalizer;
  PreTokenizer pre_tokenizer;
  WordPiece model;
  AddedVocabulary added;
  PostProcessor post_processor;
  std::optional<tok::WordPieceDecoder> decoder;
  SpecialTokenIds special_ids;
  int32_t vocab_size = 0;

  // Call once every part is set: builds the added-token matchers and the
  // derived ids (vocab_size, special_ids; see Tokenizer::special_ids).
  void Finish();
};

// Parses a tokenizer.json document into a finished Pipeline: what
// Tokenizer::FromTokenizerJsonString does, with the same errors.
Result<Pipeline> LoadPipelineJson(std::string_view json,
                                  std::string source_name);

// Calls fn(word) with every pre-token of `input` that Encode hands the
// WordPiece model, in order: the normalised text of each piece between
// added tokens, as the pre-tokenizer splits it. Added tokens are not
// reported. Precondition: `input` is valid UTF-8 and shorter than 4 GiB.
// Thread-safe (uses the calling thread's workspace); `fn` must not call
// back into the tokenizer.
void ForEachPreToken(const Pipeline& pipeline, std::string_view input,
                     const std::function<void(std::string_view)>& fn);

}  // namespace tok

struct Tokenizer::Impl {
  tok::Pipeline pipeline;
};

}  // namespace fff

#endif  // FFF_SRC_TOKENIZER_PIPELINE_H_
