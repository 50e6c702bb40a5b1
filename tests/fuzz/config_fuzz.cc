// libFuzzer target: config.json parsing (crammedBERT and HF BERT forms) must
// return a value or an error for any bytes, never crash or leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "src/model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fff::Result<fff::ModelConfig> c = fff::ParseModelConfig(text, "fuzz.json");
  if (c.ok() && c->d_model > 0 && c->n_heads > 0) {
    // Invariants the loader relies on.
    if (c->d_model % c->n_heads != 0) __builtin_trap();
  }
  return 0;
}
