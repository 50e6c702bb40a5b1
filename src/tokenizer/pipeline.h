// Pipeline: everything a loaded tokenizer is made of, shared by the loaders
// (tokenizer_json.cc, vocab_txt.cc) and the encoder (tokenizer.cc).
#ifndef FFF_SRC_TOKENIZER_PIPELINE_H_
#define FFF_SRC_TOKENIZER_PIPELINE_H_

#include <optional>
#include <string>

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

}  // namespace tok

struct Tokenizer::Impl {
  tok::Pipeline pipeline;
};

}  // namespace fff

#endif  // FFF_SRC_TOKENIZER_PIPELINE_H_
