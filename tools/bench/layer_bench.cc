#include "tools/bench/layer_bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <vector>

#include "build_info.h"
#include "fff/dense_ff.h"
#include "fff/fff.h"
#include "src/base/aligned_buffer.h"
#include "tests/testing/fff_testing.h"
#include "tools/bench/report.h"

namespace fff::bench {
namespace {

// Rows of x the calls draw from: the batch itself, or for fresh inputs a
// pool of distinct rows that calls walk through. 64-byte aligned, as the
// model's arrays are (and testing::FffWeights): a plain std::vector's data is
// only 16-byte aligned, which splits every 64-byte vector load across two
// cache lines and slowed the FFF kernels by 10-25 % (docs/benchmarks.md).
struct InputPool {
  AlignedVector<float> x;
  AlignedVector<float> y;
  int64_t rows = 0;
};

InputPool MakePool(int64_t d_model, int64_t batch, bool fresh, uint64_t seed) {
  InputPool p;
  p.rows = fresh ? std::max<int64_t>(2 * batch, 8192) : batch;
  const std::vector<float> x = testing::MakeNormalRows(p.rows, d_model, seed);
  p.x.assign(x.begin(), x.end());
  p.y.assign(static_cast<size_t>(p.rows * d_model), 0.0f);
  return p;
}

// The call's window of the pool: consecutive batches, wrapping around.
struct Cursor {
  int64_t next = 0;
  int64_t Take(const InputPool& pool, int64_t batch) {
    if (next + batch > pool.rows) next = 0;
    const int64_t at = next;
    next += batch;
    return at;
  }
};

FffStrategy ParseStrategy(const std::string& s) {
  if (s == "row_walk") return FffStrategy::kRowWalk;
  if (s == "level_batched") return FffStrategy::kLevelBatched;
  return FffStrategy::kAuto;
}

struct DenseModel {
  std::vector<float> w1, b1, w2, b2;
};

// crammedBERT's init, as for the FFF weights (the values do not change the
// dense op's speed).
DenseModel MakeDense(int64_t d, int64_t h, uint64_t seed) {
  DenseModel m;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.02f);
  for (auto* v : {&m.w1, &m.b1, &m.w2, &m.b2}) {
    const size_t size = v == &m.w1 || v == &m.w2 ? h * d : v == &m.b1 ? h : d;
    v->resize(size);
    for (float& e : *v) e = n(rng);
  }
  return m;
}

}  // namespace

