// `fff prune` (task-specific pruning, fff/prune.h) and `fff glue-eval` (a
// classifier's GLUE dev score on the C++ engine, to measure what pruning
// costs).
#ifndef FFF_TOOLS_CLI_PRUNE_H_
#define FFF_TOOLS_CLI_PRUNE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "fff/status.h"
#include "tools/cli/commands.h"
#include "tools/cli/routes.h"

namespace fff::cli {

// Counts visits once on the texts `r` selects, then prunes at each
// threshold into `out` (one threshold) or `out`-t<threshold> (several),
// printing one report (JSON line) per threshold and a table on stderr.
Status RunPrune(const CommonOptions& o, const RoutesOptions& r,
                const std::vector<int64_t>& thresholds, const std::string& out);

struct GlueEvalOptions {
  std::string task;
  std::string glue_dir = "../shared/data/glue";
  std::string split = "dev";
  int64_t max_examples = 0;  // 0: all
};

// Classifies the split with the model's head and prints the task's metrics.
Status RunGlueEval(const CommonOptions& o, const GlueEvalOptions& g);

}  // namespace fff::cli

#endif  // FFF_TOOLS_CLI_PRUNE_H_
