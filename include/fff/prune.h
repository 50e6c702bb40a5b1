// Task-specific pruning of UltraFastBERT's FFF trees: drop every subtree whose
// root a task's tokens visited fewer than `threshold` times, and write a
// smaller checkpoint that Model::Load reads (docs/routing.md).
//
// The rule at inference: a token whose walk reaches a pruned node stops
// there -- the pruned node and the levels below it add nothing to its
// output. The engine expands a pruned layer with zero rows, which computes
// exactly that (a zero node's logit is 0, GELU(0) = 0, and every node below
// it is zero too). `fff routes` on the pruned model counts how often a walk
// stops (TreeSummary::pruned_stops).
//
// The pruned checkpoint's files: config.json is the source's with
// arch.fff_pruned = true; model.safetensors holds every tensor of the source
// unchanged except, per layer, the FFF's rows of the kept nodes only
// (linear_in.weight [K, H], linear_in.bias [K], linear_out.weight [H, K])
// and encoder.layers.{i}.ffn.kept_nodes (I32 [K]: the kept nodes' global
// indices tree * n_nodes + node, ascending); tokenizer files are copied.
#ifndef FFF_PRUNE_H_
#define FFF_PRUNE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "fff/routing.h"
#include "fff/status.h"

namespace fff {

struct PruneOptions {
  // Nodes with fewer visits than this are dropped with their subtrees
  // (visits never grow down a tree, so that is every node below it too).
  // 0 keeps every node: the written model computes what the source does.
  int64_t threshold = 0;
  // Free text stored in the safetensors metadata ("fff_pruned_on"): what
  // the visits were counted on.
  std::string counted_on;
};

struct PruneLayerReport {
  int64_t layer = 0;
  int64_t nodes = 0;       // trees * n_nodes
  int64_t kept_nodes = 0;  // after this pruning (and any earlier one)
  int64_t fff_bytes = 0;   // the layer's FFF tensors in the written file
};

struct PruneReport {
  std::vector<PruneLayerReport> layers;
  int64_t source_fff_bytes = 0;  // FFF tensors (and node lists) in the source
  int64_t fff_bytes = 0;         // the same in the written file
  int64_t source_file_bytes = 0;
  int64_t file_bytes = 0;
};

// Prunes the crammedBERT FFF checkpoint in `src_dir` with visit counts
// `visits` (counted on that model: same layers, trees and depth) into
// `dst_dir` (created; must differ from src_dir). A source that is already
// pruned keeps its pruned nodes pruned. Errors: a model that is not an FFF,
// counts of another shape, I/O (each naming the file); nothing is left at
// dst_dir's model.safetensors on failure (written atomically).
Result<PruneReport> PruneFffCheckpoint(const std::string& src_dir,
                                       const RoutingStats& visits,
                                       const PruneOptions& options,
                                       const std::string& dst_dir);

}  // namespace fff

#endif  // FFF_PRUNE_H_