Result<LayerBenchReport> RunLayerBench(const LayerBenchOptions& o) {
  LayerBenchReport report;
  report.options = o;
  report.machine = ReadMachineInfo();
  const double start = Now();
  const int64_t d = o.d_model;

  // Weights, made once per model (deterministic synthetic values).
  std::map<int64_t, DenseModel> dense;
  for (int64_t h : o.dense_widths) dense[h] = MakeDense(d, h, o.seed + h);
  std::vector<testing::FffWeights> fff;  // 64-byte aligned
  for (auto [trees, depth] : o.variants) {
    FffShape s{d, d, depth, trees};
    FFF_RETURN_IF_ERROR(ValidateFffShape(s));
    fff.push_back(testing::MakeInitWeights(s, o.seed + 7 * trees + depth));
  }

  for (int threads : o.threads) {
    report.peaks.push_back(MeasurePeaks(threads, o.reps));
    for (int64_t batch : o.batches) {
      InputPool pool = MakePool(d, batch, o.fresh_inputs, o.seed + batch);
      std::map<int64_t, double> dense_tps;  // width -> tokens/s
      // Seconds per token of the previous batch size, per model, to skip
      // configurations that would stall the run.
      auto run = [&](LayerResult& r, const std::function<Status(int64_t)>& fn,
                     double est_call_s) -> Status {
        r.threads = threads;
        r.batch = batch;
        if (est_call_s > o.max_call_s) {
          r.skipped = true;
          return Status::Ok();
        }
        Cursor cursor;
        Status st;
        auto call = [&] {
          Status s = fn(cursor.Take(pool, batch));
          if (!s.ok()) st = s;
        };
        // One untimed call decides the repetition count for slow models.
        const double t0 = Now();
        call();
        const int reps = (Now() - t0) > o.slow_call_s ? 3 : o.reps;
        r.timing = TimeCalls(call, reps, o.min_rep_s);
        FFF_RETURN_IF_ERROR(st);
        r.tokens_per_s = static_cast<double>(batch) / r.timing.median_s;
        r.gflops = r.flops_per_token * r.tokens_per_s / 1e9;
        r.gbs = r.bytes_per_call / r.timing.median_s / 1e9;
        const MachinePeaks& peak = report.peaks.back();
        r.bound_s = std::max(
            r.flops_per_token * batch / (peak.sgemm_gflops * 1e9),
            r.bytes_per_call / (peak.BandwidthFor(r.bytes_per_call) * 1e9));
        return Status::Ok();
      };
      auto view_x = [&](int64_t at) {
        return MatrixView<const float>(
            std::span<const float>(pool.x).subspan(at * d, batch * d), batch,
            d);
      };
      auto view_y = [&](int64_t at) {
        return MatrixView<float>(
            std::span<float>(pool.y).subspan(at * d, batch * d), batch, d);
      };
      const double xy_bytes = 2.0 * batch * d * sizeof(float);

      for (int64_t h : o.dense_widths) {
        LayerResult r;
        r.model = fmt::format("dense-{}", h);
        r.width = h;
        r.strategy = "onednn";
        r.flops_per_token = 2.0 * (d * h + h * d);
        r.bytes_per_call = 4.0 * (2.0 * d * h + h + d) + xy_bytes;
        const DenseModel& m = dense[h];
        DenseFfOptions dopt;
        dopt.n_threads = threads;
        FFF_ASSIGN_OR_RETURN(
            DenseFf op,
            DenseFf::Create({d, h, d}, {m.w1, m.b1, m.w2, m.b2}, dopt));
        if (batch >= 2048) {
          r.adjacent_sgemm_gflops = SgemmGflops(threads, o.reps);
        }
        // The baseline is never skipped: every ratio needs it.
        FFF_RETURN_IF_ERROR(run(
            r, [&](int64_t at) { return op.Forward(view_x(at), view_y(at)); },
            0.0));
        if (!r.skipped) dense_tps[h] = r.tokens_per_s;
        report.results.push_back(r);
      }
      for (size_t v = 0; v < o.variants.size(); ++v) {
        const testing::FffWeights& w = fff[v];
        const FffShape& s = w.shape;
        LayerResult r;
        r.is_fff = true;
        r.model = fmt::format("fff-{}x{}", s.n_trees, s.depth);
        r.n_trees = s.n_trees;
        r.depth = s.depth;
        r.flops_per_token = 2.0 * s.n_visited() * (s.d_in + s.d_out);
        FffOptions fopt;
        fopt.n_threads = threads;
        fopt.strategy = ParseStrategy(o.fff_strategy);
        fopt.stream_outputs_min_bytes = o.stream_outputs_min_bytes;
        fopt.dense_top_levels = o.dense_top_levels;
        FFF_ASSIGN_OR_RETURN(FffLayer layer,
                             FffLayer::Create(s, w.view(), fopt));
        r.strategy = FffStrategyName(layer.StrategyFor(batch));
        r.target = layer.target_name();
        // Estimate from the per-token time of this model at the previous
        // batch size (row costs are roughly linear beyond small batches).
        double est = 0;
        for (auto it = report.results.rbegin(); it != report.results.rend();
             ++it) {
          if (it->model == r.model && it->threads == threads && !it->skipped) {
            est = it->timing.median_s / it->batch * batch;
            break;
          }
        }
        // Compulsory bytes: every distinct node the first batch visits, once.
        if (est <= o.max_call_s) {
          std::vector<int32_t> nodes(
              static_cast<size_t>(batch * s.n_visited()));
          FFF_RETURN_IF_ERROR(layer.Forward(view_x(0), view_y(0), {nodes, {}}));
          std::vector<uint8_t> seen(static_cast<size_t>(s.n_total_nodes()));
          int64_t distinct = 0;
          for (size_t i = 0; i < nodes.size(); ++i) {
            const int64_t tree =
                static_cast<int64_t>(i % s.n_visited()) / (s.depth + 1);
            uint8_t& v =
                seen[static_cast<size_t>(tree * s.n_nodes() + nodes[i])];
            distinct += v == 0;
            v = 1;
          }
          r.bytes_per_call = 4.0 * distinct * (s.d_in + s.d_out + 1) + xy_bytes;
        }
        FFF_RETURN_IF_ERROR(run(
            r,
            [&](int64_t at) { return layer.Forward(view_x(at), view_y(at)); },
            est));
        if (!r.skipped) {
          if (dense_tps.count(3072)) {
            r.ratio_vs_dense3072 = r.tokens_per_s / dense_tps[3072];
            r.bound_ratio_vs_dense3072 =
                static_cast<double>(batch) / r.bound_s / dense_tps[3072];
          }
          if (dense_tps.count(4095)) {
            r.ratio_vs_dense4095 = r.tokens_per_s / dense_tps[4095];
          }
        }
        report.results.push_back(r);
      }
    }
  }
  report.wall_s = Now() - start;
  return report;
}

