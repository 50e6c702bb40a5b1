// Helpers shared by the `fff` subcommands: model loading with the CLI's
// defaults, text input, tokenization with the CLI's error wording, JSON Lines.
#ifndef FFF_TOOLS_CLI_CLI_UTIL_H_
#define FFF_TOOLS_CLI_CLI_UTIL_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "fff/model.h"
#include "fff/status.h"
#include "fff/tokenizer.h"
#include "tools/cli/commands.h"

namespace fff::cli {

using json = nlohmann::ordered_json;

// The folder to use: --model, else the trained default model (or, for the
// benchmark, the synthetic 1x11-long checkpoint, written on first use).
Result<std::string> ResolveModelDir(const CommonOptions& o, bool bench);

// True when config.json marks the checkpoint as written by `fff synth`.
bool IsSynthetic(const std::string& dir);

// Loads --model (default: kDefaultModelDir; for the benchmark kBenchModelDir,
// written by `fff synth` on first use). Notes a synthetic checkpoint on
// stderr; NotFound when `need_tokenizer` and the folder has none. `dir_out`
// (optional) receives the folder used.
Result<Model> LoadModel(const CommonOptions& o, std::string* dir_out,
                        bool need_tokenizer = true,
                        int64_t linear_block_rows = 0, bool bench = false);

// The texts of the command line, else stdin's lines (a trailing '\r' dropped).
std::vector<std::string> ReadTexts(const CommonOptions& o);

// A "[done/total]" line on stderr for long inputs when stderr is a terminal.
class Progress {
 public:
  explicit Progress(size_t total)
      : total_(total), on_(total >= 64 && isatty(2)) {}
  void Update(size_t done) {
    if (on_) std::fprintf(stderr, "\r[%zu/%zu]", done, total_);
  }
  ~Progress() {
    if (on_) std::fprintf(stderr, "\r%*s\r", 24, "");
  }

 private:
  size_t total_;
  bool on_;
};

// Tokenizes text `index` (0-based; errors say "text <index+1>: ...") and
// its optional pair `b`, truncating to the model's maximum unless
// o.no_truncate (then an error); a truncation is noted on stderr.
Result<Encoding> EncodeText(const Tokenizer& tok, const Model& m,
                            const CommonOptions& o, size_t index,
                            const std::string& a, const std::string* b);

// Token-type ids for models that have a token-type embedding (HF BERT),
// else empty (crammedBERT has none).
std::vector<std::span<const int32_t>> TypeIds(const Model& m,
                                              const std::vector<Encoding>& enc);

// One compact JSON line on stdout (invalid UTF-8 replaced).
void PrintLine(const json& j);

}  // namespace fff::cli

#endif  // FFF_TOOLS_CLI_CLI_UTIL_H_
