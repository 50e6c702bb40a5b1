// fff-cuda-bench: the FFF layer on one CUDA GPU against the machine's
// ceilings and the dense baselines, in one run (tools/bench/cuda/README.md).
//
// Measures on the current device:
//   ceilings    device-to-device copy (bytes read + written) and cuBLAS GEMM
//               rate (fp32, tf32, bf16) on an 8192^3 product;
//   per shape   (tokens x FFF variant, d_model 768):
//     fff_fwd        fff::cuda::FffForward<T>, no routing output (fp32, bf16)
//     fff_fwd_bwd    FffForward with nodes/logits + FffBackward<T>
//     naive_fwd      the paper's naive kernel: one thread per token, serial
//                    loops over trees, levels and features (fp32)
//     masked_fwd[_bwd]  the paper's training computation: every logit by one
//                    GEMM, GELU times the 0/1 mask of visited nodes, second
//                    GEMM (and the backward GEMMs) — fp32, tf32, bf16
//   per tokens  dense FF 768 -> 3072 -> 768 on cuBLAS/cuBLASLt, forward and
//               forward+backward, fp32, tf32, bf16.
// Before timing, FffForward is checked on the first rows of every shape and
// FffBackward once (1x11, 128 tokens) against a double-precision CPU
// reference. Times are medians of CUDA-event-timed calls after warm-up;
// inputs are fresh N(0,1) activations and N(0, 0.02) weights, rotated among
// several sets where one set would fit the L2.
//
// Exit codes: 0 every required check passed and every row ran; 1 a required
// check failed, a row ended in an error, or a fatal error (the report is
// still written, marked "aborted"); 2 no usable CUDA device; 3 bad command
// line. Checks of the baselines (dense, masked-dense, naive) and of bf16 are
// warnings, not failures.
//
// This file: the command line, the ceilings, the FFF rows of each shape and
// the loop over token counts and shapes. The rest of the bench:
//   config.h             dimensions, variants, options (g_opt)
//   report.h/.cc         rows, checks, targets (g_report); JSON / Markdown
//   bench_util.cuh/.cu   CUDA/cuBLAS checking, buffers, random fill, GEMM,
//                        event timing (TimeIt, Measure)
//   inputs.cuh/.cu       activations and weight sets
//   reference.h/.cc      double-precision CPU references
//   checks.cuh/.cu       checks against the references before timing
//   dense_ff.cuh/.cu     the dense FF baseline (cuBLAS / cuBLASLt)
//   paper_baselines.cuh/.cu  the naive kernel and masked-dense baselines

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fff/fff.h"
#include "src/cuda/fff_cuda.h"
#include "tools/bench/cuda/bench_util.cuh"
#include "tools/bench/cuda/checks.cuh"
#include "tools/bench/cuda/config.h"
#include "tools/bench/cuda/dense_ff.cuh"
#include "tools/bench/cuda/inputs.cuh"
#include "tools/bench/cuda/paper_baselines.cuh"
#include "tools/bench/cuda/report.h"

namespace fff::cuda_bench {

Options g_opt;

namespace {

const char kUsage[] =
    "usage: fff-cuda-bench [options]\n"
    "  --tokens=1,128,8192,65536   token counts (rows) to measure\n"
    "  --variants=1x11,4x9,...     FFF variants n_trees x depth (default: the\n"
    "                              paper's twelve, 3072x0 .. 1x11)\n"
    "  --only-1x11                 only the 1x11 variant\n"
    "  --json=PATH                 machine-readable results\n"
    "  --markdown=PATH             the Markdown tables (also on stdout)\n"
    "  --commit=SHA                commit to tag the results with\n"
    "  --seed=N                    random seed (default fixed)\n"
    "  --reps=N                    most timed repetitions (default 20)\n"
    "  --min-reps=N                fewest timed repetitions (default 3)\n"
    "  --target-ms=MS              timed work per measurement (default 250)\n"
    "  --time-budget-s=S           skip measurements after S seconds (0: "
    "none)\n"
    "  --check-rows=N              rows checked against the CPU (default 64)\n"
    "  --no-naive                  skip the naive-kernel rows\n"
    "  --naive-max-visits=N        skip the naive kernel above N (row, "
    "visited\n"
    "                              node) pairs (default 2^26)\n"
    "  --no-ceilings               skip the copy / GEMM ceilings\n";

bool ParseInt(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (*end != '\0') return false;
  *out = v;
  return true;
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) parts.push_back(item);
  }
  return parts;
}

