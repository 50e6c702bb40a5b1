// Finetune (finetune.h).
#include "tools/train/finetune.h"

#include "tools/train/leaf_stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <random>

#include "fff/tokenizer.h"
#include "tools/train/crammed_model.h"
#include "tools/train/device.h"
#include "tools/train/progress.h"
#include "tools/train/torch_status.h"

namespace fff::train {
namespace fs = std::filesystem;
namespace {

struct Encoded {
  std::vector<std::vector<int64_t>> ids;
  std::vector<float> labels;
};

Result<Encoded> EncodeExamples(const Tokenizer& tok,
                               const std::vector<glue::GlueExample>& ex,
                               bool pair, int64_t max_length, int64_t limit) {
  Encoded e;
  EncodeOptions eo;
  eo.max_length = static_cast<size_t>(max_length);
  const size_t n = limit > 0 ? std::min<size_t>(ex.size(), limit) : ex.size();
  for (size_t i = 0; i < n; ++i) {
    Result<Encoding> enc = pair ? tok.EncodePair(ex[i].text_a, ex[i].text_b, eo)
                                : tok.Encode(ex[i].text_a, eo);
    if (!enc.ok()) {
      return Status(enc.status().code(),
                    fmt::format("example {}: {}", i, enc.status().message()));
    }
    e.ids.emplace_back(enc->ids.begin(), enc->ids.end());
    if (e.ids.back().empty()) e.ids.back().push_back(tok.special_ids().sep);
    e.labels.push_back(ex[i].label);
  }
  return e;
}

// Pads rows[idx] to the longest; returns ids [B, S] and mask [B, S].
std::pair<torch::Tensor, torch::Tensor> Pad(const Encoded& e,
                                            const std::vector<int64_t>& idx,
                                            int64_t pad_id) {
  size_t s = 0;
  for (int64_t i : idx) s = std::max(s, e.ids[i].size());
  auto ids = torch::full({static_cast<int64_t>(idx.size()), static_cast<int64_t>(s)},
                         pad_id, torch::kLong);
  auto mask = torch::zeros({static_cast<int64_t>(idx.size()), static_cast<int64_t>(s)});
  for (size_t b = 0; b < idx.size(); ++b) {
    const auto& row = e.ids[idx[b]];
    const int64_t len = static_cast<int64_t>(row.size());
    ids[b].narrow(0, 0, len).copy_(torch::tensor(row, torch::kLong));
    mask[b].narrow(0, 0, len).fill_(1.0);
  }
  return {ids, mask};
}

Result<FinetuneResult> FinetuneImpl(const FinetuneOptions& o) {
  const double t0 = SteadySeconds();
  if (o.threads > 0) at::set_num_threads(o.threads);
  const glue::GlueTaskInfo& info = glue::GetGlueTaskInfo(o.task);
  FFF_ASSIGN_OR_RETURN(ModelConfig cfg, ReadCheckpointConfig(o.model_dir));
  FFF_ASSIGN_OR_RETURN(
      Tokenizer tok,
      Tokenizer::FromTokenizerJson((fs::path(o.model_dir) / "tokenizer.json").string()));
  if (tok.vocab_size() > cfg.vocab_size) {
    return InvalidArgumentError(fmt::format(
        "{}: tokenizer.json has {} ids but the embedding has {} rows", o.model_dir,
        tok.vocab_size(), cfg.vocab_size));
  }
  FFF_ASSIGN_OR_RETURN(auto train_ex, glue::LoadGlueSplit(o.glue_dir, o.task, "train"));
  FFF_ASSIGN_OR_RETURN(auto dev_ex, glue::LoadGlueSplit(o.glue_dir, o.task, "dev"));
  const int64_t max_len = std::min<int64_t>(o.hp.max_length, cfg.max_seq_length);
  FFF_ASSIGN_OR_RETURN(Encoded train,
                       EncodeExamples(tok, train_ex, info.is_pair, max_len, o.max_train_examples));
  FFF_ASSIGN_OR_RETURN(Encoded dev,
                       EncodeExamples(tok, dev_ex, info.is_pair, max_len, o.max_eval_examples));
  const int64_t pad_id = std::max(0, tok.special_ids().pad);

  FFF_ASSIGN_OR_RETURN(const torch::Device device, ParseDevice(o.device));
  torch::manual_seed(o.seed);
  CrammedOptions mo;
  mo.config = cfg;
  mo.n_labels = info.n_labels;
  mo.dropout = o.dropout;
  mo.leaf = o.leaf;
  CrammedBert model(mo);
  const bool leaf_model = !model->LeafLayers().empty();
  if ((o.hardening != 0 || o.hardening_warmup != 0) && !leaf_model) {
    return InvalidArgumentError(
        "finetune: --hardening applies to leaf FFF models only");
  }
  FFF_RETURN_IF_ERROR(LoadCheckpointWeights(model, o.model_dir, /*allow_missing_head=*/true));
  model->to(device);

  std::vector<torch::Tensor> params = model->parameters();
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.hp.lr)
                                      .betas({o.hp.beta1, o.hp.beta2})
                                      .eps(o.hp.eps)
                                      .weight_decay(o.hp.weight_decay));
  const int64_t n = static_cast<int64_t>(train.ids.size());
  const int64_t bs = o.hp.batch_size;
  const int64_t steps_per_epoch = (n + bs - 1) / bs;
  const int64_t total_steps = steps_per_epoch * o.hp.n_epochs;
  const int64_t warmup = static_cast<int64_t>(std::ceil(o.hp.warmup_fraction * total_steps));
  auto lr_at = [&](int64_t step) {
    if (step < warmup) return o.hp.lr * static_cast<double>(step + 1) / warmup;
    const double p = static_cast<double>(step - warmup) /
                     std::max<int64_t>(1, total_steps - warmup);
    return o.hp.lr * 0.5 * (1.0 + std::cos(M_PI * p));
  };
  const bool regression = info.n_labels == 1;
  FinetuneResult res;
  res.task = o.task;
  res.n_train = n;
  res.n_eval = static_cast<int64_t>(dev.ids.size());

