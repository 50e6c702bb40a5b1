// The `fff` subcommands other than synth (tools/cli/main.cc parses flags).
#ifndef FFF_TOOLS_CLI_COMMANDS_H_
#define FFF_TOOLS_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "fff/status.h"

namespace fff::cli {

// Used when --model is not given; `fff synth` writes it on first use.
inline constexpr const char* kDefaultModelDir = "fff-models/synth-1x11-long";

struct CommonOptions {
  std::string model_dir;  // empty: kDefaultModelDir (synthesised if missing)
  int n_threads = 0;
  std::vector<std::string> texts;  // empty: stdin lines
  int batch_size = 32;
  bool no_truncate = false;
  bool truncate_notice = true;
};

struct BenchOptions {
  std::vector<int> batches = {1, 8, 64};
  int seq_len = 128;
  int reps = 5;
  double min_time_ms = 200;
  std::string json_path;
  bool breakdown = false;
  int64_t linear_block_rows = 0;
};

// Each prints JSON Lines to stdout; a Status error maps to exit code 1.
Status RunFillMask(const CommonOptions& o, int top_k);
Status RunClassify(const CommonOptions& o, const std::string& pair_separator);
Status RunEmbed(const CommonOptions& o, bool mean, bool normalize);
Status RunTokenize(const CommonOptions& o);
Status RunInfo(const CommonOptions& o);
Status RunBench(const CommonOptions& o, const BenchOptions& b);

}  // namespace fff::cli

#endif  // FFF_TOOLS_CLI_COMMANDS_H_