// Returns an empty string or what is wrong with the command line.
std::string ParseOptions(int argc, char** argv, Options* opt) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto need_value = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    auto int_value = [&](int64_t lo, int64_t* out) -> bool {
      return need_value() && ParseInt(value, out) && *out >= lo;
    };
    int64_t n = 0;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--tokens") {
      if (!need_value()) return "--tokens needs a value";
      opt->tokens.clear();
      for (const std::string& p : SplitCommas(value)) {
        if (!ParseInt(p, &n) || n < 1 || n > (int64_t{1} << 24)) {
          return "--tokens: expected positive integers, got '" + p + "'";
        }
        opt->tokens.push_back(n);
      }
      if (opt->tokens.empty()) return "--tokens: empty list";
    } else if (arg == "--variants") {
      if (!need_value()) return "--variants needs a value";
      opt->variants.clear();
      for (const std::string& p : SplitCommas(value)) {
        const size_t x = p.find('x');
        int64_t trees = 0, depth = 0;
        if (x == std::string::npos || !ParseInt(p.substr(0, x), &trees) ||
            !ParseInt(p.substr(x + 1), &depth) || trees < 1 || depth < 0 ||
            depth > 20) {
          return "--variants: expected N_TREESxDEPTH (depth 0..20), got '" + p +
                 "'";
        }
        opt->variants.push_back({trees, depth});
      }
      if (opt->variants.empty()) return "--variants: empty list";
    } else if (arg == "--only-1x11") {
      opt->variants = {{1, 11}};
    } else if (arg == "--json") {
      if (!need_value()) return "--json needs a path";
      opt->json_path = value;
    } else if (arg == "--markdown") {
      if (!need_value()) return "--markdown needs a path";
      opt->markdown_path = value;
    } else if (arg == "--commit") {
      if (!need_value()) return "--commit needs a value";
      opt->commit = value;
    } else if (arg == "--seed") {
      if (!int_value(0, &n)) return "--seed: expected a non-negative integer";
      opt->seed = static_cast<uint64_t>(n);
    } else if (arg == "--reps") {
      if (!int_value(1, &n)) return "--reps: expected an integer >= 1";
      opt->max_reps = static_cast<int>(std::min<int64_t>(n, 1000));
    } else if (arg == "--min-reps") {
      if (!int_value(1, &n)) return "--min-reps: expected an integer >= 1";
      opt->min_reps = static_cast<int>(std::min<int64_t>(n, 1000));
    } else if (arg == "--target-ms") {
      if (!int_value(1, &n)) return "--target-ms: expected an integer >= 1";
      opt->target_ms = static_cast<double>(n);
    } else if (arg == "--time-budget-s") {
      if (!int_value(0, &n)) return "--time-budget-s: expected seconds >= 0";
      opt->time_budget_s = static_cast<double>(n);
    } else if (arg == "--check-rows") {
      if (!int_value(1, &n)) return "--check-rows: expected an integer >= 1";
      opt->check_rows = static_cast<int>(std::min<int64_t>(n, 4096));
    } else if (arg == "--no-naive") {
      opt->naive = false;
    } else if (arg == "--naive-max-visits") {
      if (!int_value(0, &n)) return "--naive-max-visits: expected N >= 0";
      opt->naive_max_visits = n;
    } else if (arg == "--no-ceilings") {
      opt->ceilings = false;
    } else {
      return "unknown option '" + arg + "'";
    }
  }
  opt->min_reps = std::min(opt->min_reps, opt->max_reps);
  return "";
}

// ---- Ceilings ---------------------------------------------------------------

