// The `fff` subcommands other than synth (tools/cli/main.cc parses flags).
#ifndef FFF_TOOLS_CLI_COMMANDS_H_
#define FFF_TOOLS_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "fff/status.h"
#include "tools/server/server.h"

namespace fff::cli {

// Used by fill-mask, classify, embed, tokenize and info when --model is not
// given: the small UltraFastBERT committed in the repository (trained by
// fff-train, models/README.md), found through its source path.
inline constexpr const char* kDefaultModelDir = FFF_DEFAULT_MODEL_DIR;
// Used by `fff bench` when --model is not given: a synthetic checkpoint with
// the published UltraFastBERT-1x11-long shapes, written by `fff synth` on
// first use (random weights: for speed only).
inline constexpr const char* kBenchModelDir = "fff-models/synth-1x11-long";

struct CommonOptions {
  std::string model_dir;  // empty: kDefaultModelDir (kBenchModelDir for bench)
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
  // Also time each batch with an EncoderTrace (routing_only) and
  // RoutingStats::Add after every call, alternating with plain calls.
  bool count_routes = false;
  int64_t linear_block_rows = 0;
  // When set: embed this file's lines (tokenized, truncated to the model's
  // maximum) in batches of each --batches size instead of random ids.
  std::string texts_path;
};

struct ServeOptions {
  server::ServerOptions server;
  std::string port_file;  // write the bound port here (for --port 0)
};

// Each prints JSON Lines to stdout; a Status error maps to exit code 1.
Status RunFillMask(const CommonOptions& o, int top_k);
Status RunClassify(const CommonOptions& o, const std::string& pair_separator);
Status RunEmbed(const CommonOptions& o, bool mean, bool normalize);
Status RunTokenize(const CommonOptions& o);
Status RunInfo(const CommonOptions& o);
Status RunBench(const CommonOptions& o, const BenchOptions& b);
// Writes the zero-copy FFF layout of the model to out_dir
// (tools/cli/convert.cc, fff/checkpoint_convert.h).
Status RunConvert(const CommonOptions& o, const std::string& out_dir);
// Serves until SIGINT/SIGTERM (tools/cli/serve.cc).
Status RunServe(const CommonOptions& o, const ServeOptions& s);

}  // namespace fff::cli

#endif  // FFF_TOOLS_CLI_COMMANDS_H_