  auto evaluate = [&](bool soft = false) -> glue::GlueScores {
    torch::NoGradGuard g;
    model->eval();
    for (auto* l : model->LeafLayers()) l->soft_in_eval = soft;
    std::vector<float> preds;
    for (int64_t i = 0; i < res.n_eval; i += 64) {
      std::vector<int64_t> idx(std::min<int64_t>(64, res.n_eval - i));
      std::iota(idx.begin(), idx.end(), i);
      auto [ids, mask] = Pad(dev, idx, pad_id);
      AutocastBf16 amp(device, o.autocast);
      auto logits = model->Classify(ids.to(device), mask.to(device)).to(torch::kFloat);
      auto p = regression ? logits.squeeze(1) : logits.argmax(1).to(torch::kFloat);
      p = p.to(torch::kCPU).contiguous();
      preds.insert(preds.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
    }
    for (auto* l : model->LeafLayers()) l->soft_in_eval = false;
    model->train();
    return glue::ScoreGlue(o.task, preds, dev.labels);
  };

  Progress bar(o.progress, std::string(info.name));
  std::mt19937_64 rng(o.seed);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  int64_t step = 0;
  model->train();
  for (int epoch = 0; epoch < o.hp.n_epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    int64_t loss_n = 0;
    for (int64_t b = 0; b < n; b += bs, ++step) {
      std::vector<int64_t> idx(order.begin() + b, order.begin() + std::min(n, b + bs));
      auto [ids, mask] = Pad(train, idx, pad_id);
      std::vector<float> lab;
      for (int64_t i : idx) lab.push_back(train.labels[i]);
      auto y = torch::tensor(lab).to(device);
      for (auto& g : opt.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr_at(step));
      }
      opt.zero_grad();
      torch::Tensor logits;
      {
        AutocastBf16 amp(device, o.autocast);
        logits = model->Classify(ids.to(device), mask.to(device)).to(torch::kFloat);
      }
      auto loss = regression
                      ? torch::mse_loss(logits.squeeze(1), y)
                      : torch::nn::functional::cross_entropy(logits, y.to(torch::kLong));
      const double lv = loss.item<double>();
      const double hardening =
          HardeningAt(o.hardening, o.hardening_warmup,
                      static_cast<double>(step) / std::max<int64_t>(1, total_steps));
      if (leaf_model && hardening != 0) {
        loss = loss + hardening * model->MeanRouterEntropy().to(torch::kFloat);
      }
      if (!std::isfinite(lv)) {
        return DataLossError(fmt::format("finetune {}: step {}: the loss is {}; stopped",
                                         info.name, step, lv));
      }
      loss.backward();
      if (o.hp.grad_clip_norm > 0) {
        torch::nn::utils::clip_grad_norm_(params, o.hp.grad_clip_norm);
      }
      opt.step();
      loss_sum += lv;
      ++loss_n;
      bar.Update(static_cast<double>(step + 1) / total_steps,
                 fmt::format("epoch {} loss {:.4f}", epoch + 1, loss_sum / loss_n));
    }
    res.epoch_train_loss.push_back(loss_n > 0 ? loss_sum / loss_n : 0.0);
    res.scores = evaluate();
    res.epoch_main.push_back(res.scores.main);
  }
  bar.Finish();
  if (o.hp.n_epochs == 0) res.scores = evaluate();
  if (leaf_model) {
    res.scores_soft = evaluate(/*soft=*/true);
    res.has_soft = true;
  }
  if (!o.out_dir.empty()) {
    model->eval();
    FFF_RETURN_IF_ERROR(SaveCheckpoint(model, o.out_dir,
                                       (fs::path(o.model_dir) / "tokenizer.json").string(),
                                       o.keep_mlm_head));
  }
  res.seconds = SteadySeconds() - t0;
  return res;
}

}  // namespace