void MeasureCeilings(Ctx& ctx) {
  {
    DevBuf src(kCopyBytes), dst(kCopyBytes);
    FillNormal(src.as<float>(), kCopyBytes / 4, SeedFor(20), 1.0f, ctx.stream);
    CUDA_CHECK(cudaMemsetAsync(dst.get(), 0x3f, kCopyBytes, ctx.stream));
    const Timed t = TimeIt(ctx, [&](int) -> std::string {
      const cudaError_t e =
          cudaMemcpyAsync(dst.get(), src.get(), kCopyBytes,
                          cudaMemcpyDeviceToDevice, ctx.stream);
      return e == cudaSuccess ? "" : cudaGetErrorString(e);
    });
    if (!t.error.empty()) Fatal("copy ceiling: " + t.error);
    g_report.copy_us = t.median_us;
    g_report.copy_gbps = 2.0 * kCopyBytes / (t.median_us * 1e-6) / 1e9;
    std::printf(
        "ceiling: device copy %.0f GB/s (1 GiB, read + write, "
        "median of %d)\n",
        g_report.copy_gbps, t.reps);
  }
  const int64_t n = kGemmCeilingDim;
  const size_t elems = static_cast<size_t>(n * n);
  DevBuf a32(elems * 4), b32(elems * 4), c32(elems * 4);
  DevBuf a16(elems * 2), b16(elems * 2), c16(elems * 2);
  FillNormal(a32.as<float>(), elems, SeedFor(21), 1.0f, ctx.stream);
  FillNormal(b32.as<float>(), elems, SeedFor(22), 1.0f, ctx.stream);
  ToBf16(a32.as<float>(), a16.as<Bf16>(), elems, ctx.stream);
  ToBf16(b32.as<float>(), b16.as<Bf16>(), elems, ctx.stream);
  for (Prec p : {Prec::kFp32, Prec::kTf32, Prec::kBf16}) {
    const bool bf = p == Prec::kBf16;
    const Timed t = TimeIt(ctx, [&](int) {
      return Gemm(ctx.blas, p, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n,
                  bf ? a16.get() : a32.get(), n, bf ? b16.get() : b32.get(), n,
                  bf ? c16.get() : c32.get(), bf ? CUDA_R_16BF : CUDA_R_32F, n);
    });
    const double tflops =
        t.error.empty() ? 2.0 * n * n * n / (t.median_us * 1e-6) / 1e12 : NAN;
    if (p == Prec::kFp32) g_report.gemm_tflops_fp32 = tflops;
    if (p == Prec::kTf32) g_report.gemm_tflops_tf32 = tflops;
    if (p == Prec::kBf16) g_report.gemm_tflops_bf16 = tflops;
    std::printf("ceiling: cuBLAS %s GEMM 8192^3 %.1f TFLOP/s%s%s\n",
                PrecName(p), tflops,
                t.error.empty() ? "" : " error: ", t.error.c_str());
  }
  std::fflush(stdout);
}

// ---- One FFF shape: FFF rows, then the paper's baselines ------------------

// Compulsory bytes of a forward: x read and y written once, each distinct
// visited weight row (w_in, b_in, w_out) read once.
double FffForwardBytes(int64_t n_rows, int64_t distinct, size_t elem) {
  return static_cast<double>(elem) * 2.0 * n_rows * kDModel +
         static_cast<double>(distinct) * (2.0 * kDModel * elem + 4.0);
}

// Forward (with routing written) then backward: the routing is written and
// read once, the visited weights read twice, every gradient element written.
double FffForwardBackwardBytes(int64_t n_rows, int64_t distinct,
                               int64_t n_total, int64_t n_visited,
                               size_t elem) {
  const double trace = 8.0 * n_rows * n_visited;
  return FffForwardBytes(n_rows, distinct, elem) + trace +     // forward
         static_cast<double>(elem) * 2.0 * n_rows * kDModel +  // x, dy
         trace + static_cast<double>(distinct) * (2.0 * kDModel * elem + 4.0) +
         4.0 * n_rows * kDModel +  // dx
         static_cast<double>(n_total) * (2.0 * kDModel + 1.0) * 4.0;
}

