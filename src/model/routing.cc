// RoutingStats and SummarizeTree (fff/routing.h).
#include "fff/routing.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "src/base/check.h"

namespace fff {
namespace {

double EntropyBits(std::span<const int64_t> counts) {
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  if (total == 0) return 0;
  double h = 0;
  for (int64_t c : counts) {
    if (c == 0) continue;
    const double p = static_cast<double>(c) / static_cast<double>(total);
    h -= p * std::log2(p);
  }
  return h;
}

}  // namespace

Result<RoutingStats> RoutingStats::Create(const ModelConfig& config,
                                          int64_t n_classes) {
  RoutingStats s;
  if (config.ff_kind == FfKind::kFff) {
    s.n_trees_ = config.fff_trees;
    s.depth_ = config.fff_depth;
  } else if (config.ff_kind == FfKind::kLeafFff) {
    s.leaf_fff_ = true;
    s.n_trees_ = 1;
    s.depth_ = config.leaf_depth;
  } else {
    return InvalidArgumentError(fmt::format(
        "routing statistics need an FFF or leaf FFF model; this model's "
        "feedforward is {} (no routing)",
        FfName(config)));
  }
  if (n_classes < 0) {
    return InvalidArgumentError(fmt::format(
        "routing statistics: n_classes: expected >= 0, got {}", n_classes));
  }
  if (s.depth_ < 0 || s.depth_ > 24 || s.n_trees_ < 1) {
    // Counts are dense per node: 2^25 nodes x 8 bytes per layer is the
    // most this keeps (a 1x11 model needs 4095).
    return InvalidArgumentError(fmt::format(
        "routing statistics: expected trees >= 1 and depth 0..24, got {} x {}",
        s.n_trees_, s.depth_));
  }
  s.n_layers_ = config.n_layers;
  s.n_classes_ = n_classes;
  s.class_tokens_.assign(static_cast<size_t>(n_classes), 0);
  s.visits_.assign(static_cast<size_t>(s.n_layers_ * s.n_trees_ * s.n_nodes()),
                   0);
  s.class_leaves_.assign(
      static_cast<size_t>(s.n_layers_ * s.n_trees_ * n_classes * s.n_leaves()),
      0);
  return s;
}

std::span<const int64_t> RoutingStats::visits(int64_t layer,
                                              int64_t tree) const {
  FFF_CHECK(layer >= 0 && layer < n_layers_ && tree >= 0 && tree < n_trees_);
  return std::span<const int64_t>(visits_).subspan(
      static_cast<size_t>(TreeIndex(layer, tree) * n_nodes()),
      static_cast<size_t>(n_nodes()));
}

std::span<const int64_t> RoutingStats::class_leaf_visits(int64_t layer,
                                                         int64_t tree) const {
  FFF_CHECK(layer >= 0 && layer < n_layers_ && tree >= 0 && tree < n_trees_);
  const int64_t n = n_classes_ * n_leaves();
  return std::span<const int64_t>(class_leaves_)
      .subspan(static_cast<size_t>(TreeIndex(layer, tree) * n),
               static_cast<size_t>(n));
}

Status RoutingStats::Add(const EncoderTrace& trace,
                         std::span<const int64_t> sequence_lengths,
                         std::span<const int32_t> labels) {
  int64_t n_tokens = 0;
  for (int64_t len : sequence_lengths) {
    if (len < 0) {
      return InvalidArgumentError(fmt::format(
          "routing statistics: sequence_lengths: expected >= 0, got {}", len));
    }
    n_tokens += len;
  }
  if (n_classes_ > 0) {
    if (labels.size() != sequence_lengths.size()) {
      return InvalidArgumentError(fmt::format(
          "routing statistics: labels: expected one per sequence ({}), got {}",
          sequence_lengths.size(), labels.size()));
    }
    for (size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] < 0 || labels[i] >= n_classes_) {
        return InvalidArgumentError(fmt::format(
            "routing statistics: label of sequence {}: expected 0..{}, got {}",
            i, n_classes_ - 1, labels[i]));
      }
    }
  } else if (!labels.empty()) {
    return InvalidArgumentError(
        "routing statistics: labels given, but the statistics were created "
        "with n_classes 0");
  }
  if (static_cast<int64_t>(trace.routings.size()) != n_layers_) {
    return InvalidArgumentError(fmt::format(
        "routing statistics: trace: expected routings of {} layers, got {}",
        n_layers_, trace.routings.size()));
  }
  const int64_t levels = depth_ + 1;
  const int64_t per_token = leaf_fff_ ? 1 : n_trees_ * levels;
  const int64_t first_leaf = n_leaves() - 1;
  // Validate everything first, so that an error counts nothing.
  for (int64_t li = 0; li < n_layers_; ++li) {
    const std::vector<int32_t>& r = trace.routings[static_cast<size_t>(li)];
    if (static_cast<int64_t>(r.size()) != n_tokens * per_token) {
      return InvalidArgumentError(fmt::format(
          "routing statistics: trace of layer {}: expected {} entries ({} "
          "tokens x {}), got {}",
          li, n_tokens * per_token, n_tokens, per_token, r.size()));
    }
    for (int64_t i = 0; i < n_tokens * per_token; ++i) {
      const int32_t node = r[static_cast<size_t>(i)];
      if (leaf_fff_) {
        if (node < 0 || node >= n_leaves()) {
          return InvalidArgumentError(fmt::format(
              "routing statistics: trace of layer {}, token {}: expected a "
              "leaf in 0..{}, got {}",
              li, i, n_leaves() - 1, node));
        }
        continue;
      }
      const int64_t level = i % levels;
      const int64_t parent = level == 0 ? -1 : r[static_cast<size_t>(i - 1)];
      const bool ok = level == 0
                          ? node == 0
                          : node == 2 * parent + 1 || node == 2 * parent + 2;
      if (!ok) {
        return InvalidArgumentError(fmt::format(
            "routing statistics: trace of layer {}, token {}, tree {}, level "
            "{}: node {} is not a child of {} (not a root-to-leaf path)",
            li, i / per_token, (i / levels) % n_trees_, level, node,
            level == 0 ? std::string("the root's parent")
                       : std::to_string(parent)));
      }
    }
  }
  // Count.
  std::vector<int32_t> token_class;
  if (n_classes_ > 0) {
    token_class.reserve(static_cast<size_t>(n_tokens));
    for (size_t s = 0; s < sequence_lengths.size(); ++s) {
      token_class.insert(token_class.end(),
                         static_cast<size_t>(sequence_lengths[s]), labels[s]);
      class_tokens_[static_cast<size_t>(labels[s])] += sequence_lengths[s];
    }
  }
  const int64_t nn = n_nodes();
  const int64_t nl = n_leaves();
  for (int64_t li = 0; li < n_layers_; ++li) {
    const int32_t* r = trace.routings[static_cast<size_t>(li)].data();
    for (int64_t t = 0; t < n_tokens; ++t) {
      for (int64_t tree = 0; tree < n_trees_; ++tree) {
        int64_t* v = visits_.data() + TreeIndex(li, tree) * nn;
        int64_t leaf;
        if (leaf_fff_) {
          leaf = r[t];
          // Walk up from the leaf node: every ancestor was visited.
          for (int64_t node = first_leaf + leaf;; node = (node - 1) / 2) {
            ++v[node];
            if (node == 0) break;
          }
        } else {
          const int32_t* path = r + (t * n_trees_ + tree) * levels;
          for (int64_t level = 0; level < levels; ++level) ++v[path[level]];
          leaf = path[depth_] - first_leaf;
        }
        if (n_classes_ > 0) {
          ++class_leaves_[static_cast<size_t>(
              (TreeIndex(li, tree) * n_classes_ + token_class[t]) * nl + leaf)];
        }
      }
    }
  }
  n_tokens_ += n_tokens;
  return Status::Ok();
}

