// `fff routes` (tools/cli/routes.h).
#include "tools/cli/routes.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include "fff/routing.h"
#include "tools/cli/cli_util.h"
#include "tools/train/glue/glue_tasks.h"

namespace fff::cli {
namespace {

// The texts to route, with their classes for a labelled GLUE split.
struct RouteInput {
  std::vector<std::string> a, b;  // b empty, or one per text (pairs)
  std::vector<int32_t> labels;    // empty, or one per text
  int64_t n_classes = 0;
  std::string file;  // for error messages: texts are "<file>:line N"
};

Result<RouteInput> ReadInput(const CommonOptions& o, const RoutesOptions& r) {
  RouteInput in;
  if (!r.glue_task.empty()) {
    if (!r.file.empty() || !o.texts.empty()) {
      return InvalidArgumentError(
          "usage: give texts, --file or --glue, not several");
    }
    FFF_ASSIGN_OR_RETURN(glue::GlueTask task, glue::ParseGlueTask(r.glue_task));
    const glue::GlueTaskInfo& info = glue::GetGlueTaskInfo(task);
    FFF_ASSIGN_OR_RETURN(std::vector<glue::GlueExample> ex,
                         glue::LoadGlueSplit(r.glue_dir, task, r.split));
    in.n_classes = info.n_labels >= 2 ? info.n_labels : 0;
    if (in.n_classes == 0) {
      std::fprintf(stderr,
                   "fff: %s is a regression task: routing is counted without "
                   "classes\n",
                   std::string(info.name).c_str());
    }
    for (glue::GlueExample& e : ex) {
      in.a.push_back(std::move(e.text_a));
      if (info.is_pair) in.b.push_back(std::move(e.text_b));
      if (in.n_classes > 0) in.labels.push_back(static_cast<int32_t>(e.label));
    }
    in.file = fmt::format("{}/{}/{}.tsv", r.glue_dir, info.folder, r.split);
  } else if (!r.file.empty()) {
    if (!o.texts.empty()) {
      return InvalidArgumentError("usage: give texts or --file, not both");
    }
    std::ifstream f(r.file, std::ios::binary);
    if (!f) return NotFoundError(fmt::format("--file {}: cannot open", r.file));
    std::string line;
    while (std::getline(f, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      in.a.push_back(std::move(line));
    }
    in.file = r.file;
  } else {
    in.a = ReadTexts(o);
  }
  if (r.max_texts > 0 && static_cast<int64_t>(in.a.size()) > r.max_texts) {
    in.a.resize(static_cast<size_t>(r.max_texts));
    if (!in.b.empty()) in.b.resize(static_cast<size_t>(r.max_texts));
    if (!in.labels.empty()) in.labels.resize(static_cast<size_t>(r.max_texts));
  }
  if (in.a.empty()) return InvalidArgumentError("usage: no texts to route");
  return in;
}

// The breadth-first nodes of token `t`'s path in tree `tree` of one layer's
// trace (leaf FFF: the routers, then the leaf as node n_routers + leaf).
json PathJson(const RoutingStats& s, const std::vector<int32_t>& layer_trace,
              int64_t t, int64_t tree) {
  json path = json::array();
  if (s.leaf_fff()) {
    std::vector<int64_t> nodes;
    for (int64_t node = s.n_leaves() - 1 + layer_trace[static_cast<size_t>(t)];;
         node = (node - 1) / 2) {
      nodes.push_back(node);
      if (node == 0) break;
    }
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it)
      path.push_back(*it);
  } else {
    const int64_t levels = s.depth() + 1;
    const size_t base = static_cast<size_t>((t * s.n_trees() + tree) * levels);
    for (int64_t l = 0; l < levels; ++l) {
      path.push_back(layer_trace[base + static_cast<size_t>(l)]);
    }
  }
  return path;
}

json TreeJson(const RoutingStats& s, const TreeSummary& t) {
  json levels = json::array();
  for (const LevelBalance& b : t.levels) {
    json l = {{"level", b.level},
              {"nodes", b.n_nodes},
              {"unvisited", b.n_unvisited},
              {"unvisited_fraction", b.unvisited_fraction},
              {"occupancy_bits", b.occupancy_bits}};
    if (b.level < s.depth()) l["split_entropy_bits"] = b.split_entropy_bits;
    levels.push_back(l);
  }
  const auto v = s.visits(t.layer, t.tree);
  json j = {{"tree", t.tree},
            {"leaves_used", t.leaves_used},
            {"max_leaf_share", t.max_leaf_share},
            {"leaf_histogram", t.leaf_histogram},
            {"levels", levels},
            {"visits", std::vector<int64_t>(v.begin(), v.end())}};
  if (s.n_classes() > 0) {
    j["label_entropy_bits"] = t.label_entropy_bits;
    j["leaf_label_mi_bits"] = t.leaf_label_mi_bits;
    j["leaves_used_by_class"] = t.leaves_used_by_class;
    const auto cl = s.class_leaf_visits(t.layer, t.tree);
    json rows = json::array();
    for (int64_t c = 0; c < s.n_classes(); ++c) {
      rows.push_back(std::vector<int64_t>(cl.begin() + c * s.n_leaves(),
                                          cl.begin() + (c + 1) * s.n_leaves()));
    }
    j["class_leaf_visits"] = rows;
  }
  return j;
}

}  // namespace

Result<RoutingStats> CountRoutes(Model& m, const CommonOptions& o,
                                 const RoutesOptions& r, int64_t* n_texts) {
  FFF_ASSIGN_OR_RETURN(RouteInput in, ReadInput(o, r));
  FFF_ASSIGN_OR_RETURN(RoutingStats stats,
                       RoutingStats::Create(m.config(), in.n_classes));
  const Tokenizer& tok = *m.tokenizer();
  std::unique_ptr<std::ofstream> paths;
  if (!r.paths.empty()) {
    paths = std::make_unique<std::ofstream>(r.paths);
    if (!*paths) {
      return NotFoundError(fmt::format("--paths {}: cannot open", r.paths));
    }
  }
  EncoderTrace trace;
  trace.routing_only = true;
  std::vector<float> hidden;
  Progress progress(in.a.size());
  for (size_t start = 0; start < in.a.size();
       start += static_cast<size_t>(o.batch_size)) {
    const size_t end =
        std::min(in.a.size(), start + static_cast<size_t>(o.batch_size));
    std::vector<Encoding> enc;
    for (size_t i = start; i < end; ++i) {
      Result<Encoding> e =
          EncodeText(tok, m, o, i, in.a[i], in.b.empty() ? nullptr : &in.b[i]);
      if (!e.ok()) {
        if (in.file.empty()) return e.status();
        return Status(e.status().code(),
                      fmt::format("{}:line {}: {}", in.file, i + 1,
                                  e.status().message()));
      }
      enc.push_back(std::move(*e));
    }
    std::vector<std::span<const int32_t>> seqs;
    std::vector<int64_t> lengths;
    for (const Encoding& e : enc) {
      seqs.emplace_back(e.ids);
      lengths.push_back(static_cast<int64_t>(e.ids.size()));
    }
    FFF_RETURN_IF_ERROR(m.Encode(seqs, &hidden, &trace, TypeIds(m, enc)));
    const std::span<const int32_t> labels =
        in.labels.empty()
            ? std::span<const int32_t>()
            : std::span<const int32_t>(in.labels).subspan(start, end - start);
    FFF_RETURN_IF_ERROR(stats.Add(trace, lengths, labels));
    if (paths) {
      int64_t t = 0;
      for (size_t s = 0; s < enc.size(); ++s) {
        for (size_t j = 0; j < enc[s].ids.size(); ++j, ++t) {
          json layers = json::array();
          for (int64_t li = 0; li < stats.n_layers(); ++li) {
            json trees = json::array();
            for (int64_t tree = 0; tree < stats.n_trees(); ++tree) {
              trees.push_back(PathJson(
                  stats, trace.routings[static_cast<size_t>(li)], t, tree));
            }
            layers.push_back(trees);
          }
          json line = {{"text", start + s},
                       {"token", j},
                       {"id", enc[s].ids[j]},
                       {"piece", tok.IdToToken(enc[s].ids[j])},
                       {"layers", layers}};
          if (!in.labels.empty()) line["label"] = in.labels[start + s];
          *paths << line.dump(-1, ' ', false, json::error_handler_t::replace)
                 << '\n';
        }
      }
    }
    progress.Update(end);
  }
  if (paths && !paths->flush()) {
    return NotFoundError(fmt::format("--paths {}: write failed", r.paths));
  }
  if (n_texts != nullptr) *n_texts = static_cast<int64_t>(in.a.size());
  return stats;
}

Status RunRoutes(const CommonOptions& o, const RoutesOptions& r) {
  std::string dir;
  FFF_ASSIGN_OR_RETURN(Model m, LoadModel(o, &dir));
  const ModelConfig& c = m.config();
  // Fails early, before any text is read, for a model without routing.
  FFF_RETURN_IF_ERROR(RoutingStats::Create(c).status());
  int64_t n_texts = 0;
  FFF_ASSIGN_OR_RETURN(RoutingStats stats, CountRoutes(m, o, r, &n_texts));

  json report = {{"model", dir},
                 {"ff", FfName(c)},
                 {"leaf_fff", stats.leaf_fff()},
                 {"layers_count", stats.n_layers()},
                 {"trees", stats.n_trees()},
                 {"depth", stats.depth()},
                 {"texts", n_texts},
                 {"tokens", stats.n_tokens()},
                 {"classes", stats.n_classes()}};
  if (!r.glue_task.empty()) {
    report["glue_task"] = r.glue_task;
    report["split"] = r.split;
  }
  if (stats.n_classes() > 0) {
    const auto ct = stats.class_tokens();
    report["class_tokens"] = std::vector<int64_t>(ct.begin(), ct.end());
  }
  std::string table =
      "| layer | tree | tokens | leaves used | busiest leaf | min split "
      "bits | unvisited nodes |";
  std::string rule = "|---|---:|---:|---:|---:|---:|---:|";
  if (stats.n_classes() > 0) {
    table += " I(leaf; class) bits |";
    rule += "---:|";
  }
  if (c.fff_pruned) {
    table += " pruned nodes | walks stopped |";
    rule += "---:|---:|";
  }
  table += "\n" + rule + "\n";
  json layers = json::array();
  for (int64_t li = 0; li < stats.n_layers(); ++li) {
    json trees = json::array();
    for (int64_t tree = 0; tree < stats.n_trees(); ++tree) {
      const TreeSummary t =
          SummarizeTree(stats, li, tree, m.fff_kept_nodes(li));
      json tj = TreeJson(stats, t);
      if (c.fff_pruned) {
        tj["pruned_nodes"] = t.pruned_nodes;
        tj["pruned_stops"] = t.pruned_stops;
      }
      trees.push_back(tj);
      double min_split = 1;
      int64_t unvisited = 0;
      for (const LevelBalance& b : t.levels) {
        if (b.level < stats.depth()) {
          min_split = std::min(min_split, b.split_entropy_bits);
        }
        unvisited += b.n_unvisited;
      }
      table +=
          fmt::format("| {} | {} | {} | {}/{} | {:.3f} | {:.3f} | {}/{} |", li,
                      tree, t.n_tokens, t.leaves_used, stats.n_leaves(),
                      t.max_leaf_share, min_split, unvisited, stats.n_nodes());
      if (stats.n_classes() > 0) {
        table += fmt::format(" {:.4f} |", t.leaf_label_mi_bits);
      }
      if (c.fff_pruned) {
        table += fmt::format(" {} | {} |", t.pruned_nodes, t.pruned_stops);
      }
      table += "\n";
    }
    layers.push_back({{"layer", li}, {"trees", trees}});
  }
  report["layers"] = layers;
  const std::string text =
      report.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  if (r.out.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    std::ofstream f(r.out);
    f << text;
    if (!f.flush()) {
      return NotFoundError(fmt::format("--out {}: write failed", r.out));
    }
  }
  std::fputs(table.c_str(), stderr);
  return Status::Ok();
}

}  // namespace fff::cli