// Checks and times one FFF shape at in.n_rows tokens: the fff_fwd and
// fff_fwd_bwd rows (fp32, bf16), then the naive kernel and masked-dense.
void MeasureShape(Ctx& ctx, const TokenInputs& in, const Variant& v,
                  int order_variant) {
  const fff::FffShape shape{kDModel, kDModel, v.depth, v.n_trees};
  const int64_t n_rows = in.n_rows;
  const int64_t n_total = shape.n_total_nodes();
  const int64_t n_visited = shape.n_visited();
  const std::string name = VariantName(v);
  const std::string label = name + " @" + std::to_string(n_rows);
  const int n_sets = in.n_sets;
  if (OutOfTime()) {  // one row says the whole shape was left out
    Row r;
    r.what = "all";
    r.precision = "-";
    r.tokens = n_rows;
    r.layer = name;
    r.n_trees = v.n_trees;
    r.depth = v.depth;
    r.order_variant = order_variant;
    r.status = "skipped: time budget";
    Measure(ctx, r, nullptr);
    return;
  }

  std::vector<FffWeightSet> w(n_sets);
  for (int s = 0; s < n_sets; ++s) {
    MakeWeights(ctx, n_total, v.n_trees * 64 + v.depth, s, &w[s]);
  }
  HostShape host;
  const int64_t distinct =
      CheckForward<float>(ctx, shape, w[0], in, label, &host);
  CheckForward<Bf16>(ctx, shape, w[0], in, label);

  const size_t act = static_cast<size_t>(n_rows * kDModel);
  const size_t trace = static_cast<size_t>(n_rows * n_visited);
  DevBuf y(act * 4), nodes(trace * 4), logits(trace * 4), dx(act * 4);
  DevBuf dw_in(static_cast<size_t>(n_total * kDModel) * 4);
  DevBuf dw_out(static_cast<size_t>(n_total * kDModel) * 4);
  DevBuf db_in(static_cast<size_t>(n_total) * 4);
  const size_t ws_bytes = fff::cuda::FffBackwardWorkspaceBytes(shape, n_rows);
  DevBuf ws(std::max<size_t>(ws_bytes, 256));

  Row base;
  base.tokens = n_rows;
  base.layer = name;
  base.n_trees = v.n_trees;
  base.depth = v.depth;
  base.n_sets = n_sets;
  base.order_variant = order_variant;
  base.distinct_nodes = distinct;
  const double useful_fwd = 2.0 * n_rows * n_visited * 2.0 * kDModel;

  auto fff_rows = [&]<class T>(T*) {
    const bool fp32 = std::is_same_v<T, float>;
    const std::vector<DevBuf>& xs = fp32 ? in.x32 : in.x16;
    const std::vector<DevBuf>& dys = fp32 ? in.dy32 : in.dy16;
    Row r = base;
    r.what = "fff_fwd";
    r.precision = TypeName<T>();
    r.order_kind = fp32 ? 0 : 1;
    r.flops = useful_fwd;
    if (distinct >= 0) r.bytes = FffForwardBytes(n_rows, distinct, sizeof(T));
    Measure(ctx, r, [&](int rep) {
      return StatusText(fff::cuda::FffForward<T>(
          shape, DeviceWeights<T>(w[rep % n_sets]), Rows<T>(xs, rep), n_rows,
          y.as<T>(), nullptr, nullptr, ctx.stream));
    });
    r = base;
    r.what = "fff_fwd_bwd";
    r.precision = TypeName<T>();
    r.order_kind = fp32 ? 3 : 4;
    r.flops = 3.0 * useful_fwd;
    if (distinct >= 0) {
      r.bytes = FffForwardBackwardBytes(n_rows, distinct, n_total, n_visited,
                                        sizeof(T));
    }
    Measure(ctx, r, [&](int rep) -> std::string {
      const fff::cuda::FffDeviceWeights<T> dw =
          DeviceWeights<T>(w[rep % n_sets]);
      RETURN_IF_ERROR(StatusText(fff::cuda::FffForward<T>(
          shape, dw, Rows<T>(xs, rep), n_rows, y.as<T>(), nodes.as<int32_t>(),
          logits.as<float>(), ctx.stream)));
      return StatusText(fff::cuda::FffBackward<T>(
          shape, dw, Rows<T>(xs, rep), Rows<T>(dys, rep), n_rows,
          nodes.as<int32_t>(), logits.as<float>(), dx.as<float>(),
          dw_in.as<float>(), db_in.as<float>(), dw_out.as<float>(), ws.get(),
          ws_bytes, ctx.stream));
    });
  };
  fff_rows(static_cast<float*>(nullptr));
  fff_rows(static_cast<Bf16*>(nullptr));

  if (g_opt.naive) {
    Row r = base;
    r.flops = useful_fwd;
    if (distinct >= 0) r.bytes = FffForwardBytes(n_rows, distinct, 4);
    MeasureNaive(ctx, in, shape, w, host, label, y, r);
  }
  MeasureMasked(ctx, in, shape, w, host, label, base, dw_in, dw_out, db_in);
}

}  // namespace

