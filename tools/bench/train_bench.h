// `fff-bench train-layer`: one training step (forward + backward) of an FFF
// layer, computed conditionally by fff against the two dense ways to train
// it, in the same run, same threads, same inputs:
//   conditional   FffLayer::Forward (with routing) + zeroing the weight
//                 gradients + FffLayer::Backward (only visited nodes);
//   masked-dense  the paper's training computation: all logits (oneDNN
//                 sgemm), GELU, the 0/1 path mask, one dense product with all
//                 of w_out; backward = four more sgemms, the mask and GELU'
//                 (oneDNN eltwise), the bias column sums;
//   dense         a plain GELU feedforward of the same width (no mask, no
//                 bias): six sgemms and GELU/GELU'.
#ifndef FFF_TOOLS_BENCH_TRAIN_BENCH_H_
#define FFF_TOOLS_BENCH_TRAIN_BENCH_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fff/status.h"
#include "tools/bench/machine.h"
#include "tools/bench/timing.h"

namespace fff::bench {

struct TrainBenchOptions {
  int64_t d_model = 768;
  int64_t rows = 4096;  // tokens per step
  std::vector<int> threads = {1, 2};
  // (n_trees, depth): UltraFastBERT's variants.
  std::vector<std::pair<int64_t, int64_t>> variants = {
      {1, 11}, {2, 10}, {8, 8}, {64, 5}, {512, 2}, {3072, 0}};
  int reps = 3;
  uint64_t seed = 1;
};

struct TrainResult {
  std::string model;  // fff-1x11
  int64_t n_trees = 0, depth = 0, width = 0;  // width = n_trees * n_nodes
  int threads = 1;
  Timing conditional, masked_dense, dense;
  double speedup_vs_masked = 0;  // masked-dense time / conditional time
  double speedup_vs_dense = 0;
  double conditional_gflop = 0;  // FLOPs of one step (2 per multiply-add)
  double dense_gflop = 0;
};

struct TrainBenchReport {
  TrainBenchOptions options;
  MachineInfo machine;
  std::string target;  // SIMD target of the FFF kernels
  std::vector<TrainResult> results;
  double wall_s = 0;
};

Result<TrainBenchReport> RunTrainBench(const TrainBenchOptions& options);
std::string TrainReportJson(const TrainBenchReport& report,
                            const std::string& command);
std::string TrainReportMarkdown(const TrainBenchReport& report,
                                const std::string& command);

}  // namespace fff::bench

#endif  // FFF_TOOLS_BENCH_TRAIN_BENCH_H_
