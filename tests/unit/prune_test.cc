// Task-specific pruning (fff/prune.h) and pruned checkpoints in the engine:
// threshold 0 is the identity, pruning what the counted texts never visit
// changes nothing for those texts, a token reaching a pruned node stops
// there (checked against a double walk that stops), and every mismatch
// between config.json and the pruned tensors is a clear error.
#include "fff/prune.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "fff/fff.h"
#include "fff/model.h"
#include "fff/routing.h"
#include "fff/safetensors.h"
#include "tests/testing/expect_status.h"
#include "tests/testing/fff_testing.h"
#include "tests/testing/model_dirs.h"
#include "tests/testing/random_ids.h"

namespace fff {
namespace {

namespace fs = std::filesystem;
using ::fff::testing::ExpectError;
using ::fff::testing::GoldenDir;
using ::fff::testing::RandomSequences;

std::string TempDir(const std::string& name) {
  return ::fff::testing::FreshTempDir("fff_prune_", name);
}

Model Load(const std::string& dir) {
  ModelOptions mo;
  mo.n_threads = 1;
  mo.load_tokenizer = false;
  Result<Model> m = Model::Load(dir, mo);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(*m);
}

// Counts the routing of `ids` on `m`.
RoutingStats Count(Model& m, const std::vector<std::vector<int32_t>>& ids) {
  Result<RoutingStats> s = RoutingStats::Create(m.config());
  EXPECT_TRUE(s.ok());
  std::vector<std::span<const int32_t>> seqs(ids.begin(), ids.end());
  std::vector<int64_t> lengths;
  for (const auto& x : ids) lengths.push_back(static_cast<int64_t>(x.size()));
  EncoderTrace trace;
  trace.routing_only = true;
  std::vector<float> h;
  EXPECT_TRUE(m.Encode(seqs, &h, &trace).ok());
  EXPECT_TRUE(s->Add(trace, lengths).ok());
  return std::move(*s);
}

std::vector<float> Encode(Model& m,
                          const std::vector<std::vector<int32_t>>& ids) {
  std::vector<std::span<const int32_t>> seqs(ids.begin(), ids.end());
  std::vector<float> h;
  EXPECT_TRUE(m.Encode(seqs, &h).ok());
  return h;
}

TEST(Prune, ThresholdZeroIsTheIdentity) {
  const std::string src = GoldenDir("fff-2x2");
  Model m = Load(src);
  const auto ids = RandomSequences(4, m.config().vocab_size, 20, 1);
  const RoutingStats stats = Count(m, ids);
  const std::string dst = TempDir("t0");
  Result<PruneReport> r = PruneFffCheckpoint(src, stats, {}, dst);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (const PruneLayerReport& l : r->layers) EXPECT_EQ(l.kept_nodes, l.nodes);
  Model p = Load(dst);
  EXPECT_TRUE(p.config().fff_pruned);
  const auto other = RandomSequences(6, m.config().vocab_size, 30, 2);
  EXPECT_EQ(Encode(p, other), Encode(m, other));
  EXPECT_EQ(p.fff_kept_nodes(0).size(), 14u);  // 2 trees x 7 nodes
  EXPECT_TRUE(m.fff_kept_nodes(0).empty());
  EXPECT_TRUE(fs::exists(fs::path(dst) / "tokenizer.json"));
}

TEST(Prune, DroppingUnvisitedNodesChangesNothingForTheCountedTexts) {
  const std::string src = GoldenDir("fff-1x3");
  Model m = Load(src);
  // Few tokens: most of the 8 leaves are never reached.
  const std::vector<std::vector<int32_t>> ids = {{5, 17, 3}, {40}};
  const RoutingStats stats = Count(m, ids);
  const std::string dst = TempDir("t1");
  PruneOptions po;
  po.threshold = 1;
  Result<PruneReport> r = PruneFffCheckpoint(src, stats, po, dst);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  int64_t kept = 0, nodes = 0;
  for (const PruneLayerReport& l : r->layers) {
    kept += l.kept_nodes;
    nodes += l.nodes;
  }
  EXPECT_LT(kept, nodes);
  EXPECT_LT(r->fff_bytes, r->source_fff_bytes);
  EXPECT_LT(r->file_bytes, r->source_file_bytes);
  Model p = Load(dst);
  EXPECT_EQ(Encode(p, ids), Encode(m, ids));
  // No walk stops, and the kept nodes are exactly the visited ones.
  const RoutingStats again = Count(p, ids);
  for (int64_t li = 0; li < m.config().n_layers; ++li) {
    const TreeSummary s = SummarizeTree(again, li, 0, p.fff_kept_nodes(li));
    EXPECT_EQ(s.pruned_stops, 0);
    const auto v = stats.visits(li, 0);
    const auto k = p.fff_kept_nodes(li);
    for (size_t n = 0; n < v.size(); ++n) EXPECT_EQ(k[n] != 0, v[n] >= 1);
    EXPECT_EQ(s.pruned_nodes,
              static_cast<int64_t>(std::count(k.begin(), k.end(), 0)));
  }
  // Pruning the pruned model again at threshold 0 keeps it as it is.
  const std::string dst2 = TempDir("t1_again");
  ASSERT_TRUE(PruneFffCheckpoint(dst, again, {}, dst2).ok());
  Model p2 = Load(dst2);
  for (int64_t li = 0; li < m.config().n_layers; ++li) {
    const auto a = p.fff_kept_nodes(li);
    const auto b = p2.fff_kept_nodes(li);
    EXPECT_EQ(std::vector<uint8_t>(a.begin(), a.end()),
              std::vector<uint8_t>(b.begin(), b.end()));
  }
  const auto other = RandomSequences(5, m.config().vocab_size, 30, 9);
  EXPECT_EQ(Encode(p2, other), Encode(p, other));
}

// The rule at the layer: the zero-expanded weights the engine builds make
// a token that reaches a pruned node stop there (a double walk that stops
// at the first pruned node agrees within float rounding).
TEST(Prune, ATokenReachingAPrunedNodeStopsThere) {
  FffShape shape;
  shape.d_in = 24;
  shape.d_out = 16;
  shape.depth = 4;
  shape.n_trees = 2;
  testing::FffWeights w = testing::MakeRandomWeights(shape, 3);
  const int64_t n_nodes = shape.n_nodes();
  // Prune two subtrees per tree: those of nodes 2 (level 1) and 9 (level 3).
  std::vector<uint8_t> kept(static_cast<size_t>(shape.n_total_nodes()), 1);
  for (int64_t t = 0; t < shape.n_trees; ++t) {
    for (int64_t node = 0; node < n_nodes; ++node) {
      for (int64_t a = node;; a = (a - 1) / 2) {
        if (a == 2 || a == 9) kept[static_cast<size_t>(t * n_nodes + node)] = 0;
        if (a == 0) break;
      }
    }
  }
  for (int64_t g = 0; g < shape.n_total_nodes(); ++g) {
    if (kept[static_cast<size_t>(g)] != 0) continue;
    std::fill_n(w.w_in.begin() + g * shape.d_in, shape.d_in, 0.0f);
    w.b_in[static_cast<size_t>(g)] = 0;
    std::fill_n(w.w_out.begin() + g * shape.d_out, shape.d_out, 0.0f);
  }
  FffOptions fo;
  fo.n_threads = 1;
  Result<FffLayer> layer = FffLayer::Create(shape, w.view(), fo);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  const int64_t n_rows = 64;
  const std::vector<float> x = testing::MakeNormalRows(n_rows, shape.d_in, 4);
  std::vector<float> y(static_cast<size_t>(n_rows * shape.d_out));
  std::vector<int32_t> nodes(static_cast<size_t>(n_rows * shape.n_visited()));
  ASSERT_STATUS_OK(layer->Forward(
      MatrixView<const float>(x, n_rows, shape.d_in),
      MatrixView<float>(y, n_rows, shape.d_out), FffTrace{nodes, {}}));
  int64_t stops = 0;
  for (int64_t r = 0; r < n_rows; ++r) {
    std::vector<double> want(static_cast<size_t>(shape.d_out), 0.0);
    std::vector<double> bound(static_cast<size_t>(shape.d_out), 0.0);
    for (int64_t t = 0; t < shape.n_trees; ++t) {
      for (int64_t level = 0; level <= shape.depth; ++level) {
        // The decisions are the float layer's (no flips to reason about);
        // the values are double.
        const int64_t node = nodes[static_cast<size_t>(
            (r * shape.n_trees + t) * (shape.depth + 1) + level)];
        const int64_t g = t * n_nodes + node;
        if (kept[static_cast<size_t>(g)] == 0) {
          ++stops;
          break;  // the rule: the walk stops at the first pruned node
        }
        double z = w.b_in[static_cast<size_t>(g)], zabs = std::abs(z);
        for (int64_t i = 0; i < shape.d_in; ++i) {
          const double p = double(x[static_cast<size_t>(r * shape.d_in + i)]) *
                           w.w_in[static_cast<size_t>(g * shape.d_in + i)];
          z += p;
          zabs += std::abs(p);
        }
        const double a = 0.5 * z * (1 + std::erf(z / std::sqrt(2.0)));
        for (int64_t o = 0; o < shape.d_out; ++o) {
          const double wo = w.w_out[static_cast<size_t>(g * shape.d_out + o)];
          want[static_cast<size_t>(o)] += a * wo;
          bound[static_cast<size_t>(o)] +=
              (1.13 * (shape.d_in + 2) * testing::kFloatU * zabs + 2e-7 +
               16 * testing::kFloatU * std::abs(a)) *
              std::abs(wo);
        }
      }
    }
    for (int64_t o = 0; o < shape.d_out; ++o) {
      EXPECT_NEAR(y[static_cast<size_t>(r * shape.d_out + o)],
                  want[static_cast<size_t>(o)],
                  bound[static_cast<size_t>(o)] + 1e-12)
          << "row " << r << " output " << o;
    }
  }
  EXPECT_GT(stops, 0) << "no row reached a pruned node: the test tests nothing";
}

// Copies `src` to `dst` with config.json's text edited by `edit`.
void CopyWithConfig(const std::string& src, const std::string& dst,
                    const std::string& from, const std::string& to) {
  fs::create_directories(dst);
  for (const char* f : {"model.safetensors", "tokenizer.json"}) {
    if (fs::exists(fs::path(src) / f)) {
      fs::copy_file(fs::path(src) / f, fs::path(dst) / f,
                    fs::copy_options::overwrite_existing);
    }
  }
  std::ifstream in(fs::path(src) / "config.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  std::ofstream(fs::path(dst) / "config.json") << text;
}

TEST(Prune, MismatchedConfigAndPrunedTensorsAreErrors) {
  const std::string src = GoldenDir("fff-1x3");
  Model m = Load(src);
  const std::vector<std::vector<int32_t>> ids = {{5, 17, 3}};
  const RoutingStats stats = Count(m, ids);
  const std::string pruned = TempDir("mismatch_src");
  PruneOptions po;
  po.threshold = 1;
  ASSERT_TRUE(PruneFffCheckpoint(src, stats, po, pruned).ok());
  ModelOptions mo;
  mo.load_tokenizer = false;
  // The pruned tensors with a config that does not say so.
  const std::string no_flag = TempDir("mismatch_noflag");
  CopyWithConfig(pruned, no_flag, "\"fff_pruned\": true",
                 "\"fff_pruned\": false");
  ExpectError(Model::Load(no_flag, mo).status(), StatusCode::kDataLoss,
              {"kept_nodes", "fff_pruned"});
  // A config that says pruned, on the unpruned checkpoint.
  const std::string flag_only = TempDir("mismatch_flagonly");
  CopyWithConfig(src, flag_only, "\"intermed_type\": \"fff\"",
                 "\"intermed_type\": \"fff\", \"fff_pruned\": true");
  ExpectError(Model::Load(flag_only, mo).status(), StatusCode::kNotFound,
              {"encoder.layers.0.ffn.kept_nodes", "fff_pruned"});
  // Another tree depth: the kept node list no longer fits the tree.
  const std::string depth = TempDir("mismatch_depth");
  CopyWithConfig(pruned, depth, "\"intermed_depth\": 3",
                 "\"intermed_depth\": 1");
  const Status st = Model::Load(depth, mo).status();
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_NE(st.message().find("kept_nodes"), std::string::npos)
      << st.ToString();
  // A kept list that is not closed under parents (node 3 without node 1).
  {
    Result<SafetensorsReader> rd =
        SafetensorsReader::Open(pruned + "/model.safetensors");
    ASSERT_TRUE(rd.ok());
    const TensorInfo* kept = rd->Find("encoder.layers.0.ffn.kept_nodes");
    ASSERT_NE(kept, nullptr);
    ASSERT_GE(kept->shape[0], 3);
    std::vector<int32_t> bad(static_cast<size_t>(kept->shape[0]));
    std::memcpy(bad.data(), rd->Bytes(*kept).data(), bad.size() * 4);
    // Replace the entries by 0, 4, 5, ...: node 4's parent 1 is missing.
    for (size_t i = 0; i < bad.size(); ++i) {
      bad[i] = i == 0 ? 0 : static_cast<int32_t>(3 + i);
    }
    std::vector<TensorToWrite> tensors;
    for (const TensorInfo& t : rd->tensors()) {
      tensors.push_back({t.name, t.dtype, t.shape,
                         t.name == kept->name
                             ? static_cast<const void*>(bad.data())
                             : rd->Bytes(t).data()});
    }
    const std::string open = TempDir("mismatch_open");
    CopyWithConfig(pruned, open, "\"fff_pruned\": true",
                   "\"fff_pruned\": true");
    ASSERT_STATUS_OK(WriteSafetensors(open + "/model.safetensors", tensors));
    ExpectError(Model::Load(open, mo).status(), StatusCode::kDataLoss,
                {"kept_nodes", "parent"});
  }
  // Pruning: a dense model, counts of another model, the source as output.
  Model dense = Load(GoldenDir("dense-gelu"));
  ExpectError(
      PruneFffCheckpoint(GoldenDir("dense-gelu"), stats, {}, TempDir("d"))
          .status(),
      StatusCode::kInvalidArgument, {"dense", "FFF"});
  Model two = Load(GoldenDir("fff-2x2"));
  const RoutingStats other = Count(two, ids);
  ExpectError(PruneFffCheckpoint(src, other, {}, TempDir("o")).status(),
              StatusCode::kInvalidArgument, {"visit counts"});
  ExpectError(PruneFffCheckpoint(pruned, stats, {}, pruned).status(),
              StatusCode::kInvalidArgument, {"source model's folder"});
  PruneOptions negative;
  negative.threshold = -1;
  ExpectError(PruneFffCheckpoint(src, stats, negative, TempDir("n")).status(),
              StatusCode::kInvalidArgument, {"threshold"});
}

}  // namespace
}  // namespace fff
