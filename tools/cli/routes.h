// `fff routes`: routing statistics of an FFF or leaf FFF model over a text
// file, stdin lines or a GLUE split (fff/routing.h; docs/routing.md).
#ifndef FFF_TOOLS_CLI_ROUTES_H_
#define FFF_TOOLS_CLI_ROUTES_H_

#include <cstdint>
#include <string>

#include "fff/model.h"
#include "fff/routing.h"
#include "fff/status.h"
#include "tools/cli/commands.h"

namespace fff::cli {

struct RoutesOptions {
  std::string file;       // one text per line (else the common texts/stdin)
  std::string glue_task;  // a GLUE task: labelled statistics
  std::string glue_dir = "../shared/data/glue";
  std::string split = "train";  // GLUE split: train or dev
  int64_t max_texts = 0;        // 0: every text
  std::string out;              // JSON report here (else stdout)
  std::string paths;            // each token's path as JSON Lines here
};

// Counts the routing of the texts `r` selects (command-line texts or stdin
// lines, --file, or a GLUE split with its classes) on `m`, writing r.paths
// when set. `n_texts` (optional) receives the number of texts routed.
Result<RoutingStats> CountRoutes(Model& m, const CommonOptions& o,
                                 const RoutesOptions& r, int64_t* n_texts);

// Prints one JSON object (the report) on stdout, or writes it to
// options.out, and a table per layer on stderr.
Status RunRoutes(const CommonOptions& o, const RoutesOptions& r);

}  // namespace fff::cli

#endif  // FFF_TOOLS_CLI_ROUTES_H_