TreeSummary SummarizeTree(const RoutingStats& stats, int64_t layer,
                          int64_t tree, std::span<const uint8_t> kept) {
  TreeSummary s;
  s.layer = layer;
  s.tree = tree;
  s.n_tokens = stats.n_tokens();
  const std::span<const int64_t> v = stats.visits(layer, tree);
  for (int64_t level = 0; level <= stats.depth(); ++level) {
    LevelBalance b;
    b.level = level;
    b.n_nodes = int64_t{1} << level;
    const int64_t first = b.n_nodes - 1;
    const std::span<const int64_t> row =
        v.subspan(static_cast<size_t>(first), static_cast<size_t>(b.n_nodes));
    for (int64_t c : row) b.n_unvisited += c == 0;
    b.unvisited_fraction =
        static_cast<double>(b.n_unvisited) / static_cast<double>(b.n_nodes);
    b.occupancy_bits = EntropyBits(row);
    if (level < stats.depth()) {
      double weighted = 0;
      int64_t total = 0;
      for (int64_t i = 0; i < b.n_nodes; ++i) {
        const int64_t node = first + i;
        const int64_t children[2] = {v[static_cast<size_t>(2 * node + 1)],
                                     v[static_cast<size_t>(2 * node + 2)]};
        const int64_t n = children[0] + children[1];
        weighted += static_cast<double>(n) * EntropyBits(children);
        total += n;
      }
      b.split_entropy_bits =
          total > 0 ? weighted / static_cast<double>(total) : 0;
    }
    s.levels.push_back(b);
  }
  const std::span<const int64_t> leaves =
      v.subspan(static_cast<size_t>(stats.n_leaves() - 1),
                static_cast<size_t>(stats.n_leaves()));
  int64_t max_leaf = 0;
  for (int64_t c : leaves) {
    s.leaves_used += c > 0;
    max_leaf = std::max(max_leaf, c);
    size_t bin = 0;
    if (c > 0) {
      bin = 1;
      while ((int64_t{1} << bin) <= c) ++bin;
    }
    if (s.leaf_histogram.size() <= bin) s.leaf_histogram.resize(bin + 1, 0);
    ++s.leaf_histogram[bin];
  }
  if (s.n_tokens > 0) {
    s.max_leaf_share =
        static_cast<double>(max_leaf) / static_cast<double>(s.n_tokens);
  }
  if (!kept.empty()) {
    FFF_CHECK(static_cast<int64_t>(kept.size()) ==
              stats.n_trees() * stats.n_nodes());
    const std::span<const uint8_t> k =
        kept.subspan(static_cast<size_t>(tree * stats.n_nodes()),
                     static_cast<size_t>(stats.n_nodes()));
    for (int64_t node = 0; node < stats.n_nodes(); ++node) {
      if (k[static_cast<size_t>(node)] != 0) continue;
      ++s.pruned_nodes;
      if (node == 0 || k[static_cast<size_t>((node - 1) / 2)] != 0) {
        s.pruned_stops += v[static_cast<size_t>(node)];
      }
    }
  }
  const int64_t n_classes = stats.n_classes();
  if (n_classes > 0) {
    const std::span<const int64_t> cl = stats.class_leaf_visits(layer, tree);
    const int64_t nl = stats.n_leaves();
    s.label_entropy_bits = EntropyBits(stats.class_tokens());
    s.leaves_used_by_class.assign(static_cast<size_t>(n_classes), 0);
    // I(leaf; class) = H(leaf) + H(class) - H(leaf, class), from the joint
    // counts (which total n_tokens).
    s.leaf_label_mi_bits = std::max(
        0.0, EntropyBits(leaves) + s.label_entropy_bits - EntropyBits(cl));
    for (int64_t c = 0; c < n_classes; ++c) {
      for (int64_t l = 0; l < nl; ++l) {
        s.leaves_used_by_class[static_cast<size_t>(c)] +=
            cl[static_cast<size_t>(c * nl + l)] > 0;
      }
    }
  }
  return s;
}

}  // namespace fff
