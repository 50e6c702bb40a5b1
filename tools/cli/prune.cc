// `fff prune` and `fff glue-eval` (tools/cli/prune.h).
#include "tools/cli/prune.h"

#include <fmt/format.h>

#include <algorithm>

#include "fff/prune.h"
#include "tools/cli/cli_util.h"
#include "tools/train/glue/glue_metrics.h"
#include "tools/train/glue/glue_tasks.h"

namespace fff::cli {

Status RunPrune(const CommonOptions& o, const RoutesOptions& r,
                const std::vector<int64_t>& thresholds,
                const std::string& out) {
  std::string dir;
  FFF_ASSIGN_OR_RETURN(Model m, LoadModel(o, &dir));
  FFF_RETURN_IF_ERROR(RoutingStats::Create(m.config()).status());
  int64_t n_texts = 0;
  FFF_ASSIGN_OR_RETURN(RoutingStats stats, CountRoutes(m, o, r, &n_texts));
  for (const int64_t threshold : thresholds) {
    const std::string out_dir =
        thresholds.size() == 1 ? out : fmt::format("{}-t{}", out, threshold);
    PruneOptions po;
    po.threshold = threshold;
    po.counted_on =
        !r.glue_task.empty() ? fmt::format("glue {} {} ({} texts)", r.glue_task,
                                           r.split, n_texts)
        : !r.file.empty()    ? fmt::format("{} ({} texts)", r.file, n_texts)
                             : fmt::format("{} texts", n_texts);
    FFF_ASSIGN_OR_RETURN(PruneReport rep,
                         PruneFffCheckpoint(dir, stats, po, out_dir));
    json layers = json::array();
    std::string table =
        "| layer | nodes | kept | kept share | FFF bytes "
        "|\n|---:|---:|---:|---:|---:|\n";
    for (const PruneLayerReport& l : rep.layers) {
      layers.push_back({{"layer", l.layer},
                        {"nodes", l.nodes},
                        {"kept_nodes", l.kept_nodes},
                        {"fff_bytes", l.fff_bytes}});
      table += fmt::format("| {} | {} | {} | {:.3f} | {} |\n", l.layer, l.nodes,
                           l.kept_nodes, double(l.kept_nodes) / double(l.nodes),
                           l.fff_bytes);
    }
    PrintLine({{"model", dir},
               {"out", out_dir},
               {"threshold", threshold},
               {"counted_on", po.counted_on},
               {"tokens", stats.n_tokens()},
               {"source_fff_bytes", rep.source_fff_bytes},
               {"fff_bytes", rep.fff_bytes},
               {"source_file_bytes", rep.source_file_bytes},
               {"file_bytes", rep.file_bytes},
               {"layers", layers}});
    table += fmt::format("FFF bytes {} -> {} ({:.3f}); file {} -> {} bytes\n",
                         rep.source_fff_bytes, rep.fff_bytes,
                         double(rep.fff_bytes) / double(rep.source_fff_bytes),
                         rep.source_file_bytes, rep.file_bytes);
    std::fputs(table.c_str(), stderr);
  }
  return Status::Ok();
}

Status RunGlueEval(const CommonOptions& o, const GlueEvalOptions& g) {
  std::string dir;
  FFF_ASSIGN_OR_RETURN(Model m, LoadModel(o, &dir));
  FFF_ASSIGN_OR_RETURN(glue::GlueTask task, glue::ParseGlueTask(g.task));
  const glue::GlueTaskInfo& info = glue::GetGlueTaskInfo(task);
  if (m.n_labels() != info.n_labels) {
    return InvalidArgumentError(fmt::format(
        "{}: the model's classifier has {} output(s), task {} needs {}", dir,
        m.n_labels(), info.name, info.n_labels));
  }
  FFF_ASSIGN_OR_RETURN(std::vector<glue::GlueExample> ex,
                       glue::LoadGlueSplit(g.glue_dir, task, g.split));
  if (g.max_examples > 0 && static_cast<int64_t>(ex.size()) > g.max_examples) {
    ex.resize(static_cast<size_t>(g.max_examples));
  }
  const Tokenizer& tok = *m.tokenizer();
  std::vector<float> predictions, labels, logits;
  for (size_t start = 0; start < ex.size();
       start += static_cast<size_t>(o.batch_size)) {
    const size_t end =
        std::min(ex.size(), start + static_cast<size_t>(o.batch_size));
    std::vector<Encoding> enc;
    for (size_t i = start; i < end; ++i) {
      FFF_ASSIGN_OR_RETURN(Encoding e,
                           EncodeText(tok, m, o, i, ex[i].text_a,
                                      info.is_pair ? &ex[i].text_b : nullptr));
      enc.push_back(std::move(e));
      labels.push_back(ex[i].label);
    }
    std::vector<std::span<const int32_t>> seqs;
    for (const Encoding& e : enc) seqs.emplace_back(e.ids);
    FFF_RETURN_IF_ERROR(m.Classify(seqs, &logits, TypeIds(m, enc)));
    const int64_t nl = m.n_labels();
    for (size_t s = 0; s < enc.size(); ++s) {
      const float* row = logits.data() + s * static_cast<size_t>(nl);
      predictions.push_back(
          nl == 1 ? row[0]
                  : static_cast<float>(std::max_element(row, row + nl) - row));
    }
  }
  const glue::GlueScores scores = glue::ScoreGlue(task, predictions, labels);
  json metrics = json::object();
  for (const auto& [k, v] : scores.metrics) metrics[k] = v;
  PrintLine({{"model", dir},
             {"task", info.name},
             {"split", g.split},
             {"examples", ex.size()},
             {"metrics", metrics},
             {"main", scores.main}});
  return Status::Ok();
}

}  // namespace fff::cli
