// `fff-bench layer`: tokens per second of FFF layers against the dense
// feedforward on oneDNN, measured in the same run, same threads, same inputs.
#ifndef FFF_TOOLS_BENCH_LAYER_BENCH_H_
#define FFF_TOOLS_BENCH_LAYER_BENCH_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fff/status.h"
#include "tools/bench/machine.h"
#include "tools/bench/timing.h"

namespace fff::bench {

struct LayerBenchOptions {
  int64_t d_model = 768;
  std::vector<int> threads = {1, 2};
  std::vector<int64_t> batches = {1, 16, 128, 2048, 16384};
  // (n_trees, depth): the UltraFastBERT paper's variants.
  std::vector<std::pair<int64_t, int64_t>> variants = {
      {3072, 0}, {1536, 1}, {512, 2}, {256, 3}, {128, 4}, {64, 5},
      {32, 6},   {16, 7},   {8, 8},   {4, 9},   {2, 10},  {1, 11}};
  std::vector<int64_t> dense_widths = {3072, 4095};
  int reps = 7;             // timed repetitions (median reported)
  double min_rep_s = 0.02;  // calls per repetition fill at least this
  // A configuration whose single call is estimated above this is skipped
  // (reported as such) rather than stalling the run.
  double max_call_s = 1.0;
  // Calls slower than this get 3 repetitions instead of `reps`.
  double slow_call_s = 0.2;
  // false: every call reuses the same batch (the usual method); true: each
  // call takes the next batch from a pool of distinct rows (no row, and so
  // no tree path, repeats between consecutive calls).
  bool fresh_inputs = false;
  std::string fff_strategy = "auto";  // auto | row_walk | level_batched
  // FffOptions::stream_outputs_min_bytes (-1: the plan's default).
  int64_t stream_outputs_min_bytes = -1;
  // FffOptions::dense_top_levels (-1: the plan's default).
  int64_t dense_top_levels = -1;
  uint64_t seed = 1;
};

struct LayerResult {
  std::string model;  // "dense-3072", "fff-1x11", ...
  bool is_fff = false;
  int64_t n_trees = 0, depth = 0, width = 0;  // width: dense hidden size
  int threads = 1;
  int64_t batch = 0;
  bool skipped = false;
  std::string strategy;  // FFF strategy used / "onednn"
  std::string target;    // SIMD target of the FFF kernels
  Timing timing;
  double tokens_per_s = 0;
  double flops_per_token = 0;
  double bytes_per_call = 0;  // compulsory: weights touched + x + y
  double gflops = 0;
  double gbs = 0;
  double ratio_vs_dense3072 = 0;  // tokens/s over dense-3072's (same run)
  double ratio_vs_dense4095 = 0;
  // Roofline: the least time a call can take, max(FLOPs at the measured
  // sgemm rate, compulsory bytes at the measured bandwidth of the level the
  // working set fits in), and the FFF/dense-3072 ratio that time would give.
  double bound_s = 0;
  double bound_ratio_vs_dense3072 = 0;
  // Dense only, batch >= 2048: the sgemm rate measured right before this
  // measurement (the machine's speed drifts over a run).
  double adjacent_sgemm_gflops = 0;
};

struct LayerBenchReport {
  LayerBenchOptions options;
  MachineInfo machine;
  std::vector<MachinePeaks> peaks;  // one per thread count
  std::vector<LayerResult> results;
  double wall_s = 0;
};

Result<LayerBenchReport> RunLayerBench(const LayerBenchOptions& options);

// Machine-readable report (JSON text).
std::string LayerReportJson(const LayerBenchReport& report,
                            const std::string& command);
// Markdown: a summary table (FFF/dense-3072 per variant and batch) per
// thread count, then every measurement.
std::string LayerReportMarkdown(const LayerBenchReport& report,
                                const std::string& command);

}  // namespace fff::bench

#endif  // FFF_TOOLS_BENCH_LAYER_BENCH_H_
