// Helpers shared by the `fff` subcommands (tools/cli/cli_util.h).
#include "tools/cli/cli_util.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "tools/cli/synth.h"

namespace fff::cli {

// The folder to use: --model, else the trained default model (or, for the
// benchmark, the synthetic 1x11-long checkpoint, written on first use).
Result<std::string> ResolveModelDir(const CommonOptions& o, bool bench) {
  if (!o.model_dir.empty()) return o.model_dir;
  std::error_code ec;
  if (!bench) {
    if (!std::filesystem::exists(
            std::filesystem::path(kDefaultModelDir) / "model.safetensors",
            ec)) {
      return NotFoundError(fmt::format(
          "no --model given and the default model {} is missing (it ships in "
          "the source tree's models/ folder); pass --model DIR",
          kDefaultModelDir));
    }
    return std::string(kDefaultModelDir);
  }
  if (!std::filesystem::exists(
          std::filesystem::path(kBenchModelDir) / "model.safetensors", ec)) {
    std::fprintf(stderr,
                 "fff: no --model given; writing the benchmark default, a "
                 "synthetic UltraFastBERT-1x11-long checkpoint, to %s\n",
                 kBenchModelDir);
    FFF_RETURN_IF_ERROR(WriteSyntheticCheckpoint(kBenchModelDir, SynthSpec{}));
  }
  return std::string(kBenchModelDir);
}

// True when config.json marks the checkpoint as written by `fff synth`.
bool IsSynthetic(const std::string& dir) {
  std::ifstream f(std::filesystem::path(dir) / "config.json");
  const json j = json::parse(f, nullptr, false);
  return !j.is_discarded() && j.is_object() && j.contains("arch") &&
         j["arch"].is_object() && j["arch"].contains("fff_synthetic_note");
}

Result<Model> LoadModel(const CommonOptions& o, std::string* dir_out,
                        bool need_tokenizer, int64_t linear_block_rows,
                        bool bench) {
  FFF_ASSIGN_OR_RETURN(std::string dir, ResolveModelDir(o, bench));
  ModelOptions mo;
  mo.linear_block_rows = linear_block_rows;
  mo.n_threads = o.n_threads;
  mo.load_tokenizer = true;  // loaded when present; required only if asked
  FFF_ASSIGN_OR_RETURN(Model m, Model::Load(dir, mo));
  if (IsSynthetic(dir)) {
    std::fprintf(stderr,
                 "fff: NOTE: %s is a synthetic checkpoint with random weights: "
                 "its predictions are meaningless\n",
                 dir.c_str());
  }
  if (need_tokenizer && m.tokenizer() == nullptr) {
    return NotFoundError(fmt::format(
        "{}: no tokenizer.json or vocab.txt in the model folder", dir));
  }
  if (dir_out) *dir_out = dir;
  return m;
}

std::vector<std::string> ReadTexts(const CommonOptions& o) {
  if (!o.texts.empty()) return o.texts;
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

Result<Encoding> EncodeText(const Tokenizer& tok, const Model& m,
                            const CommonOptions& o, size_t index,
                            const std::string& a, const std::string* b) {
  EncodeOptions eo;
  eo.max_length = static_cast<size_t>(m.config().max_seq_length);
  eo.error_on_truncation = o.no_truncate;
  Result<Encoding> r = b ? tok.EncodePair(a, *b, eo) : tok.Encode(a, eo);
  if (!r.ok()) {
    return Status(r.status().code(),
                  fmt::format("text {}: {}", index + 1, r.status().message()));
  }
  if (r->n_truncated > 0 && o.truncate_notice) {
    std::fprintf(stderr,
                 "fff: text %zu: truncated by %zu tokens to the model's "
                 "maximum of %zu (use --no-truncate to make this an error)\n",
                 index + 1, r->n_truncated, eo.max_length);
  }
  return r;
}

// Token-type ids for models that have a token-type embedding (HF BERT),
// else empty (crammedBERT has none).
std::vector<std::span<const int32_t>> TypeIds(
    const Model& m, const std::vector<Encoding>& enc) {
  std::vector<std::span<const int32_t>> types;
  if (m.config().type_vocab_size > 0) {
    for (const Encoding& e : enc) types.emplace_back(e.type_ids);
  }
  return types;
}

void PrintLine(const json& j) {
  std::fputs(j.dump(-1, ' ', false, json::error_handler_t::replace).c_str(),
             stdout);
  std::fputc('\n', stdout);
}

}  // namespace fff::cli
