// Routing statistics of a model's conditional feedforward layers: which
// nodes of each tree the tokens visit, how evenly each level splits them,
// how the leaves are occupied, and (for a labelled task) how the leaves a
// token reaches relate to its sequence's class. `fff routes` prints them;
// docs/routing.md explains every number.
//
// ---- Vocabulary ----------------------------------------------------------
// One routing tree per (layer, tree), numbered breadth-first: root 0,
// children of n are 2n+1 (left) and 2n+2 (right); level L holds nodes
// 2^L - 1 .. 2^(L+1) - 2; the `depth`-th level holds the leaves.
//   UltraFastBERT's FFF (fff.h): the FFF's own tree, depth = fff_depth;
//     every visited node is a neuron; n_trees trees per layer.
//   Leaf FFF (leaf_fff.h): one tree per layer whose levels 0..D-1 are the
//     routers and level D = leaf_depth the 2^D leaf networks.
// visits:  tokens that reached a node (every node on a token's path counts
//          once per token).
// split entropy of a node: the binary entropy (bits) of how the tokens that
//          reached it divide between its two children; 1 = halves.
//
// Counting costs nothing when not asked for: it reads the routing that
// Model::Encode records into an EncoderTrace with `routing_only` set
// (no copies of hidden states); docs/routing.md measures the overhead.
#ifndef FFF_ROUTING_H_
#define FFF_ROUTING_H_

#include <cstdint>
#include <span>
#include <vector>

#include "fff/model.h"
#include "fff/status.h"

namespace fff {

// Visit counts of every routing tree of a model, accumulated over Add calls.
// Not thread-safe for concurrent Add; const methods are.
class RoutingStats {
 public:
  // For a model whose feedforward is an FFF or a leaf FFF; a dense model is
  // an InvalidArgument error naming its feedforward. `n_classes` > 0 also
  // counts, per class, the leaves its tokens reach (Add then needs labels).
  static Result<RoutingStats> Create(const ModelConfig& config,
                                     int64_t n_classes = 0);

  // Adds the routing of one Encode call. `trace.routings` must hold one
  // entry per layer in Encode's layout (FFF: [n_tokens, n_trees, depth+1]
  // nodes; leaf FFF: [n_tokens] leaves), n_tokens = the sum of
  // `sequence_lengths`. `labels` (one class in [0, n_classes) per sequence)
  // is required when n_classes > 0 and must be empty otherwise. A node that
  // is not a child of the previous one on its path, a leaf out of range or a
  // size mismatch is an InvalidArgument error, and nothing is counted.
  Status Add(const EncoderTrace& trace,
             std::span<const int64_t> sequence_lengths,
             std::span<const int32_t> labels = {});

  int64_t n_layers() const { return n_layers_; }
  int64_t n_trees() const { return n_trees_; }
  int64_t depth() const { return depth_; }
  int64_t n_nodes() const { return (int64_t{2} << depth_) - 1; }
  int64_t n_leaves() const { return int64_t{1} << depth_; }
  int64_t n_classes() const { return n_classes_; }
  bool leaf_fff() const { return leaf_fff_; }
  // Tokens added so far (each visits one path in every tree).
  int64_t n_tokens() const { return n_tokens_; }
  // Tokens of each class so far [n_classes].
  std::span<const int64_t> class_tokens() const { return class_tokens_; }

  // Visits per node of tree `tree` of layer `layer` [n_nodes] (breadth-first).
  std::span<const int64_t> visits(int64_t layer, int64_t tree) const;
  // Visits per (class, leaf) [n_classes, n_leaves] (row-major); empty when
  // n_classes is 0.
  std::span<const int64_t> class_leaf_visits(int64_t layer, int64_t tree) const;

 private:
  RoutingStats() = default;
  int64_t TreeIndex(int64_t layer, int64_t tree) const {
    return layer * n_trees_ + tree;
  }

  int64_t n_layers_ = 0, n_trees_ = 0, depth_ = 0, n_classes_ = 0;
  bool leaf_fff_ = false;
  int64_t n_tokens_ = 0;
  std::vector<int64_t> class_tokens_;
  std::vector<int64_t> visits_;  // [n_layers, n_trees, n_nodes]
  std::vector<int64_t>
      class_leaves_;  // [n_layers, n_trees, n_classes, n_leaves]
};

// How one level of a tree divides its tokens.
struct LevelBalance {
  int64_t level = 0;
  int64_t n_nodes = 0;      // 2^level
  int64_t n_unvisited = 0;  // nodes no token reached
  double unvisited_fraction = 0;
  // Entropy (bits) of the tokens' distribution over the level's nodes:
  // `level` when every node gets the same share, 0 when one takes all.
  double occupancy_bits = 0;
  // Visit-weighted mean split entropy (bits) of the level's nodes; 0 at the
  // leaf level (no split) and when no token reached the level.
  double split_entropy_bits = 0;
};

// One tree's summary (all derived from RoutingStats' counts).
struct TreeSummary {
  int64_t layer = 0, tree = 0, n_tokens = 0;
  std::vector<LevelBalance> levels;  // depth + 1, root first
  int64_t leaves_used = 0;           // leaves with at least one visit
  double max_leaf_share = 0;         // the busiest leaf's fraction of tokens
  // leaf_histogram[0]: leaves never visited; [k >= 1]: leaves with a visit
  // count in [2^(k-1), 2^k). Trailing empty bins are dropped.
  std::vector<int64_t> leaf_histogram;
  // Labelled statistics (n_classes > 0, else 0 / empty):
  double label_entropy_bits = 0;              // H(class) of the counted tokens
  double leaf_label_mi_bits = 0;              // I(leaf; class) in bits
  std::vector<int64_t> leaves_used_by_class;  // [n_classes]
  // Pruned models (`kept` given): nodes of this tree the checkpoint dropped,
  // and the tokens whose walk reached one and stopped there (counted at the
  // first pruned node of the path; docs/routing.md).
  int64_t pruned_nodes = 0;
  int64_t pruned_stops = 0;
};

// Summary of tree `tree` of layer `layer` (preconditions: in range).
// `kept`: empty, or Model::fff_kept_nodes(layer) of a pruned model (the
// whole layer, [n_trees * n_nodes]; a size mismatch is a precondition
// violation).
TreeSummary SummarizeTree(const RoutingStats& stats, int64_t layer,
                          int64_t tree, std::span<const uint8_t> kept = {});

}  // namespace fff

#endif  // FFF_ROUTING_H_
