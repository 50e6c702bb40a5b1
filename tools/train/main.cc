// fff-train: train crammedBERT / UltraFastBERT with fff's conditional FFF ops.
//
//   fff-train tokenizer --corpus A.txt.xz B.txt --vocab-size 8192 -o tok.json
//   fff-train prepare   --tokenizer tok.json --corpus ... -o shards/
//   fff-train pretrain  --data shards/ --tokenizer tok.json -o run/ ...
//   fff-train glue      --model run/final --tasks cola,sst2 -o glue/
//
// Multi-process data parallel (pretrain): start one process per rank with
// --world-size N --rank r --master-addr HOST --master-port P (docs/training.md).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fff/token_shards.h"
#include "fff/wordpiece_trainer.h"
#include "src/data/text_input.h"
#include "src/io/atomic_file.h"
#include "tools/train/finetune.h"
#include "tools/train/pretrain.h"
#include "tools/train/progress.h"

namespace {

using fff::Status;

int Fail(const Status& s) {
  std::fprintf(stderr, "fff-train: error: %s\n", s.ToString().c_str());
  return 1;
}

std::string JoinArgs(int argc, char** argv) {
  std::string s = "fff-train";
  for (int i = 1; i < argc; ++i) s += std::string(" ") + argv[i];
  return s;
}

// Streams a corpus file (plain or .xz) line by line into fn; stops after
// max_bytes of text (0: no limit). *total: the text bytes read.
Status ForEachLine(const std::string& path, int64_t max_bytes, int64_t* total,
                   const std::function<Status(const std::string&)>& fn) {
  FFF_ASSIGN_OR_RETURN(std::unique_ptr<fff::data::TextInput> in,
                       fff::data::TextInput::Open(path));
  std::string line;
  for (;;) {
    FFF_ASSIGN_OR_RETURN(const bool more, in->ReadLine(&line));
    if (!more) break;
    FFF_RETURN_IF_ERROR(fn(line));
    *total = in->offset();
    if (max_bytes > 0 && *total >= max_bytes) return Status::Ok();
  }
  *total = in->offset();
  return in->Finish();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fff-train: pretraining and GLUE finetuning of FFF models"};
  app.require_subcommand(1);

  // ---- tokenizer --------------------------------------------------------
  auto* tok_cmd = app.add_subcommand("tokenizer", "train a WordPiece vocabulary -> tokenizer.json");
  std::vector<std::string> tok_corpus;
  std::string tok_out;
  fff::WordPieceTrainerOptions tok_opt;
  int64_t tok_max_bytes = 0;
  tok_cmd->add_option("--corpus", tok_corpus, "text files (.xz ok)")->required();
  tok_cmd->add_option("-o,--out", tok_out, "tokenizer.json to write")->required();
  tok_cmd->add_option("--vocab-size", tok_opt.vocab_size, "vocabulary size");
  tok_cmd->add_option("--min-frequency", tok_opt.min_frequency, "least pair count to merge");
  tok_cmd->add_option("--max-bytes", tok_max_bytes, "read at most this many bytes per file (0: all)");

  // ---- prepare -----------------------------------------------------------
  auto* prep_cmd = app.add_subcommand("prepare", "tokenise a corpus into packed shards (resumable)");
  std::string prep_tok, prep_out;
  std::vector<std::string> prep_corpus;
  fff::TokenShardWriterOptions prep_opt;
  prep_cmd->add_option("--tokenizer", prep_tok, "tokenizer.json")->required();
  prep_cmd->add_option("--corpus", prep_corpus, "text files (.xz ok)")->required();
  prep_cmd->add_option("-o,--out", prep_out, "shard directory")->required();
  prep_cmd->add_option("--seq-len", prep_opt.seq_len, "tokens per sequence");
  prep_cmd->add_option("--sequences-per-shard", prep_opt.sequences_per_shard, "");
  prep_cmd->add_option("--max-shards", prep_opt.max_shards, "stop after this many shards (0: all)");

  // ---- pretrain ----------------------------------------------------------
  auto* pre_cmd = app.add_subcommand("pretrain", "MLM pretraining (the cramming recipe)");
  fff::train::PretrainOptions po;
  fff::train::DistOptions dopt;
  std::string ff = "fff", nonlin = "GELU";
  int64_t layers = 4, hidden = 256, heads = 4, trees = 1, depth = 7, intermed = 1024,
          max_seq = 128;
  bool no_progress = false;
  pre_cmd->add_option("--data", po.data_dir, "token shards (fff-train prepare)")->required();
  pre_cmd->add_option("--eval-data", po.eval_data_dir, "held-out shards for eval loss");
  pre_cmd->add_option("--eval-sequences", po.eval_sequences, "");
  pre_cmd->add_option("--tokenizer", po.tokenizer_json, "tokenizer.json")->required();
  pre_cmd->add_option("-o,--out", po.out_dir, "run directory")->required();
  pre_cmd->add_option("--ff", ff,
                      "fff (UltraFastBERT), leaf (the original FFF: routers + "
                      "leaf networks) or ff (dense)")
      ->check(CLI::IsMember({"fff", "leaf", "ff"}));
  pre_cmd->add_option("--nonlin", nonlin, "dense FF: GELU or GELUglu")
      ->check(CLI::IsMember({"GELU", "GELUglu"}));
  pre_cmd->add_option("--layers", layers, "");
  pre_cmd->add_option("--hidden", hidden, "");
  pre_cmd->add_option("--heads", heads, "");
  pre_cmd->add_option("--trees", trees, "FFF trees");
  pre_cmd->add_option("--depth", depth,
                      "FFF depth (fff: levels - 1 of neurons; leaf: router "
                      "levels, 2^depth leaves)");
  int64_t leaf_width = 8;
  std::string leaf_nonlin = "ReLU";
  pre_cmd->add_option("--leaf-width", leaf_width, "leaf FFF: hidden units per leaf");
  pre_cmd->add_option("--leaf-nonlin", leaf_nonlin, "leaf FFF: ReLU or GELU")
      ->check(CLI::IsMember({"ReLU", "GELU"}));
  auto add_leaf_training = [](CLI::App* cmd, fff::train::LeafTrainOptions* leaf,
                              double* hardening, double* warmup) {
    cmd->add_option("--hardening", *hardening,
                    "leaf FFF: weight of the mean router entropy in the loss");
    cmd->add_option("--hardening-warmup", *warmup,
                    "leaf FFF: ramp the hardening weight from 0 over this "
                    "fraction of training (0: constant)");
    cmd->add_option("--region-leak", leaf->region_leak,
                    "leaf FFF: probability of swapping a router's two weights");
    cmd->add_option("--leaf-dropout", leaf->leaf_dropout,
                    "leaf FFF: dropout on leaf hidden units");
    cmd->add_flag("--train-hardened", leaf->train_hardened,
                  "leaf FFF: round router probabilities in training");
  };
  add_leaf_training(pre_cmd, &po.leaf, &po.hardening, &po.hardening_warmup);
  pre_cmd->add_option("--intermed", intermed, "dense FF width");
  pre_cmd->add_option("--max-seq", max_seq, "max_seq_length of the model");
  pre_cmd->add_option("--steps", po.steps, "budget in optimizer steps");
  pre_cmd->add_option("--budget-minutes", po.budget_s, "wall-clock budget (minutes) instead")
      ->transform([](std::string s) { return std::to_string(std::stod(s) * 60.0); });
  pre_cmd->add_option("--batch", po.batch, "sequences per step (all ranks)");
  pre_cmd->add_option("--micro-batch", po.micro_batch, "sequences per forward/backward");
  pre_cmd->add_flag("--batch-ramp", po.batch_ramp, "ramp the batch up to --batch by 60%");
  pre_cmd->add_option("--lr", po.lr, "peak learning rate");
  pre_cmd->add_option("--weight-decay", po.weight_decay, "");
  pre_cmd->add_option("--grad-clip", po.grad_clip, "");
  pre_cmd->add_option("--mask-rate", po.mask_rate, "");
  pre_cmd->add_option("--checkpoint-every", po.checkpoint_every, "steps");
  pre_cmd->add_option("--eval-every", po.eval_every, "steps");
  pre_cmd->add_flag("--resume", po.resume, "continue from OUT/checkpoint");
  pre_cmd->add_option("--seed", po.seed, "");
  pre_cmd->add_option("--threads", po.threads, "libtorch threads (0: default)");
  pre_cmd->add_flag("--no-progress", no_progress, "");
  pre_cmd->add_option("--device", po.device, "cpu or cuda[:N] (bf16 autocast on CUDA)");
  pre_cmd->add_option("--stop-after-steps", po.stop_after_steps,
                      "testing: stop after this many steps of this run");
  pre_cmd->add_option("--nan-at-step", po.nan_at_step, "testing: make this step's loss NaN");
  pre_cmd->add_option("--world-size", dopt.world_size, "processes in the job");
  pre_cmd->add_option("--rank", dopt.rank, "this process's rank");
  pre_cmd->add_option("--master-addr", dopt.master_addr, "rendezvous host (rank 0)");
  pre_cmd->add_option("--master-port", dopt.master_port, "rendezvous port");
  pre_cmd->add_option("--backend", dopt.backend, "gloo (CPU) or nccl (GPU)");

  // ---- glue ----------------------------------------------------------------
  auto* glue_cmd = app.add_subcommand("glue", "finetune and evaluate on GLUE tasks");
  std::string glue_model, glue_dir = "../shared/data/glue", glue_out, glue_tasks = "cola,sst2,mrpc,stsb,rte,wnli";
  int glue_epochs = -1, glue_batch = -1, glue_threads = 0;
  double glue_lr = -1;
  int64_t glue_max_train = 0, glue_max_eval = 0;
  std::string glue_save;
  bool glue_keep_mlm = false, glue_no_progress = false;
  uint64_t glue_seed = 1;
  glue_cmd->add_option("--model", glue_model, "pretrained checkpoint folder")->required();
  glue_cmd->add_option("--glue-dir", glue_dir, "GLUE data (shared/data/glue)");
  glue_cmd->add_option("--tasks", glue_tasks, "comma-separated tasks");
  glue_cmd->add_option("-o,--out", glue_out, "report directory")->required();
  glue_cmd->add_option("--epochs", glue_epochs, "override the spec's 5");
  glue_cmd->add_option("--batch", glue_batch, "override the spec's 16");
  glue_cmd->add_option("--lr", glue_lr, "override the spec's 4e-5");
  glue_cmd->add_option("--max-train", glue_max_train, "use a prefix of the train split");
  glue_cmd->add_option("--max-eval", glue_max_eval, "use a prefix of the dev split");
  glue_cmd->add_option("--save", glue_save, "save the finetuned model (one task)");
  glue_cmd->add_flag("--keep-mlm-head", glue_keep_mlm, "saved model keeps the tied decoder");
  glue_cmd->add_option("--seed", glue_seed, "");
  glue_cmd->add_option("--threads", glue_threads, "");
  glue_cmd->add_flag("--no-progress", glue_no_progress, "");
  std::string glue_device = "cpu";
  glue_cmd->add_option("--device", glue_device, "cpu or cuda[:N]");
  fff::train::LeafTrainOptions glue_leaf;
  double glue_hardening = 0, glue_hardening_warmup = 0;
  add_leaf_training(glue_cmd, &glue_leaf, &glue_hardening, &glue_hardening_warmup);

  CLI11_PARSE(app, argc, argv);
  const std::string command = JoinArgs(argc, argv);

  if (tok_cmd->parsed()) {
    auto trainer = fff::WordPieceTrainer::Create(tok_opt);
    if (!trainer.ok()) return Fail(trainer.status());
    for (const auto& path : tok_corpus) {
      int64_t total = 0;
      Status st = ForEachLine(path, tok_max_bytes, &total,
                              [&](const std::string& line) { return trainer->AddText(line); });
      if (!st.ok()) return Fail(st);
      std::fprintf(stderr, "fff-train: %s: %lld bytes\n", path.c_str(), (long long)total);
    }
    fff::train::Progress bar(true, "tokenizer");
    auto json = trainer->TrainTokenizerJson([&](const fff::WordPieceTrainProgress& p) {
      bar.Update(static_cast<double>(p.vocab_size) / p.target_size,
                 fmt::format("{} tokens", p.vocab_size));
    });
    bar.Finish();
    if (!json.ok()) return Fail(json.status());
    Status st = fff::internal::WriteFileAtomically(tok_out, *json);
    if (!st.ok()) return Fail(st);
    std::fprintf(stderr, "fff-train: wrote %s (%lld words, %lld distinct)\n", tok_out.c_str(),
                 (long long)trainer->n_words(), (long long)trainer->n_distinct_words());
    return 0;
  }

  if (prep_cmd->parsed()) {
    fff::train::Progress bar(true, "prepare");
    prep_opt.progress = [&](const fff::TokenShardProgress& p) {
      bar.Update(p.bytes_total > 0 ? static_cast<double>(p.bytes_read) / p.bytes_total : 0.0,
                 fmt::format("{} shards, {} sequences", p.n_shards, p.n_sequences));
    };
    auto r = fff::WriteTokenShards(prep_tok, prep_corpus, prep_out, prep_opt);
    bar.Finish();
    if (!r.ok()) return Fail(r.status());
    std::fprintf(stderr, "fff-train: %s: %lld shards, %lld sequences (%lld kept from an earlier run)%s\n",
                 prep_out.c_str(), (long long)r->n_shards, (long long)r->n_sequences,
                 (long long)r->n_shards_kept, r->complete ? "" : ", incomplete: re-run to resume");
    return 0;
  }

  if (pre_cmd->parsed()) {
    fff::ModelConfig& c = po.config;
    c.family = fff::ModelFamily::kCrammedBert;
    c.n_layers = layers;
    c.d_model = hidden;
    c.n_heads = heads;
    c.max_seq_length = max_seq;
    if (ff == "fff") {
      c.ff_kind = fff::FfKind::kFff;
      c.fff_trees = trees;
      c.fff_depth = depth;
    } else if (ff == "leaf") {
      c.ff_kind = fff::FfKind::kLeafFff;
      c.leaf_depth = depth;
      c.leaf_width = leaf_width;
      c.leaf_activation = leaf_nonlin == "GELU" ? fff::LeafActivation::kGelu
                                                : fff::LeafActivation::kRelu;
    } else {
      c.ff_kind = fff::FfKind::kDense;
      c.d_ff = intermed;
      c.ff_nonlin = nonlin == "GELUglu" ? fff::FfNonlin::kGeluGlu : fff::FfNonlin::kGelu;
    }
    c.pooler_dim = 1024;
    po.progress = !no_progress;
    auto dist = fff::train::Distributed::Create(dopt);
    if (!dist.ok()) return Fail(dist.status());
    auto sum = fff::train::Pretrain(po, **dist);
    if (!sum.ok()) return Fail(sum.status());
    if ((*dist)->is_main()) {
      std::printf("{\"steps\": %lld, \"sequences\": %lld, \"last_loss\": %.6f, \"eval_loss\": %.6f, "
                  "\"eval_loss_soft\": %.6f, \"seconds\": %.1f, \"finished\": %s}\n",
                  (long long)sum->steps, (long long)sum->sequences, sum->last_loss,
                  sum->eval_loss, sum->eval_loss_soft, sum->seconds,
                  sum->finished ? "true" : "false");
    }
    return 0;
  }

  if (glue_cmd->parsed()) {
    std::vector<fff::train::FinetuneResult> results;
    std::stringstream ss(glue_tasks);
    std::string name;
    std::error_code ec;
    std::filesystem::create_directories(glue_out, ec);
    while (std::getline(ss, name, ',')) {
      auto task = fff::glue::ParseGlueTask(name);
      if (!task.ok()) return Fail(task.status());
      fff::train::FinetuneOptions fo;
      fo.model_dir = glue_model;
      fo.glue_dir = glue_dir;
      fo.task = *task;
      fo.hp = fff::glue::DefaultGlueHyperParams(*task);
      if (glue_epochs >= 0) fo.hp.n_epochs = glue_epochs;
      if (glue_batch > 0) fo.hp.batch_size = glue_batch;
      if (glue_lr > 0) fo.hp.lr = glue_lr;
      fo.max_train_examples = glue_max_train;
      fo.max_eval_examples = glue_max_eval;
      fo.seed = glue_seed;
      fo.threads = glue_threads;
      fo.progress = !glue_no_progress;
      fo.device = glue_device;
      fo.out_dir = glue_save;
      fo.keep_mlm_head = glue_keep_mlm;
      fo.leaf = glue_leaf;
      fo.hardening = glue_hardening;
      fo.hardening_warmup = glue_hardening_warmup;
      auto r = fff::train::Finetune(fo);
      if (!r.ok()) return Fail(r.status());
      std::fprintf(stderr, "fff-train: %s: main %.2f\n", name.c_str(), r->scores.main);
      results.push_back(std::move(*r));
    }
    const std::string md = fff::train::GlueReportMarkdown(results, glue_model, command);
    std::fputs(md.c_str(), stdout);
    Status st = fff::internal::WriteFileAtomically(glue_out + "/glue_report.md", md);
    if (st.ok()) {
      st = fff::internal::WriteFileAtomically(
          glue_out + "/glue_report.json",
          fff::train::GlueReportJson(results, glue_model, command) + "\n");
    }
    if (!st.ok()) return Fail(st);
    return 0;
  }
  return 0;
}
