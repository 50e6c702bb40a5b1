// fff-cuda-bench's report (report.h): the run clock, the fatal exit, the
// check lines, and at the end the speed-ups, the targets table and the JSON /
// Markdown output. Host-only.
#include "tools/bench/cuda/report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tools/bench/cuda/config.h"

namespace fff::cuda_bench {

Report g_report;
std::chrono::steady_clock::time_point g_start;

double ElapsedS() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       g_start)
      .count();
}

[[noreturn]] void Fatal(const std::string& message) {
  static bool in_fatal = false;
  std::fprintf(stderr, "fff-cuda-bench: FATAL: %s\n", message.c_str());
  if (!in_fatal) {
    in_fatal = true;
    g_report.aborted = message;
    WriteOutputs();
  }
  std::exit(1);
}

void AddCheck(Check c) {
  std::printf("%s %s: %.3g (tolerance %.3g)%s%s\n",
              c.pass ? "PASS" : (c.required ? "FAIL" : "WARN"), c.name.c_str(),
              c.value, c.tolerance, c.detail.empty() ? "" : " — ",
              c.detail.c_str());
  std::fflush(stdout);
  g_report.checks.push_back(std::move(c));
}

namespace {

const Row* FindRow(const std::string& what, const std::string& prec,
                   int64_t tokens, const std::string& layer) {
  for (const Row& r : g_report.rows) {
    if (r.what == what && r.precision == prec && r.tokens == tokens &&
        r.layer == layer && r.status == "ok") {
      return &r;
    }
  }
  return nullptr;
}

double Speedup(const Row* baseline, const Row& r) {
  if (baseline == nullptr || r.status != "ok") return NAN;
  return baseline->median_us / r.median_us;
}

void ComputeRatios() {
  for (Row& r : g_report.rows) {
    if (r.what == "fff_fwd" || r.what == "naive_fwd") {
      r.vs_dense_bf16 =
          Speedup(FindRow("dense_fwd", "bf16", r.tokens, "dense-3072"), r);
      r.vs_dense_fp32 =
          Speedup(FindRow("dense_fwd", "fp32", r.tokens, "dense-3072"), r);
    } else if (r.what == "fff_fwd_bwd") {
      r.vs_dense_bf16 =
          Speedup(FindRow("dense_fwd_bwd", "bf16", r.tokens, "dense-3072"), r);
      r.vs_dense_fp32 =
          Speedup(FindRow("dense_fwd_bwd", "fp32", r.tokens, "dense-3072"), r);
      r.vs_masked =
          Speedup(FindRow("masked_fwd_bwd", r.precision, r.tokens, r.layer), r);
      r.vs_masked_tf32 =
          Speedup(FindRow("masked_fwd_bwd", "tf32", r.tokens, r.layer), r);
    }
  }
}

void ComputeTargets() {
  g_report.targets.clear();
  const int64_t n = 65536;
  const std::string layer = "1x11";
  for (const char* prec : {"fp32", "bf16"}) {
    const Row* f = FindRow("fff_fwd", prec, n, layer);
    Target t;
    t.name = std::string("(a) FFF-1x11 forward ") + prec +
             " @65536: bandwidth / copy rate";
    t.goal = 0.70;
    t.unit = "x";
    if (f != nullptr && !std::isnan(f->bytes) && g_report.copy_gbps > 0) {
      const double gbps = f->bytes / (f->median_us * 1e-6) / 1e9;
      t.value = gbps / g_report.copy_gbps;
      char buf[160];
      std::snprintf(buf, sizeof buf, "%.0f of %.0f GB/s, %.1f us", gbps,
                    g_report.copy_gbps, f->median_us);
      t.detail = buf;
    }
    g_report.targets.push_back(t);
  }
  const Row* dense = FindRow("dense_fwd", "bf16", n, "dense-3072");
  for (const char* prec : {"bf16", "fp32"}) {
    const Row* f = FindRow("fff_fwd", prec, n, layer);
    Target t;
    t.name = std::string("(a) FFF-1x11 forward ") + prec +
             " @65536: speed-up over bf16 cuBLAS dense FF";
    t.goal = 5.0;
    t.unit = "x";
    if (f != nullptr && dense != nullptr) {
      t.value = dense->median_us / f->median_us;
      char buf[160];
      std::snprintf(buf, sizeof buf, "dense %.1f us / FFF %.1f us",
                    dense->median_us, f->median_us);
      t.detail = buf;
    }
    g_report.targets.push_back(t);
  }
  const std::pair<const char*, const char*> pairs[] = {
      {"fp32", "fp32"}, {"bf16", "bf16"}, {"fp32", "tf32"}};
  for (const auto& [fp, mp] : pairs) {
    const Row* f = FindRow("fff_fwd_bwd", fp, n, layer);
    const Row* m = FindRow("masked_fwd_bwd", mp, n, layer);
    Target t;
    t.name =
        std::string("(b) FFF-1x11 fwd+bwd ") + fp + " @65536 vs masked-dense " +
        mp +
        (std::string(fp) == mp ? "" : " (information: not the same precision)");
    t.goal = std::string(fp) == mp ? 10.0 : NAN;
    t.unit = "x";
    if (f != nullptr && m != nullptr) {
      t.value = m->median_us / f->median_us;
      char buf[160];
      std::snprintf(buf, sizeof buf, "masked %.1f us / FFF %.1f us",
                    m->median_us, f->median_us);
      t.detail = buf;
    }
    g_report.targets.push_back(t);
  }
}

std::string Fmt(double v, const char* fmt = "%.2f") {
  if (std::isnan(v) || std::isinf(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string JsonStr(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string JsonNum(double v) {
  if (std::isnan(v) || std::isinf(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Text safe inside a Markdown table cell.
std::string Cell(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

double Gbps(const Row& r) { return r.bytes / (r.median_us * 1e-6) / 1e9; }
double Gflops(const Row& r) { return r.flops / (r.median_us * 1e-6) / 1e9; }
double TokensPerS(const Row& r) { return r.tokens / (r.median_us * 1e-6); }

std::string BuildJson() {
  const Report& g = g_report;
  std::ostringstream o;
  o << "{\n  \"tool\": \"fff-cuda-bench\",\n";
  o << "  \"commit\": " << JsonStr(g_opt.commit) << ",\n";
  o << "  \"started_utc\": " << JsonStr(g.started_utc) << ",\n";
  o << "  \"elapsed_s\": " << JsonNum(g.elapsed_s) << ",\n";
  o << "  \"aborted\": "
    << (g.aborted.empty() ? std::string("null") : JsonStr(g.aborted)) << ",\n";
  o << "  \"device\": {\"name\": " << JsonStr(g.device_name)
    << ", \"description\": " << JsonStr(g.device_description)
    << ", \"compute_capability\": "
    << JsonStr(std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor))
    << ", \"sms\": " << g.sms << ", \"l2_bytes\": " << g.l2_bytes
    << ", \"memory_bytes\": " << g.memory_bytes
    << ", \"cuda_runtime\": " << g.cuda_runtime
    << ", \"cuda_driver\": " << g.cuda_driver
    << ", \"cublas\": " << g.cublas_version << "},\n";
  o << "  \"method\": {\"d_model\": " << kDModel
    << ", \"dense_hidden\": " << kDenseHidden
    << ", \"timing\": \"CUDA events around each call, median of reps after 2 "
       "warm-ups\""
    << ", \"max_reps\": " << g_opt.max_reps
    << ", \"min_reps\": " << g_opt.min_reps
    << ", \"target_ms\": " << JsonNum(g_opt.target_ms)
    << ", \"seed\": " << g_opt.seed
    << ", \"inputs\": \"x, dy ~ N(0,1); weights and biases ~ N(0,0.02); "
       "hash-based device generator\""
    << ", \"fff_bytes\": \"compulsory: x read + y written once + distinct "
       "visited weight rows (w_in, b_in, w_out) once; fwd_bwd adds routing "
       "written+read, x/dy/visited rows read again, dx and all weight "
       "gradients written\""
    << ", \"flops\": \"dense/masked: GEMM flops; FFF/naive: useful flops "
       "4*d_model per visited node per row (x3 for fwd_bwd)\""
    << ", \"dense_gelu\": " << JsonStr(g.dense_gelu)
    << ", \"masked_gelu\": \"exact erf GELU in fff's kernel\"},\n";
  o << "  \"ceilings\": {\"copy_gbps\": " << JsonNum(g.copy_gbps)
    << ", \"copy_us_1gib\": " << JsonNum(g.copy_us)
    << ", \"gemm_8192_tflops\": {\"fp32\": " << JsonNum(g.gemm_tflops_fp32)
    << ", \"tf32\": " << JsonNum(g.gemm_tflops_tf32)
    << ", \"bf16\": " << JsonNum(g.gemm_tflops_bf16) << "}},\n";
  o << "  \"checks\": [";
  for (size_t i = 0; i < g.checks.size(); ++i) {
    const Check& c = g.checks[i];
    o << (i ? ",\n    " : "\n    ") << "{\"name\": " << JsonStr(c.name)
      << ", \"value\": " << JsonNum(c.value)
      << ", \"tolerance\": " << JsonNum(c.tolerance)
      << ", \"pass\": " << (c.pass ? "true" : "false")
      << ", \"required\": " << (c.required ? "true" : "false")
      << ", \"detail\": " << JsonStr(c.detail) << "}";
  }
  o << "\n  ],\n  \"rows\": [";
  for (size_t i = 0; i < g.rows.size(); ++i) {
    const Row& r = g.rows[i];
    o << (i ? ",\n    " : "\n    ") << "{\"what\": " << JsonStr(r.what)
      << ", \"precision\": " << JsonStr(r.precision)
      << ", \"tokens\": " << r.tokens << ", \"layer\": " << JsonStr(r.layer)
      << ", \"n_trees\": " << r.n_trees << ", \"depth\": " << r.depth
      << ", \"status\": " << JsonStr(r.status)
      << ", \"median_us\": " << JsonNum(r.median_us)
      << ", \"min_us\": " << JsonNum(r.min_us)
      << ", \"max_us\": " << JsonNum(r.max_us) << ", \"reps\": " << r.reps
      << ", \"input_sets\": " << r.n_sets
      << ", \"tokens_per_s\": " << JsonNum(TokensPerS(r))
      << ", \"bytes\": " << JsonNum(r.bytes)
      << ", \"gbps\": " << JsonNum(Gbps(r))
      << ", \"gbps_over_copy\": " << JsonNum(Gbps(r) / g.copy_gbps)
      << ", \"flops\": " << JsonNum(r.flops)
      << ", \"gflops\": " << JsonNum(Gflops(r))
      << ", \"distinct_nodes\": " << r.distinct_nodes
      << ", \"speedup_vs_dense_bf16\": " << JsonNum(r.vs_dense_bf16)
      << ", \"speedup_vs_dense_fp32\": " << JsonNum(r.vs_dense_fp32)
      << ", \"speedup_vs_masked_same_precision\": " << JsonNum(r.vs_masked)
      << ", \"speedup_vs_masked_tf32\": " << JsonNum(r.vs_masked_tf32)
      << ", \"note\": " << JsonStr(r.note) << "}";
  }
  o << "\n  ],\n  \"targets\": [";
  for (size_t i = 0; i < g.targets.size(); ++i) {
    const Target& t = g.targets[i];
    const bool has_goal = !std::isnan(t.goal);
    o << (i ? ",\n    " : "\n    ") << "{\"name\": " << JsonStr(t.name)
      << ", \"value\": " << JsonNum(t.value)
      << ", \"goal\": " << JsonNum(t.goal) << ", \"met\": "
      << (!has_goal || std::isnan(t.value)
              ? "null"
              : (t.value >= t.goal ? "true" : "false"))
      << ", \"detail\": " << JsonStr(t.detail) << "}";
  }
  o << "\n  ]\n}\n";
  return o.str();
}

std::string TargetsMarkdown() {
  std::ostringstream o;
  o << "## Targets\n\n| target | measured | goal | met | detail |\n"
       "| --- | ---: | ---: | --- | --- |\n";
  for (const Target& t : g_report.targets) {
    const bool has_goal = !std::isnan(t.goal);
    const char* met = std::isnan(t.value) ? "not measured"
                      : !has_goal         ? "info"
                      : t.value >= t.goal ? "yes"
                                          : "NO";
    o << "| " << Cell(t.name) << " | " << Fmt(t.value) << " | "
      << (has_goal ? ">= " + Fmt(t.goal) : std::string("-")) << " | " << met
      << " | " << Cell(t.detail) << " |\n";
  }
  return o.str();
}

std::string BuildMarkdown() {
  const Report& g = g_report;
  std::ostringstream o;
  o << "# fff-cuda-bench\n\n";
  o << "- device: " << g.device_name << " (" << g.device_description << ")\n";
  o << "- commit: " << (g_opt.commit.empty() ? "-" : g_opt.commit)
    << ", started " << g.started_utc << " UTC, " << Fmt(g.elapsed_s, "%.0f")
    << " s\n";
  o << "- ceilings: device copy " << Fmt(g.copy_gbps, "%.0f")
    << " GB/s (read + write); cuBLAS 8192^3 GEMM fp32 "
    << Fmt(g.gemm_tflops_fp32, "%.1f") << ", tf32 "
    << Fmt(g.gemm_tflops_tf32, "%.1f") << ", bf16 "
    << Fmt(g.gemm_tflops_bf16, "%.1f") << " TFLOP/s\n";
  o << "- dense FF GELU: " << g.dense_gelu
    << "; masked-dense GELU: exact erf\n";
  int failed = 0, warned = 0;
  for (const Check& c : g.checks) {
    if (!c.pass) ++(c.required ? failed : warned);
  }
  o << "- checks: " << g.checks.size() - failed - warned << " passed, "
    << failed << " FAILED, " << warned << " warnings\n";
  for (const Check& c : g.checks) {
    if (!c.pass) {
      o << "  - " << (c.required ? "FAIL " : "WARN ") << c.name << ": "
        << Fmt(c.value, "%.3g") << " (tolerance " << Fmt(c.tolerance, "%.3g")
        << ") " << Cell(c.detail) << "\n";
    }
  }
  if (!g.aborted.empty()) o << "- ABORTED: " << g.aborted << "\n";
  o << "\nTimes are medians (us). GB/s: compulsory bytes over time (in "
       "brackets: over the copy rate). GFLOP/s: GEMM flops for dense and "
       "masked rows, useful flops for FFF rows. Speed-ups: baseline time / "
       "row time (fwd rows vs dense fwd, fwd+bwd rows vs dense fwd+bwd and vs "
       "masked-dense fwd+bwd of the same precision).\n\n";
  o << "| tokens | layer | computation | prec | median us | tokens/s | GB/s "
       "(x copy) | GFLOP/s | vs dense bf16 | vs dense fp32 | vs masked | reps "
       "| status |\n";
  o << "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | "
       "---: | ---: | --- |\n";
  std::vector<const Row*> rows;
  for (const Row& r : g.rows) rows.push_back(&r);
  std::stable_sort(rows.begin(), rows.end(), [](const Row* a, const Row* b) {
    return std::tie(a->tokens, a->order_variant, a->order_kind) <
           std::tie(b->tokens, b->order_variant, b->order_kind);
  });
  for (const Row* r : rows) {
    std::string gb = "-";
    if (!std::isnan(r->bytes) && r->status == "ok") {
      gb = Fmt(Gbps(*r), "%.0f") + " (" + Fmt(Gbps(*r) / g.copy_gbps) + ")";
    }
    std::string what = r->what;
    o << "| " << r->tokens << " | " << r->layer << " | " << what << " | "
      << r->precision << " | " << Fmt(r->median_us) << " | "
      << Fmt(TokensPerS(*r), "%.3g") << " | " << gb << " | "
      << Fmt(Gflops(*r), "%.0f") << " | " << Fmt(r->vs_dense_bf16) << " | "
      << Fmt(r->vs_dense_fp32) << " | " << Fmt(r->vs_masked) << " | " << r->reps
      << " | " << Cell(r->status + (r->note.empty() ? "" : "; " + r->note))
      << " |\n";
  }
  o << "\n" << TargetsMarkdown();
  return o.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f)
    std::fprintf(stderr, "fff-cuda-bench: could not write %s\n", path.c_str());
}

}  // namespace

void WriteOutputs() {
  g_report.elapsed_s = ElapsedS();
  ComputeRatios();
  ComputeTargets();
  const std::string md = BuildMarkdown();
  WriteFile(g_opt.json_path, BuildJson());
  WriteFile(g_opt.markdown_path, md);
  std::printf("\n%s", md.c_str());
  std::fflush(stdout);
}

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace fff::cuda_bench