namespace {

// The targets, evaluated on this report's numbers (only those whose
// measurements are present).
struct TargetCheck {
  std::string what;
  int threads = 0;
  int64_t batch = 0;
  double measured = 0;
  double target = 0;
  bool met() const { return measured >= target; }
};

const LayerResult* Find(const LayerBenchReport& rep, const std::string& model,
                        int threads, int64_t batch) {
  for (const LayerResult& r : rep.results) {
    if (r.model == model && r.threads == threads && r.batch == batch &&
        !r.skipped) {
      return &r;
    }
  }
  return nullptr;
}

std::vector<TargetCheck> TargetChecks(const LayerBenchReport& rep) {
  std::vector<TargetCheck> out;
  for (int threads : rep.options.threads) {
    for (int64_t b : {1, 128, 2048, 16384}) {
      const LayerResult* f = Find(rep, "fff-1x11", threads, b);
      if (f != nullptr && f->ratio_vs_dense3072 > 0) {
        out.push_back({"fff-1x11 / dense-3072 tokens/s", threads, b,
                       f->ratio_vs_dense3072, b == 1 ? 600.0 : 100.0});
      }
    }
  }
  for (int threads : rep.options.threads) {
    for (int64_t b : rep.options.batches) {
      const LayerResult* d = Find(rep, "dense-3072", threads, b);
      if (b >= 2048 && d != nullptr && d->adjacent_sgemm_gflops > 0) {
        out.push_back(
            {"dense-3072 GFLOP/s / sgemm GFLOP/s measured just "
             "before",
             threads, b, d->gflops / d->adjacent_sgemm_gflops, 0.85});
      }
    }
  }
  for (int64_t b : rep.options.batches) {
    const LayerResult* one = Find(rep, "fff-1x11", 1, b);
    const LayerResult* two = Find(rep, "fff-1x11", 2, b);
    if (b >= 2048 && one != nullptr && two != nullptr) {
      out.push_back({"fff-1x11 tokens/s, 2 threads / 1 thread", 2, b,
                     two->tokens_per_s / one->tokens_per_s, 1.8});
    }
  }
  return out;
}

}  // namespace

std::string LayerReportJson(const LayerBenchReport& rep,
                            const std::string& command) {
  using nlohmann::json;
  json j = ReportHeader("layer", command, rep.machine);
  j["options"] = {
      {"d_model", rep.options.d_model},
      {"reps", rep.options.reps},
      {"fresh_inputs", rep.options.fresh_inputs},
      {"fff_strategy", rep.options.fff_strategy},
      {"stream_outputs_min_bytes", rep.options.stream_outputs_min_bytes},
      {"dense_top_levels", rep.options.dense_top_levels},
      {"max_call_s", rep.options.max_call_s}};
  for (const MachinePeaks& p : rep.peaks) {
    j["peaks"].push_back({{"threads", p.n_threads},
                          {"sgemm_gflops", p.sgemm_gflops},
                          {"triad_dram_gbs", p.triad_dram_gbs},
                          {"triad_cache_gbs", p.triad_cache_gbs},
                          {"triad_l2_gbs", p.triad_l2_gbs},
                          {"core_round_trip_ns", p.core_round_trip_ns},
                          {"l2_bytes", p.l2_bytes}});
  }
  for (const LayerResult& r : rep.results) {
    json e = {{"model", r.model},
              {"threads", r.threads},
              {"batch", r.batch},
              {"skipped", r.skipped}};
    if (!r.skipped) {
      e["strategy"] = r.strategy;
      if (r.is_fff) e["target"] = r.target;
      e["median_s"] = r.timing.median_s;
      e["min_s"] = r.timing.min_s;
      e["max_s"] = r.timing.max_s;
      e["reps"] = r.timing.reps;
      e["calls_per_rep"] = r.timing.calls_per_rep;
      e["tokens_per_s"] = r.tokens_per_s;
      e["gflops"] = r.gflops;
      e["gbs"] = r.gbs;
      e["bytes_per_call"] = r.bytes_per_call;
      e["bound_s"] = r.bound_s;
      if (r.adjacent_sgemm_gflops > 0) {
        e["adjacent_sgemm_gflops"] = r.adjacent_sgemm_gflops;
      }
      if (r.is_fff) {
        e["ratio_vs_dense3072"] = r.ratio_vs_dense3072;
        e["ratio_vs_dense4095"] = r.ratio_vs_dense4095;
        e["bound_ratio_vs_dense3072"] = r.bound_ratio_vs_dense3072;
      }
    }
    j["results"].push_back(e);
  }
  for (const TargetCheck& t : TargetChecks(rep)) {
    j["targets"].push_back({{"what", t.what},
                            {"threads", t.threads},
                            {"batch", t.batch},
                            {"measured", t.measured},
                            {"target", t.target},
                            {"met", t.met()}});
  }
  j["wall_s"] = rep.wall_s;
  return j.dump(1);
}

