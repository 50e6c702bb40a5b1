// fff-bench: benchmarks that compare fff against the fastest dense baseline
// measured in the same run. Prints a Markdown table and writes JSON.
//
//   fff-bench layer                  # the default table (< 2 minutes)
//   fff-bench layer --preset full    # every variant at every batch size
//   fff-bench tokenizer --text /tmp/en.txt   # tokenizer MB/s on one thread
//   fff-bench residency -m converted --texts sentences.txt  # zero-copy RSS
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "fff/log.h"
#include "tools/bench/layer_bench.h"
#include "tools/bench/residency_bench.h"
#include "tools/bench/tokenizer_bench.h"
#include "tools/bench/train_bench.h"

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
  layer->add_option("--stream-outputs-min-bytes", opt.stream_outputs_min_bytes,
                    "FFF outputs of a call this large are written with "
                    "streaming stores (-1: the plan's default, 32 MiB)");
  layer->add_option("--dense-top-levels", opt.dense_top_levels,
                    "FFF top levels computed densely when routed block by "
                    "block (-1: the plan's default, 2 for trees of depth <= "
                    "2, else 0)")
      ->check(CLI::Range(-1, 6));
  layer->add_option("--json", json_path, "where to write the JSON results");
  layer->add_option("--markdown", md_path, "also write the table here");
  bool only_1x11 = false;
  layer->add_flag("--only-1x11", only_1x11,
                  "only UltraFastBERT-1x11 and the dense baselines");
  auto* residency = app.add_subcommand(
      "residency",
      "zero-copy checkpoint: load time, RSS, resident FFF bytes vs visited "
      "rows as sentences are embedded (cold page cache)");
  fff::bench::ResidencyBenchOptions ro;
  residency->add_option("-m,--model", ro.model_dir, "converted checkpoint")
      ->required();
  residency->add_option("--texts", ro.texts_path, "one sentence per line");
  residency->add_option("--points", ro.points, "sentence counts to report at");
  residency->add_option("--batch", ro.batch, "sentences per call")
      ->check(CLI::Range(1, 4096));
  residency->add_option("-t,--threads", ro.n_threads, "threads (0 = all)");
  residency->add_option("--first-tokens", ro.first_tokens,
                        "the first sentence: the first line with this many "
                        "tokens (+-2; 0: line 1)");
  residency->add_flag("--load-only", ro.load_only,
                      "only the load and a first sentence right after it "
                      "(any checkpoint: compare published and converted)");
  residency->add_flag("--warm", ro.warm,
                      "keep the file in the page cache (default: evict it "
                      "first)");

  auto* tokenizer = app.add_subcommand(
      "tokenizer", "WordPiece tokenizer throughput (MB/s, one thread)");
  fff::bench::TokenizerBenchOptions tok_opt;
  std::string tok_json_path = "fff-bench-tokenizer.json";
  tokenizer->add_option("--tokenizer", tok_opt.tokenizer_path,
                        "tokenizer.json (or a BERT vocab.txt)");
  tokenizer->add_option(
      "--text", tok_opt.text_path,
      "plain UTF-8 text, one input per line (required), e.g. xz -dc "
      "../shared/data/corpus/wikipedia-en-2015/train.txt.xz | head -c "
      "20000000 > /tmp/en.txt");
  tokenizer->add_option("--reps", tok_opt.reps, "timed passes (median)");
  tokenizer->add_option("--json", tok_json_path,
                        "where to write the JSON results");
  auto* train = app.add_subcommand(
      "train-layer",
      "one FFF training step (forward + backward): conditional vs "
      "masked-dense vs dense of the same width (oneDNN)");
  fff::bench::TrainBenchOptions train_opt;
  std::string train_json_path = "fff-bench-train.json";
  train->add_option("--threads", train_opt.threads, "thread counts");
  train->add_option("--rows", train_opt.rows, "tokens per step");
  train->add_option("--reps", train_opt.reps, "timed repetitions");
  bool train_only_1x11 = false;
  train->add_flag("--only-1x11", train_only_1x11, "only UltraFastBERT-1x11");
  train->add_option("--json", train_json_path, "where to write the JSON");
  CLI11_PARSE(app, argc, argv);

  if (train->parsed()) {
    fff::SetLogCallback(fff::StderrLogCallback, nullptr,
                        fff::LogLevel::kWarning);
    if (train_only_1x11) train_opt.variants = {{1, 11}};
    const std::string command = JoinArgs(argc, argv);
    auto report = fff::bench::RunTrainBench(train_opt);
    if (!report.ok()) {
      std::fprintf(stderr, "fff-bench: %s\n",
                   report.status().ToString().c_str());
      return 1;
    }
    std::fputs(fff::bench::TrainReportMarkdown(*report, command).c_str(),
               stdout);
    std::ofstream(train_json_path)
        << fff::bench::TrainReportJson(*report, command) << "\n";
    std::fprintf(stderr, "JSON written to %s\n", train_json_path.c_str());
    return 0;
  }

  if (residency->parsed()) {
    fff::SetLogCallback(fff::StderrLogCallback, nullptr,
                        fff::LogLevel::kWarning);
    const fff::Status st =
        fff::bench::RunResidencyBench(ro, JoinArgs(argc, argv));
    if (!st.ok()) {
      std::fprintf(stderr, "fff-bench: %s\n", st.ToString().c_str());
      return 1;
    }
    return 0;
  }

  if (tokenizer->parsed()) {
    const std::string command = JoinArgs(argc, argv);
    auto report = fff::bench::RunTokenizerBench(tok_opt);
    if (!report.ok()) {
      std::fprintf(stderr, "fff-bench: %s\n",
                   report.status().ToString().c_str());
      return 1;
    }
    std::fputs(fff::bench::TokenizerReportMarkdown(*report, command).c_str(),
               stdout);
    std::ofstream(tok_json_path)
        << fff::bench::TokenizerReportJson(*report, command) << "\n";
    std::fprintf(stderr, "JSON written to %s\n", tok_json_path.c_str());
    return 0;
  }

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