Result<FinetuneResult> Finetune(const FinetuneOptions& o) {
  std::optional<Result<FinetuneResult>> r;
  FFF_RETURN_IF_ERROR(TorchCall("finetune", [&] { r.emplace(FinetuneImpl(o)); }));
  return std::move(*r);
}

std::string GlueReportMarkdown(const std::vector<FinetuneResult>& results,
                               const std::string& model_dir,
                               const std::string& command) {
  std::string out = fmt::format("GLUE dev scores of `{}`\n\n`{}`\n\n", model_dir, command);
  out += "| task | train | dev | metric(s) | main | per-epoch main | seconds |\n"
         "|---|---:|---:|---|---:|---|---:|\n";
  std::map<glue::GlueTask, glue::GlueScores> all;
  for (const auto& r : results) {
    std::string metrics, epochs;
    for (const auto& [k, v] : r.scores.metrics) {
      metrics += fmt::format("{}{} {:.1f}", metrics.empty() ? "" : ", ", k, v);
    }
    for (double m : r.epoch_main) epochs += fmt::format("{}{:.1f}", epochs.empty() ? "" : " ", m);
    out += fmt::format("| {} | {} | {} | {} | {:.1f} | {} | {:.0f} |\n",
                       glue::GetGlueTaskInfo(r.task).name, r.n_train, r.n_eval, metrics,
                       r.scores.main, epochs, r.seconds);
    all[r.task] = r.scores;
  }
  const double avg = glue::GlueAverage(all);
  out += fmt::format("\nGLUE average (WNLI excluded) over these tasks: {:.1f}\n", avg);
  return out;
}

std::string GlueReportJson(const std::vector<FinetuneResult>& results,
                           const std::string& model_dir, const std::string& command) {
  nlohmann::json j;
  j["model"] = model_dir;
  j["command"] = command;
  std::map<glue::GlueTask, glue::GlueScores> all;
  for (const auto& r : results) {
    j["tasks"][std::string(glue::GetGlueTaskInfo(r.task).name)] = {
        {"metrics", r.scores.metrics}, {"main", r.scores.main},
        {"epoch_main", r.epoch_main},   {"epoch_train_loss", r.epoch_train_loss},
        {"n_train", r.n_train},         {"n_eval", r.n_eval},
        {"seconds", r.seconds}};
    if (r.has_soft) {
      j["tasks"][std::string(glue::GetGlueTaskInfo(r.task).name)]["main_soft"] =
          r.scores_soft.main;
    }
    all[r.task] = r.scores;
  }
  const double avg = glue::GlueAverage(all);
  j["glue_average_excluding_wnli"] = std::isfinite(avg) ? nlohmann::json(avg) : nlohmann::json();
  return j.dump(2);
}

}  // namespace fff::train
