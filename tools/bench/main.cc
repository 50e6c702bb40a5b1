// fff-bench: benchmarks that compare fff against the fastest dense baseline
// measured in the same run. Prints a Markdown table and writes JSON.
//
//   fff-bench layer                  # the default table (< 2 minutes)
//   fff-bench layer --preset full    # every variant at every batch size
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "fff/log.h"
#include "tools/bench/layer_bench.h"

namespace {

std::string JoinArgs(int argc, char** argv) {
  std::string s = "fff-bench";
  for (int i = 1; i < argc; ++i) s += std::string(" ") + argv[i];
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fff-bench: FFF kernels against the fastest dense baseline"};
  app.require_subcommand(1);
  auto* layer = app.add_subcommand(
      "layer", "FFF layer vs dense feedforward (oneDNN), tokens per second");
  fff::bench::LayerBenchOptions opt;
  std::string preset = "quick";
  std::string json_path = "fff-bench-layer.json";
  std::string md_path;
  layer
      ->add_option("--preset", preset,
                   "quick (default, < 2 minutes): skips FFF "
                   "configurations estimated slower than 0.25 s per call; "
                   "full: runs them (10 s cap) with every repetition")
      ->check(CLI::IsMember({"quick", "full"}));
  layer->add_option("--threads", opt.threads, "thread counts");
  layer->add_option("--batches", opt.batches, "batch sizes (tokens)");
  layer->add_option("--reps", opt.reps, "timed repetitions per measurement");
  layer->add_flag("--fresh-inputs", opt.fresh_inputs,
                  "a new batch of distinct rows every call (default: the "
                  "same batch every call)");
  layer->add_option("--strategy", opt.fff_strategy, "FFF strategy")
      ->check(CLI::IsMember({"auto", "row_walk", "level_batched"}));
  layer->add_option("--json", json_path, "where to write the JSON results");
  layer->add_option("--markdown", md_path, "also write the table here");
  bool only_1x11 = false;
  layer->add_flag("--only-1x11", only_1x11,
                  "only UltraFastBERT-1x11 and the dense baselines");
  CLI11_PARSE(app, argc, argv);

  fff::SetLogCallback(fff::StderrLogCallback, nullptr, fff::LogLevel::kWarning);
  if (preset == "full") {
    opt.max_call_s = 10.0;
    opt.slow_call_s = 2.0;  // all repetitions even for ~1 s dense calls
  } else {  // quick: fits the README's two-minute budget on 2 cores
    opt.max_call_s = 0.25;
    opt.slow_call_s = 0.1;
  }
  if (only_1x11) opt.variants = {{1, 11}};
  const std::string command = JoinArgs(argc, argv);
  auto report = fff::bench::RunLayerBench(opt);
  if (!report.ok()) {
    std::fprintf(stderr, "fff-bench: %s\n", report.status().ToString().c_str());
    return 1;
  }
  const std::string md = fff::bench::LayerReportMarkdown(*report, command);
  std::fputs(md.c_str(), stdout);
  std::ofstream(json_path) << fff::bench::LayerReportJson(*report, command)
                           << "\n";
  std::fprintf(stderr, "JSON written to %s\n", json_path.c_str());
  if (!md_path.empty()) std::ofstream(md_path) << md;
  return 0;
}