std::string LayerReportMarkdown(const LayerBenchReport& rep,
                                const std::string& command) {
  std::string out;
  out += fmt::format("`{}` — commit {}, {} ({} CPUs){}\n\n", command,
                     FFF_GIT_COMMIT, rep.machine.cpu_model, rep.machine.n_cpus,
                     rep.machine.env.empty() ? "" : ", " + rep.machine.env);
  out += fmt::format(
      "Inputs: {}. Medians of {} repetitions after warm-up. Ratio = FFF "
      "tokens/s over dense-3072 tokens/s at the same threads and batch.\n\n",
      rep.options.fresh_inputs ? "a fresh batch every call"
                               : "the same batch every call",
      rep.options.reps);
  for (const MachinePeaks& p : rep.peaks) {
    out += fmt::format(
        "Measured peaks, {} thread(s): sgemm {:.0f} GFLOP/s; triad {:.1f} "
        "GB/s (DRAM, 3x128 MiB), {:.1f} GB/s (L3, 3x4 MiB), {:.1f} GB/s (L2, "
        "3x256 KiB){}.\n",
        p.n_threads, p.sgemm_gflops, p.triad_dram_gbs, p.triad_cache_gbs,
        p.triad_l2_gbs,
        p.core_round_trip_ns > 0
            ? fmt::format("; core-to-core round trip {:.0f} ns",
                          p.core_round_trip_ns)
            : "");
  }
  out += "\n";
  for (int threads : rep.options.threads) {
    out +=
        fmt::format("**FFF / dense-3072, {} thread(s)**\n\n| model |", threads);
    for (int64_t b : rep.options.batches) out += fmt::format(" B={} |", b);
    out += "\n|---|";
    for (size_t i = 0; i < rep.options.batches.size(); ++i) out += "---:|";
    out += "\n";
    std::vector<std::string> models;
    for (const LayerResult& r : rep.results) {
      if (std::find(models.begin(), models.end(), r.model) == models.end()) {
        models.push_back(r.model);
      }
    }
    for (const std::string& m : models) {
      out += "| " + m + " |";
      for (int64_t b : rep.options.batches) {
        std::string cell = " |";
        for (const LayerResult& r : rep.results) {
          if (r.model != m || r.threads != threads || r.batch != b) continue;
          if (r.skipped) {
            cell = " skipped |";
          } else if (r.is_fff) {
            cell = r.ratio_vs_dense3072 > 0
                       ? fmt::format(" {:.1f}x |", r.ratio_vs_dense3072)
                       : " n/a |";
          } else {
            cell = fmt::format(" {:.3g} tok/s |", r.tokens_per_s);
          }
        }
        out += cell;
      }
      out += "\n";
    }
    out += "\n";
  }
  out +=
      "| threads | batch | model | strategy | us/call (median) | tokens/s | "
      "GFLOP/s | GB/s | vs dense-3072 | vs dense-4095 | roofline us/call | "
      "roofline vs dense-3072 |\n"
      "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const LayerResult& r : rep.results) {
    if (r.skipped) {
      out += fmt::format(
          "| {} | {} | {} | skipped (est. > {} s/call) | | | | "
          "| | | | |\n",
          r.threads, r.batch, r.model, rep.options.max_call_s);
      continue;
    }
    out += fmt::format(
        "| {} | {} | {} | {} | {:.2f} | {:.4g} | {:.1f} | {:.1f} | {} | {} | "
        "{:.2f} | {} |\n",
        r.threads, r.batch, r.model,
        r.is_fff ? r.strategy + " " + r.target : r.strategy,
        r.timing.median_s * 1e6, r.tokens_per_s, r.gflops, r.gbs,
        r.is_fff && r.ratio_vs_dense3072 > 0
            ? fmt::format("{:.1f}x", r.ratio_vs_dense3072)
            : "",
        r.is_fff && r.ratio_vs_dense4095 > 0
            ? fmt::format("{:.1f}x", r.ratio_vs_dense4095)
            : "",
        r.bound_s * 1e6,
        r.is_fff && r.bound_ratio_vs_dense3072 > 0
            ? fmt::format("{:.0f}x", r.bound_ratio_vs_dense3072)
            : "");
  }
  const std::vector<TargetCheck> checks = TargetChecks(rep);
  if (!checks.empty()) {
    out +=
        "\n**Targets (issue 2)**\n\n| check | threads | batch | measured "
        "| target | met |\n|---|---:|---:|---:|---:|---|\n";
    for (const TargetCheck& t : checks) {
      out += fmt::format("| {} | {} | {} | {:.3g} | >= {:g} | {} |\n", t.what,
                         t.threads, t.batch, t.measured, t.target,
                         t.met() ? "yes" : "no");
    }
  }
  out += fmt::format("\nWall time: {:.0f} s.\n", rep.wall_s);
  return out;
}

}  // namespace fff::bench
