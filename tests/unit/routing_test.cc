// Routing statistics (fff/routing.h): counts equal a brute-force count of the
// routing the forward returns (FFF models from tests/data/golden, leaf FFF
// traces), summaries on trees whose answer is known in closed form, and
// every bad input rejected without counting anything.
#include "fff/routing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "fff/model.h"
#include "tests/testing/expect_status.h"
#include "tests/testing/model_dirs.h"
#include "tests/testing/random_ids.h"

namespace fff {
namespace {

using ::fff::testing::ExpectError;
using ::fff::testing::GoldenDir;
using ::fff::testing::RandomSequences;

ModelConfig LeafConfig(int64_t n_layers, int64_t depth) {
  ModelConfig c;
  c.ff_kind = FfKind::kLeafFff;
  c.n_layers = n_layers;
  c.leaf_depth = depth;
  c.leaf_width = 4;
  return c;
}

ModelConfig FffConfig(int64_t n_layers, int64_t n_trees, int64_t depth) {
  ModelConfig c;
  c.ff_kind = FfKind::kFff;
  c.n_layers = n_layers;
  c.fff_trees = n_trees;
  c.fff_depth = depth;
  return c;
}

// An FFF trace for tokens that all take the path given by `leaf` (the leaf's
// index within its level): the nodes from the root down to it.
std::vector<int32_t> FffPathTo(int64_t depth, int64_t leaf) {
  std::vector<int32_t> path;
  for (int64_t level = 0; level <= depth; ++level) {
    path.push_back(static_cast<int32_t>(((int64_t{1} << level) - 1) +
                                        (leaf >> (depth - level))));
  }
  return path;
}

TEST(RoutingStats, FffModelCountsEqualBruteForceOfTheForwardsRouting) {
  for (const char* name : {"fff-1x3", "fff-2x2"}) {
    SCOPED_TRACE(name);
    ModelOptions mo;
    mo.n_threads = 2;
    mo.load_tokenizer = false;
    Result<Model> mr = Model::Load(GoldenDir(name), mo);
    ASSERT_TRUE(mr.ok()) << mr.status().ToString();
    Model& m = *mr;
    const ModelConfig& c = m.config();
    Result<RoutingStats> sr = RoutingStats::Create(c, 3);
    ASSERT_TRUE(sr.ok()) << sr.status().ToString();
    RoutingStats& stats = *sr;
    const int64_t levels = c.fff_depth + 1;
    const int64_t n_nodes = (int64_t{2} << c.fff_depth) - 1;
    const int64_t n_leaves = int64_t{1} << c.fff_depth;
    // Brute force: [layer][tree][node] and [layer][tree][class][leaf].
    std::vector<int64_t> want(
        static_cast<size_t>(c.n_layers * c.fff_trees * n_nodes), 0);
    std::vector<int64_t> want_cl(
        static_cast<size_t>(c.n_layers * c.fff_trees * 3 * n_leaves), 0);
    int64_t total = 0;
    for (uint32_t call = 0; call < 3; ++call) {
      const auto ids = RandomSequences(5, c.vocab_size, c.max_seq_length, call);
      std::vector<std::span<const int32_t>> seqs(ids.begin(), ids.end());
      std::vector<int64_t> lengths;
      std::vector<int32_t> labels;
      std::vector<int32_t> token_label;
      for (size_t s = 0; s < ids.size(); ++s) {
        lengths.push_back(static_cast<int64_t>(ids[s].size()));
        labels.push_back(static_cast<int32_t>((s + call) % 3));
        token_label.insert(token_label.end(), ids[s].size(), labels.back());
      }
      const int64_t n = static_cast<int64_t>(token_label.size());
      total += n;
      // The full trace and the routing-only trace agree, and routing_only
      // changes neither the outputs nor what Encode returns.
      EncoderTrace full;
      std::vector<float> h_full, h_plain, h_routes;
      ASSERT_TRUE(m.Encode(seqs, &h_full, &full).ok());
      ASSERT_TRUE(m.Encode(seqs, &h_plain).ok());
      EncoderTrace routes;
      routes.routing_only = true;
      ASSERT_TRUE(m.Encode(seqs, &h_routes, &routes).ok());
      EXPECT_EQ(h_full, h_plain);
      EXPECT_EQ(h_routes, h_plain);
      EXPECT_EQ(routes.routings, full.routings);
      EXPECT_TRUE(routes.routing_only);
      EXPECT_TRUE(routes.layers.empty());
      EXPECT_TRUE(routes.logits.empty());
      EXPECT_TRUE(routes.embedding.empty());
      ASSERT_EQ(full.routings.size(), static_cast<size_t>(c.n_layers));
      ASSERT_STATUS_OK(stats.Add(routes, lengths, labels));

      // Count node by node: a node is visited by a token when the token's
      // trace holds it at the node's level.
      for (int64_t li = 0; li < c.n_layers; ++li) {
        const auto& r = full.routings[static_cast<size_t>(li)];
        for (int64_t tree = 0; tree < c.fff_trees; ++tree) {
          for (int64_t node = 0; node < n_nodes; ++node) {
            const int64_t level =
                static_cast<int64_t>(std::log2(static_cast<double>(node + 1)));
            for (int64_t t = 0; t < n; ++t) {
              const int32_t got = r[static_cast<size_t>(
                  (t * c.fff_trees + tree) * levels + level)];
              if (got == node) {
                ++want[static_cast<size_t>((li * c.fff_trees + tree) * n_nodes +
                                           node)];
                if (level == c.fff_depth) {
                  ++want_cl[static_cast<size_t>(
                      ((li * c.fff_trees + tree) * 3 + token_label[t]) *
                          n_leaves +
                      (node - (n_leaves - 1)))];
                }
              }
            }
          }
        }
      }
    }
    EXPECT_EQ(stats.n_tokens(), total);
    for (int64_t li = 0; li < c.n_layers; ++li) {
      for (int64_t tree = 0; tree < c.fff_trees; ++tree) {
        const auto v = stats.visits(li, tree);
        const auto cl = stats.class_leaf_visits(li, tree);
        EXPECT_EQ(std::vector<int64_t>(v.begin(), v.end()),
                  std::vector<int64_t>(
                      want.begin() + (li * c.fff_trees + tree) * n_nodes,
                      want.begin() + (li * c.fff_trees + tree + 1) * n_nodes))
            << "layer " << li << " tree " << tree;
        EXPECT_EQ(
            std::vector<int64_t>(cl.begin(), cl.end()),
            std::vector<int64_t>(
                want_cl.begin() + (li * c.fff_trees + tree) * 3 * n_leaves,
                want_cl.begin() + (li * c.fff_trees + tree + 1) * 3 * n_leaves))
            << "layer " << li << " tree " << tree;
        EXPECT_EQ(v[0], total);  // every token passes the root
      }
    }
  }
}

TEST(RoutingStats, LeafFffCountsEveryRouterOnTheWayToTheLeaf) {
  const int64_t depth = 4, n_layers = 2;
  Result<RoutingStats> sr = RoutingStats::Create(LeafConfig(n_layers, depth));
  ASSERT_TRUE(sr.ok()) << sr.status().ToString();
  RoutingStats& stats = *sr;
  EXPECT_TRUE(stats.leaf_fff());
  EXPECT_EQ(stats.n_nodes(), 31);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> leaf(0, 15);
  EncoderTrace trace;
  const std::vector<int64_t> lengths = {7, 1, 12};
  for (int64_t li = 0; li < n_layers; ++li) {
    trace.routings.emplace_back(20);
    for (int32_t& l : trace.routings.back()) l = leaf(rng);
  }
  ASSERT_STATUS_OK(stats.Add(trace, lengths));
  for (int64_t li = 0; li < n_layers; ++li) {
    const auto v = stats.visits(li, 0);
    for (int64_t node = 0; node < 31; ++node) {
      const int64_t level =
          static_cast<int64_t>(std::log2(static_cast<double>(node + 1)));
      int64_t want = 0;
      for (int32_t l : trace.routings[static_cast<size_t>(li)]) {
        // The leaf's ancestor at `level`, from the leaf's index bits.
        const int64_t ancestor =
            ((int64_t{1} << level) - 1) + (l >> (depth - level));
        want += ancestor == node;
      }
      EXPECT_EQ(v[static_cast<size_t>(node)], want)
          << "layer " << li << " node " << node;
    }
  }
}

TEST(SummarizeTree, EvenTreeSplitsEveryLevelInHalves) {
  const int64_t depth = 3;
  Result<RoutingStats> sr = RoutingStats::Create(FffConfig(1, 1, depth));
  ASSERT_TRUE(sr.ok());
  EncoderTrace trace;
  trace.routings.emplace_back();
  const int64_t per_leaf = 5;
  for (int64_t leaf = 0; leaf < 8; ++leaf) {
    for (int64_t k = 0; k < per_leaf; ++k) {
      for (int32_t node : FffPathTo(depth, leaf)) {
        trace.routings[0].push_back(node);
      }
    }
  }
  const std::vector<int64_t> lengths = {8 * per_leaf};
  ASSERT_STATUS_OK(sr->Add(trace, lengths));
  const TreeSummary s = SummarizeTree(*sr, 0, 0);
  ASSERT_EQ(s.levels.size(), 4u);
  for (const LevelBalance& b : s.levels) {
    EXPECT_EQ(b.n_unvisited, 0);
    EXPECT_NEAR(b.occupancy_bits, static_cast<double>(b.level), 1e-12);
    EXPECT_NEAR(b.split_entropy_bits, b.level < depth ? 1.0 : 0.0, 1e-12);
  }
  EXPECT_EQ(s.leaves_used, 8);
  EXPECT_DOUBLE_EQ(s.max_leaf_share, 1.0 / 8);
  // Every leaf has 5 visits: bin 3 ([4, 8)).
  EXPECT_EQ(s.leaf_histogram, (std::vector<int64_t>{0, 0, 0, 8}));
}

TEST(SummarizeTree, CollapsedTreeUsesOneLeaf) {
  const int64_t depth = 3;
  Result<RoutingStats> sr = RoutingStats::Create(FffConfig(1, 1, depth));
  ASSERT_TRUE(sr.ok());
  EncoderTrace trace;
  trace.routings.emplace_back();
  for (int k = 0; k < 6; ++k) {
    for (int32_t node : FffPathTo(depth, 5)) trace.routings[0].push_back(node);
  }
  const std::vector<int64_t> lengths = {2, 4};
  ASSERT_STATUS_OK(sr->Add(trace, lengths));
  const TreeSummary s = SummarizeTree(*sr, 0, 0);
  for (const LevelBalance& b : s.levels) {
    EXPECT_EQ(b.n_unvisited, (int64_t{1} << b.level) - 1);
    EXPECT_DOUBLE_EQ(b.occupancy_bits, 0);
    EXPECT_DOUBLE_EQ(b.split_entropy_bits, 0);
  }
  EXPECT_EQ(s.leaves_used, 1);
  EXPECT_DOUBLE_EQ(s.max_leaf_share, 1);
  // 7 leaves unvisited; one with 6 visits (bin 3).
  EXPECT_EQ(s.leaf_histogram, (std::vector<int64_t>{7, 0, 0, 1}));
}

TEST(SummarizeTree, MutualInformationOfLeafAndClass) {
  const int64_t depth = 2;
  // Class c's tokens all reach leaf c: I(leaf; class) = H(class).
  {
    Result<RoutingStats> sr = RoutingStats::Create(FffConfig(1, 1, depth), 3);
    ASSERT_TRUE(sr.ok());
    EncoderTrace trace;
    trace.routings.emplace_back();
    const std::vector<int64_t> lengths = {3, 1, 4};
    const std::vector<int32_t> labels = {0, 1, 2};
    for (size_t s = 0; s < lengths.size(); ++s) {
      for (int64_t k = 0; k < lengths[s]; ++k) {
        for (int32_t node : FffPathTo(depth, labels[s])) {
          trace.routings[0].push_back(node);
        }
      }
    }
    ASSERT_STATUS_OK(sr->Add(trace, lengths, labels));
    const TreeSummary s = SummarizeTree(*sr, 0, 0);
    const double h =
        -(3.0 / 8 * std::log2(3.0 / 8) + 1.0 / 8 * std::log2(1.0 / 8) +
          4.0 / 8 * std::log2(4.0 / 8));
    EXPECT_NEAR(s.label_entropy_bits, h, 1e-12);
    EXPECT_NEAR(s.leaf_label_mi_bits, h, 1e-12);
    EXPECT_EQ(s.leaves_used_by_class, (std::vector<int64_t>{1, 1, 1}));
  }
  // Both classes spread over the same leaves in the same proportions:
  // independent, I = 0.
  {
    Result<RoutingStats> sr = RoutingStats::Create(FffConfig(1, 1, depth), 2);
    ASSERT_TRUE(sr.ok());
    EncoderTrace trace;
    trace.routings.emplace_back();
    const std::vector<int64_t> lengths = {3, 6};
    const std::vector<int32_t> labels = {0, 1};
    const int64_t leaves_of[2][6] = {{0, 1, 3, 0, 0, 0}, {0, 3, 1, 3, 0, 1}};
    for (int s = 0; s < 2; ++s) {
      for (int64_t k = 0; k < lengths[static_cast<size_t>(s)]; ++k) {
        for (int32_t node : FffPathTo(depth, leaves_of[s][k])) {
          trace.routings[0].push_back(node);
        }
      }
    }
    ASSERT_STATUS_OK(sr->Add(trace, lengths, labels));
    const TreeSummary s = SummarizeTree(*sr, 0, 0);
    EXPECT_NEAR(s.leaf_label_mi_bits, 0, 1e-12);
    EXPECT_EQ(s.leaves_used_by_class, (std::vector<int64_t>{3, 3}));
  }
}

TEST(RoutingStats, RejectsBadInputAndCountsNothing) {
  ModelConfig dense;
  dense.ff_kind = FfKind::kDense;
  dense.d_ff = 3072;
  ExpectError(RoutingStats::Create(dense).status(),
              StatusCode::kInvalidArgument, {"dense-3072"});
  ExpectError(RoutingStats::Create(FffConfig(1, 1, 2), -1).status(),
              StatusCode::kInvalidArgument, {"n_classes"});

  Result<RoutingStats> sr = RoutingStats::Create(FffConfig(2, 1, 2), 2);
  ASSERT_TRUE(sr.ok());
  RoutingStats& stats = *sr;
  EncoderTrace good;
  for (int li = 0; li < 2; ++li) good.routings.push_back({0, 2, 5, 0, 1, 3});
  const std::vector<int64_t> lengths = {2};
  const std::vector<int32_t> labels = {1};
  // Wrong number of layers.
  EncoderTrace one_layer = good;
  one_layer.routings.pop_back();
  ExpectError(stats.Add(one_layer, lengths, labels),
              StatusCode::kInvalidArgument, {"routings of 2 layers"});
  // Size does not match the token count.
  const std::vector<int64_t> three = {3};
  ExpectError(stats.Add(good, three, labels), StatusCode::kInvalidArgument,
              {"expected 9 entries"});
  // Not a root-to-leaf path (node 4 is not a child of 2); the error is in
  // layer 1, after layer 0 was valid: still nothing is counted.
  EncoderTrace broken = good;
  broken.routings[1] = {0, 2, 4, 0, 1, 3};
  ExpectError(stats.Add(broken, lengths, labels), StatusCode::kInvalidArgument,
              {"node 4 is not a child of 2"});
  broken.routings[1] = {1, 3, 7, 0, 1, 3};
  ExpectError(stats.Add(broken, lengths, labels), StatusCode::kInvalidArgument,
              {"level 0"});
  // Labels: missing, out of range, or given without classes.
  ExpectError(stats.Add(good, lengths), StatusCode::kInvalidArgument,
              {"one per sequence"});
  const std::vector<int32_t> bad_label = {2};
  ExpectError(stats.Add(good, lengths, bad_label), StatusCode::kInvalidArgument,
              {"expected 0..1, got 2"});
  const std::vector<int64_t> negative = {-1};
  ExpectError(stats.Add(good, negative, labels), StatusCode::kInvalidArgument,
              {"sequence_lengths"});
  EXPECT_EQ(stats.n_tokens(), 0);
  for (int li = 0; li < 2; ++li) {
    for (int64_t v : stats.visits(li, 0)) EXPECT_EQ(v, 0);
    for (int64_t v : stats.class_leaf_visits(li, 0)) EXPECT_EQ(v, 0);
  }
  Result<RoutingStats> unlabelled = RoutingStats::Create(FffConfig(2, 1, 2));
  ASSERT_TRUE(unlabelled.ok());
  ExpectError(unlabelled->Add(good, lengths, labels),
              StatusCode::kInvalidArgument, {"n_classes 0"});
  // A leaf FFF leaf out of range.
  Result<RoutingStats> leaf = RoutingStats::Create(LeafConfig(1, 2));
  ASSERT_TRUE(leaf.ok());
  EncoderTrace bad_leaf;
  bad_leaf.routings.push_back({1, 4});
  ExpectError(leaf->Add(bad_leaf, lengths), StatusCode::kInvalidArgument,
              {"expected a leaf in 0..3, got 4"});
  EXPECT_EQ(leaf->n_tokens(), 0);
  // And the good trace counts.
  ASSERT_STATUS_OK(stats.Add(good, lengths, labels));
  EXPECT_EQ(stats.n_tokens(), 2);
  EXPECT_EQ(stats.visits(1, 0)[5], 1);
}

}  // namespace
}  // namespace fff
