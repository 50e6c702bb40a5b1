// config.json -> ModelConfig for the crammedBERT family ({"arch": {...}}) and
// plain HuggingFace BERT ({"model_type": "bert", ...}).
#ifndef FFF_SRC_MODEL_CONFIG_H_
#define FFF_SRC_MODEL_CONFIG_H_

#include <string>
#include <string_view>

#include "fff/model.h"
#include "fff/status.h"

namespace fff {

// Parses and validates a config. `source` names the file in messages, e.g.
// "config.json: arch.attention.num_attention_heads: expected an integer >= 1,
// got \"twelve\"". vocab_size may be 0 when the file leaves it null (the
// loader then takes it from the embedding tensor).
Result<ModelConfig> ParseModelConfig(std::string_view json_text,
                                     const std::string& source);

// Reads a whole file (bounded by max_bytes) into a string.
Result<std::string> ReadTextFile(const std::string& path, size_t max_bytes);

}  // namespace fff

#endif  // FFF_SRC_MODEL_CONFIG_H_
