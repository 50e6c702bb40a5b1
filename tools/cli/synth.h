// `fff synth`: writes a deterministic synthetic checkpoint folder in the
// published UltraFastBERT layout (config.json, model.safetensors,
// tokenizer.json) so the CLI and benchmarks run with no download. Its
// predictions are meaningless: the weights are random (crammedBERT's init).
#ifndef FFF_TOOLS_CLI_SYNTH_H_
#define FFF_TOOLS_CLI_SYNTH_H_

#include <cstdint>
#include <string>

#include "fff/status.h"

namespace fff::cli {

struct SynthSpec {
  std::string ff = "fff";  // "fff" or "ff" (dense)
  int64_t layers = 16, hidden = 768, heads = 12, vocab = 32768, max_seq = 128;
  int64_t trees = 1, depth = 11;  // FFF
  int64_t intermed = 3072;        // dense width
  std::string nonlin = "GELU";    // dense: GELU or GELUglu
  uint64_t seed = 1;
};

// Writes the folder (created if missing).
Status WriteSyntheticCheckpoint(const std::string& dir, const SynthSpec& spec);

// The tokenizer.json embedded in the binary (the tiny UltraFastBERT-format
// tokenizer of tests/data/tiny).
const char* EmbeddedTokenizerJson();

}  // namespace fff::cli

#endif  // FFF_TOOLS_CLI_SYNTH_H_
