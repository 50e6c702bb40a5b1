// fff-cuda-bench's record of a run and its output: the measured rows, the
// checks and the targets (g_report), the run clock, the fatal-error exit,
// and the report written at the end (speed-ups and the targets table
// computed from the rows, then JSON, Markdown and stdout). Host-only.
#ifndef FFF_TOOLS_BENCH_CUDA_REPORT_H_
#define FFF_TOOLS_BENCH_CUDA_REPORT_H_

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace fff::cuda_bench {

// One timed measurement. Speed-ups are baseline time / this row's time.
struct Row {
  std::string what;       // fff_fwd, fff_fwd_bwd, naive_fwd, dense_fwd, ...
  std::string precision;  // fp32, tf32, bf16
  int64_t tokens = 0;
  std::string layer;  // variant name ("1x11") or "dense-3072"
  int64_t n_trees = 0;
  int64_t depth = 0;
  std::string status = "ok";  // ok | error: ... | skipped: ...
  double median_us = NAN;
  double min_us = NAN;
  double max_us = NAN;
  int reps = 0;
  int n_sets = 0;      // input sets rotated through
  double bytes = NAN;  // compulsory bytes (FFF and naive rows)
  double flops = NAN;  // GEMM flops (dense, masked), useful flops (FFF)
  int64_t distinct_nodes = -1;
  double vs_dense_bf16 = NAN;
  double vs_dense_fp32 = NAN;
  double vs_masked = NAN;  // fwd+bwd: against masked-dense, same precision
  double vs_masked_tf32 = NAN;
  std::string note;
  // Sort keys for the report (rows are measured in another order).
  int order_variant = 0;
  int order_kind = 0;
};

struct Check {
  std::string name;
  double value = NAN;
  double tolerance = NAN;
  bool pass = false;
  bool required = true;  // a failed required check is a FAIL (exit 1)
  std::string detail;
};

struct Target {
  std::string name;
  double value = NAN;
  double goal = NAN;
  std::string unit;
  std::string detail;
};

struct Report {
  std::string device_name;
  std::string device_description;
  int cc_major = 0;
  int cc_minor = 0;
  int sms = 0;
  int64_t l2_bytes = 0;
  int64_t memory_bytes = 0;
  int cuda_runtime = 0;
  int cuda_driver = 0;
  int cublas_version = 0;
  std::string started_utc;
  double copy_gbps = NAN;
  double copy_us = NAN;
  double gemm_tflops_fp32 = NAN;
  double gemm_tflops_tf32 = NAN;
  double gemm_tflops_bf16 = NAN;
  std::string dense_gelu = "not measured";
  std::vector<Check> checks;
  std::vector<Row> rows;
  std::vector<Target> targets;
  std::string aborted;
  double elapsed_s = 0;
};

extern Report g_report;
// Set by main when the run starts.
extern std::chrono::steady_clock::time_point g_start;

// Seconds since g_start.
double ElapsedS();

// Prints the message, writes the report marked "aborted" (once) and exits 1.
[[noreturn]] void Fatal(const std::string& message);

// Prints the check's PASS / FAIL / WARN line and records it.
void AddCheck(Check c);

// Computes the speed-ups and targets, writes --json and --markdown (when
// given) and prints the Markdown report on stdout.
void WriteOutputs();

// The current time as an ISO 8601 UTC timestamp.
std::string UtcNow();

}  // namespace fff::cuda_bench

#endif  // FFF_TOOLS_BENCH_CUDA_REPORT_H_
