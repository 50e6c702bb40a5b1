// fff-cuda-bench's configuration: the fixed dimensions every measurement
// uses, the paper's FFF variants, and the command-line options (parsed in
// fff_cuda_bench.cu into g_opt, which the other parts of the bench read).
// Host-only.
#ifndef FFF_TOOLS_BENCH_CUDA_CONFIG_H_
#define FFF_TOOLS_BENCH_CUDA_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fff::cuda_bench {

inline constexpr int64_t kDModel = 768;  // d_in = d_out of every layer here
inline constexpr int64_t kDenseHidden = 3072;  // BERT-base FF width
inline constexpr int64_t kGemmCeilingDim = 8192;
inline constexpr size_t kCopyBytes = size_t{1} << 30;
inline constexpr size_t kLtWorkspaceBytes = size_t{32} << 20;
inline constexpr float kWeightStd = 0.02f;

struct Variant {
  int64_t n_trees;
  int64_t depth;
};

// The paper's twelve variants, 3072x0 .. 1x11 (the report's order).
inline const std::vector<Variant>& PaperVariants() {
  static const std::vector<Variant> v = {
      {3072, 0}, {1536, 1}, {512, 2}, {256, 3}, {128, 4}, {64, 5},
      {32, 6},   {16, 7},   {8, 8},   {4, 9},   {2, 10},  {1, 11}};
  return v;
}

inline std::string VariantName(const Variant& v) {
  return std::to_string(v.n_trees) + "x" + std::to_string(v.depth);
}

struct Options {
  std::vector<int64_t> tokens = {1, 128, 8192, 65536};
  std::vector<Variant> variants = PaperVariants();
  std::string json_path;
  std::string markdown_path;
  std::string commit;
  uint64_t seed = 0x5eed2023;
  int max_reps = 20;
  int min_reps = 3;
  double target_ms = 250;    // timed work per measurement
  double time_budget_s = 0;  // 0: none; else later measurements are skipped
  int check_rows = 64;
  bool naive = true;
  // The naive kernel is skipped above this many (row, visited node) pairs:
  // one thread per row runs for seconds there and times little of interest.
  int64_t naive_max_visits = int64_t{1} << 26;
  bool ceilings = true;
};

// The run's options (defined and parsed in fff_cuda_bench.cu).
extern Options g_opt;

}  // namespace fff::cuda_bench

#endif  // FFF_TOOLS_BENCH_CUDA_CONFIG_H_
