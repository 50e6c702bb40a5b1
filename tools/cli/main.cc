// fff: the command-line front end. Subcommands: fill-mask, classify, embed,
// tokenize, info, routes, prune, convert, glue-eval, bench, serve, synth. Texts come from arguments or stdin lines;
// results are JSON Lines on stdout; logs and progress go to stderr.
// Exit codes: 0 success, 1 runtime error, 2 usage error (docs/cli.md).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "fff/log.h"
#include "tools/cli/commands.h"
#include "tools/cli/prune.h"
#include "tools/cli/routes.h"
#include "tools/cli/synth.h"

int main(int argc, char** argv) {
  using namespace fff::cli;
  CLI::App app{
      "fff: UltraFastBERT / crammedBERT inference (fill-mask, classify, "
      "embed, tokenize, info, routes, prune, convert, glue-eval, bench, serve, "
      "synth)"};
  app.require_subcommand(1);
  CommonOptions common;
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "log loading and planning to stderr");

  auto add_model = [&](CLI::App* sub) {
    sub->add_option("-m,--model", common.model_dir,
                    "checkpoint folder: config.json + model.safetensors + "
                    "tokenizer.json (default: the trained UltraFastBERT in " +
                        std::string(kDefaultModelDir) + "; for bench: " +
                        kBenchModelDir + ", written by `fff synth` if missing)");
    sub->add_option("-t,--threads", common.n_threads,
                    "threads (0 = OMP_NUM_THREADS or all cores)")
        ->check(CLI::Range(0, 1024));
  };
  auto add_texts = [&](CLI::App* sub) {
    sub->add_option("texts", common.texts,
                    "input texts (default: one per line from stdin)");
    sub->add_option("--batch", common.batch_size,
                    "sequences per forward call")
        ->check(CLI::Range(1, 4096));
    sub->add_flag("--no-truncate", common.no_truncate,
                  "fail on inputs longer than the model's maximum instead of "
                  "truncating them");
  };

  auto* fill = app.add_subcommand("fill-mask",
                                  "predict the tokens at each <mask>");
  add_model(fill);
  add_texts(fill);
  int top_k = 5;
  fill->add_option("-k,--top-k", top_k, "predictions per mask")
      ->check(CLI::Range(1, 1000));

  auto* classify =
      app.add_subcommand("classify", "sequence classification logits");
  add_model(classify);
  add_texts(classify);
  std::string pair_sep;
  classify->add_option(
      "--pair-separator", pair_sep,
      "split each text into a pair at this string (e.g. a tab: $'\\t')");

  auto* embed = app.add_subcommand("embed", "sentence embeddings");
  add_model(embed);
  add_texts(embed);
  std::string pooling = "mean";
  bool normalize = false;
  embed->add_option("--pooling", pooling, "mean or first")
      ->check(CLI::IsMember({"mean", "first"}));
  embed->add_flag("--normalize", normalize, "L2-normalise each embedding");

  auto* tokenize = app.add_subcommand("tokenize", "token ids and offsets");
  add_model(tokenize);
  add_texts(tokenize);

  auto* info = app.add_subcommand("info", "configuration and shapes");
  add_model(info);

  auto* routes = app.add_subcommand(
      "routes", "routing statistics of an FFF model (JSON report + table)");
  add_model(routes);
  add_texts(routes);
  RoutesOptions ro;
  routes->add_option("--file", ro.file, "route this file's lines (one text each)");
  routes->add_option("--glue", ro.glue_task,
                     "route a GLUE task's split, counting leaves per class");
  routes->add_option("--glue-dir", ro.glue_dir, "GLUE data folder");
  routes->add_option("--split", ro.split, "GLUE split")
      ->check(CLI::IsMember({"train", "dev"}));
  routes->add_option("--max-texts", ro.max_texts, "route only the first N texts")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  routes->add_option("-o,--out", ro.out, "write the JSON report here");
  routes->add_option("--paths", ro.paths,
                     "write every token's path (JSON Lines) here");

  auto* prune = app.add_subcommand(
      "prune", "drop FFF subtrees a task's texts rarely visit; write the "
               "smaller checkpoint");
  add_model(prune);
  add_texts(prune);
  RoutesOptions pro;
  std::vector<int64_t> prune_thresholds;
  std::string prune_out;
  prune->add_option("--file", pro.file, "count on this file's lines");
  prune->add_option("--glue", pro.glue_task, "count on a GLUE task's split");
  prune->add_option("--glue-dir", pro.glue_dir, "GLUE data folder");
  prune->add_option("--split", pro.split, "GLUE split")
      ->check(CLI::IsMember({"train", "dev"}));
  prune->add_option("--max-texts", pro.max_texts, "count only the first N texts")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  prune->add_option("--threshold", prune_thresholds,
                    "drop nodes visited fewer times than this (0: keep all); "
                    "several: one checkpoint each, OUT-t<threshold>")
      ->required()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 50));
  prune->add_option("-o,--out", prune_out,
                    "folder of the pruned checkpoint (several thresholds: "
                    "the prefix)")
      ->required();

  auto* convert = app.add_subcommand(
      "convert", "rewrite an FFF checkpoint in the zero-copy node-record "
                 "layout (loads by mapping, unvisited nodes never read)");
  add_model(convert);
  std::string convert_out;
  convert->add_option("-o,--out", convert_out, "output folder")->required();

  auto* glue_eval = app.add_subcommand(
      "glue-eval", "a classifier's score on a GLUE split (JSON)");
  add_model(glue_eval);
  glue_eval->add_option("--batch", common.batch_size, "sequences per call")
      ->check(CLI::Range(1, 4096));
  GlueEvalOptions geo;
  glue_eval->add_option("--task", geo.task, "GLUE task (sst2, cola, ...)")
      ->required();
  glue_eval->add_option("--glue-dir", geo.glue_dir, "GLUE data folder");
  glue_eval->add_option("--split", geo.split, "split")
      ->check(CLI::IsMember({"train", "dev"}));
  glue_eval->add_option("--max-examples", geo.max_examples, "first N only")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));

  auto* bench = app.add_subcommand(
      "bench", "end-to-end encoder throughput (JSON + table)");
  add_model(bench);
  BenchOptions bo;
  bench->add_option("--batches", bo.batches, "sequences per call")
      ->check(CLI::Range(1, 4096));
  bench->add_option("--seq", bo.seq_len, "tokens per sequence")
      ->check(CLI::Range(1, 1 << 20));
  bench->add_option("--reps", bo.reps, "timed repetitions (median)")
      ->check(CLI::Range(1, 1000));
  bench->add_option("--min-time-ms", bo.min_time_ms,
                    "least time per repetition (calls repeat to fill it)");
  bench->add_option("--json", bo.json_path, "also write the JSON here");
  bench->add_option("--linear-block-rows", bo.linear_block_rows,
                    "rows per block of the dense products (tuning)")
      ->check(CLI::Range(0, 4096));
  bench->add_option("--texts", bo.texts_path,
                    "embed this file's lines (one text each) in batches of "
                    "each --batches size: the offline throughput a server "
                    "is compared with");
  bench->add_flag("--count-routes", bo.count_routes,
                  "also time each batch with routing statistics counted "
                  "(FFF models; the overhead `fff routes` adds)");
  bench->add_flag("--breakdown", bo.breakdown,
                  "time each component (embedding, attention, FF, ...)");

  auto* serve = app.add_subcommand(
      "serve", "HTTP server: /embed, /predict, /fill-mask, /tokenize, "
               "/v1/embeddings, /health, /info, /metrics (docs/server-api.md)");
  add_model(serve);
  ServeOptions so;
  fff::server::ServerOptions& sv = so.server;
  serve->add_option("--host", sv.host, "address to bind (default loopback)");
  serve->add_option("-p,--port", sv.port, "port (0: any free port)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--port-file", so.port_file,
                    "write the bound port to this file once listening");
  serve->add_option("--max-batch-tokens", sv.max_batch_tokens,
                    "most tokens per engine batch")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  serve->add_option("--max-batch-requests", sv.max_batch_requests,
                    "most sequences per engine batch")
      ->check(CLI::Range(1, 1 << 16));
  serve->add_option("--max-concurrent-requests", sv.max_concurrent_requests,
                    "model requests in the server at once; more get 429")
      ->check(CLI::Range(1, 1 << 16));
  serve->add_option("--retry-pause-ms", sv.retry_pause_ms,
                    "pause before a 429 to a connection that ignored the "
                    "last one's Retry-After (0: none)")
      ->check(CLI::Range(int64_t{0}, int64_t{60000}));
  serve->add_option("--max-client-batch-size", sv.max_client_batch_size,
                    "inputs per request; more get 413")
      ->check(CLI::Range(1, 1 << 16));
  serve->add_option("--max-body-bytes", sv.max_body_bytes,
                    "request body limit; larger get 413")
      ->check(CLI::Range(size_t{1}, size_t{1} << 32));
  serve->add_option("--request-timeout-ms", sv.request_timeout_ms,
                    "answer 504 when a request is not served within this")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 32));
  serve->add_flag("--auto-truncate", sv.auto_truncate,
                  "truncate long inputs unless a request says otherwise");
  std::string serve_pooling = "mean";
  serve->add_option("--pooling", serve_pooling,
                    "embedding pooling: mean or cls (first token)")
      ->check(CLI::IsMember({"mean", "cls"}));
  serve->add_option("--http-threads", sv.http_threads,
                    "request threads = most connections served at once (0: the larger "
                    "of 256 and max-concurrent-requests + 16)")
      ->check(CLI::Range(0, 1 << 14));
  serve->add_option("--served-model-name", sv.served_model_name,
                    "model name in /info and /v1/embeddings");

  auto* synth = app.add_subcommand(
      "synth", "write a synthetic checkpoint (random weights: predictions "
               "are meaningless)");
  SynthSpec spec;
  std::string synth_out = kBenchModelDir;
  synth->add_option("-o,--out", synth_out, "output folder");
  synth->add_option("--ff", spec.ff, "fff or ff (dense)")
      ->check(CLI::IsMember({"fff", "ff"}));
  synth->add_option("--layers", spec.layers)->check(CLI::Range(1, 1024));
  synth->add_option("--hidden", spec.hidden)->check(CLI::Range(2, 1 << 16));
  synth->add_option("--heads", spec.heads)->check(CLI::Range(1, 4096));
  synth->add_option("--vocab", spec.vocab)->check(CLI::Range(1536, 1 << 22));
  synth->add_option("--max-seq", spec.max_seq)->check(CLI::Range(1, 1 << 16));
  synth->add_option("--trees", spec.trees)->check(CLI::Range(1, 1 << 16));
  synth->add_option("--depth", spec.depth)->check(CLI::Range(0, 20));
  synth->add_option("--intermed", spec.intermed)->check(CLI::Range(2, 1 << 16));
  synth->add_option("--nonlin", spec.nonlin)
      ->check(CLI::IsMember({"GELU", "GELUglu"}));
  synth->add_option("--seed", spec.seed);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (verbose) {
    fff::SetLogCallback(fff::StderrLogCallback, nullptr, fff::LogLevel::kInfo);
  } else {
    fff::SetLogCallback(fff::StderrLogCallback, nullptr,
                        fff::LogLevel::kWarning);
  }
  common.truncate_notice = true;

  fff::Status st;
  if (*synth) {
    st = WriteSyntheticCheckpoint(synth_out, spec);
    if (st.ok()) {
      std::fprintf(stderr,
                   "fff: wrote a synthetic checkpoint to %s (random weights: "
                   "its predictions are meaningless)\n",
                   synth_out.c_str());
    }
  } else if (*fill) {
    st = RunFillMask(common, top_k);
  } else if (*classify) {
    st = RunClassify(common, pair_sep);
  } else if (*embed) {
    st = RunEmbed(common, pooling == "mean", normalize);
  } else if (*tokenize) {
    st = RunTokenize(common);
  } else if (*info) {
    st = RunInfo(common);
  } else if (*prune) {
    st = RunPrune(common, pro, prune_thresholds, prune_out);
  } else if (*convert) {
    st = RunConvert(common, convert_out);
  } else if (*glue_eval) {
    st = RunGlueEval(common, geo);
  } else if (*routes) {
    st = RunRoutes(common, ro);
  } else if (*bench) {
    st = RunBench(common, bo);
  } else if (*serve) {
    sv.mean_pooling = serve_pooling == "mean";
    st = RunServe(common, so);
  }
  if (!st.ok()) {
    std::fprintf(stderr, "fff: error: %s\n", st.ToString().c_str());
    return st.code() == fff::StatusCode::kInvalidArgument &&
                   st.message().rfind("usage:", 0) == 0
               ? 2
               : 1;
  }
  return 0;
}