int Main(int argc, char** argv) {
  g_start = std::chrono::steady_clock::now();
  if (const std::string err = ParseOptions(argc, argv, &g_opt); !err.empty()) {
    std::fprintf(stderr, "fff-cuda-bench: %s\n%s", err.c_str(), kUsage);
    return 3;
  }
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::printf("no usable CUDA device: %s\n",
                e != cudaSuccess ? (std::string(cudaGetErrorName(e)) + ": " +
                                    cudaGetErrorString(e))
                                       .c_str()
                                 : "cudaGetDeviceCount found 0 devices");
    return 2;
  }
  if (const fff::Status s = fff::cuda::DeviceAvailable(); !s.ok()) {
    std::printf("no usable CUDA device: %s\n", StatusText(s).c_str());
    return 2;
  }
  g_report.started_utc = UtcNow();
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  g_report.device_name = prop.name;
  g_report.device_description = fff::cuda::DeviceDescription();
  g_report.cc_major = prop.major;
  g_report.cc_minor = prop.minor;
  g_report.sms = prop.multiProcessorCount;
  g_report.l2_bytes = prop.l2CacheSize;
  g_report.memory_bytes = static_cast<int64_t>(prop.totalGlobalMem);
  CUDA_CHECK(cudaRuntimeGetVersion(&g_report.cuda_runtime));
  CUDA_CHECK(cudaDriverGetVersion(&g_report.cuda_driver));

  Ctx ctx;
  ctx.l2_bytes = prop.l2CacheSize;
  CUDA_CHECK(cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking));
  CUBLAS_CHECK(cublasCreate(&ctx.blas));
  CUBLAS_CHECK(cublasSetStream(ctx.blas, ctx.stream));
  CUBLAS_CHECK(cublasSetMathMode(ctx.blas, CUBLAS_DEFAULT_MATH));
  CUBLAS_CHECK(cublasGetVersion(ctx.blas, &g_report.cublas_version));
  CUBLAS_CHECK(cublasLtCreate(&ctx.lt));
  ctx.lt_workspace = DevBuf(kLtWorkspaceBytes);
  ctx.events.resize(2 * static_cast<size_t>(g_opt.max_reps + 2));
  for (cudaEvent_t& ev : ctx.events) CUDA_CHECK(cudaEventCreate(&ev));

  std::printf("fff-cuda-bench on %s (%s), commit %s\n", prop.name,
              g_report.device_description.c_str(),
              g_opt.commit.empty() ? "-" : g_opt.commit.c_str());
  std::fflush(stdout);

  if (g_opt.ceilings) MeasureCeilings(ctx);

  const fff::FffShape check_shape{kDModel, kDModel, 11, 1};
  CheckBackward<float>(ctx, check_shape, 128);
  CheckBackward<Bf16>(ctx, check_shape, 128);

  // Largest token count first and 1x11 first within it, so the target rows
  // are measured before a time budget can run out; the report is sorted.
  std::vector<int64_t> tokens = g_opt.tokens;
  std::sort(tokens.begin(), tokens.end(), std::greater<>());
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
  std::vector<std::pair<Variant, int>> variants;
  for (const Variant& v : g_opt.variants) {
    int order = static_cast<int>(variants.size());
    const auto& paper = PaperVariants();
    for (size_t i = 0; i < paper.size(); ++i) {
      if (paper[i].n_trees == v.n_trees && paper[i].depth == v.depth) {
        order = static_cast<int>(i);
      }
    }
    variants.push_back({v, order});
  }
  std::stable_sort(variants.begin(), variants.end(),
                   [](const auto& a, const auto& b) {
                     return a.first.n_trees < b.first.n_trees;
                   });
  for (const int64_t n_rows : tokens) {
    const size_t x_bytes = static_cast<size_t>(n_rows * kDModel) * 4;
    const size_t dense_bytes =
        static_cast<size_t>(2 * kDenseHidden * kDModel) * 4;
    TokenInputs in;
    MakeInputs(ctx, n_rows, SetsFor(x_bytes + dense_bytes, ctx.l2_bytes), &in);
    MeasureDense(ctx, in);
    for (const auto& [v, order] : variants) MeasureShape(ctx, in, v, order);
  }

  CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  WriteOutputs();
  for (cudaEvent_t ev : ctx.events) CUDA_CHECK(cudaEventDestroy(ev));
  ctx.lt_workspace = DevBuf();
  cublasLtDestroy(ctx.lt);
  cublasDestroy(ctx.blas);
  CUDA_CHECK(cudaStreamDestroy(ctx.stream));
  for (const Check& c : g_report.checks) {
    if (!c.pass && c.required) return 1;
  }
  for (const Row& r : g_report.rows) {
    if (r.status.rfind("error", 0) == 0) return 1;
  }
  return 0;
}

}  // namespace fff::cuda_bench

int main(int argc, char** argv) { return fff::cuda_bench::Main(argc, argv); }
