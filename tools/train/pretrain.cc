// Pretrain (pretrain.h).
#include "tools/train/pretrain.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <vector>

#include "fff/token_shards.h"
#include "fff/tokenizer.h"
#include "src/io/atomic_file.h"
#include "src/model/config.h"
#include "tools/train/crammed_model.h"
#include "tools/train/device.h"
#include "tools/train/leaf_stats.h"
#include "tools/train/mlm.h"
#include "tools/train/progress.h"
#include "tools/train/torch_status.h"

namespace fff::train {
namespace fs = std::filesystem;
namespace {

// The stream of sequences: epoch e visits the shards' sequences in a seeded
// permutation.
class SequenceStream {
 public:
  SequenceStream(const TokenShardSet& set, uint64_t seed)
      : set_(set), seed_(seed) {}
  // Copies stream element `index` (int32, seq_len tokens) into out.
  void Copy(int64_t index, int32_t* out) {
    const int64_t n = set_.n_sequences();
    const int64_t epoch = index / n;
    if (epoch != epoch_) {
      perm_.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) perm_[i] = i;
      std::mt19937_64 rng(MixSeed(seed_ ^ 0x5eedULL, static_cast<uint64_t>(epoch)));
      std::shuffle(perm_.begin(), perm_.end(), rng);
      epoch_ = epoch;
    }
    set_.CopySequence(perm_[index % n], out);
  }

 private:
  const TokenShardSet& set_;
  uint64_t seed_;
  int64_t epoch_ = -1;
  std::vector<int64_t> perm_;
};

bool IsNoDecay(const std::string& name) {
  return name.find("bias") != std::string::npos ||
         name.find("norm") != std::string::npos ||
         name.find("scale_factor") != std::string::npos;
}

// One micro-batch's inputs.
struct MicroBatch {
  torch::Tensor ids;        // [m, S] int64 (masked)
  torch::Tensor positions;  // [n] int64 flat row positions (b * S + p)
  torch::Tensor labels;     // [n] int64
};

MicroBatch MakeMicroBatch(SequenceStream& stream,
                          const std::vector<int64_t>& indices, int64_t s,
                          const MlmMaskCounts& c, uint64_t seed,
                          int32_t mask_id, int32_t vocab,
                          const torch::Device& device) {
  std::vector<int32_t> tok(static_cast<size_t>(s));
  std::vector<int64_t> ids;
  std::vector<int64_t> pos, lab;
  ids.reserve(indices.size() * s);
  for (size_t b = 0; b < indices.size(); ++b) {
    stream.Copy(indices[b], tok.data());
    const size_t before = pos.size();
    MaskSequence(tok.data(), s, c, seed, indices[b], mask_id, vocab, &pos, &lab);
    for (size_t k = before; k < pos.size(); ++k) pos[k] += static_cast<int64_t>(b) * s;
    ids.insert(ids.end(), tok.begin(), tok.end());
  }
  MicroBatch mb;
  mb.ids = torch::tensor(ids, torch::kLong)
               .view({static_cast<int64_t>(indices.size()), s})
               .to(device);
  mb.positions = torch::tensor(pos, torch::kLong).to(device);
  mb.labels = torch::tensor(lab, torch::kLong).to(device);
  return mb;
}

// Summed cross-entropy of a micro-batch's targets.
torch::Tensor MlmLossSum(CrammedBert& model, const MicroBatch& mb) {
  auto h = model->Encode(mb.ids, {});
  auto rows = h.reshape({-1, h.size(-1)}).index_select(0, mb.positions);
  return torch::nn::functional::cross_entropy(
      model->MlmLogits(rows), mb.labels,
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

// Mean held-out MLM loss over the first n sequences (fixed masking).
// `soft`: leaf FFF layers run their soft forward (else the hard one).
double EvalLoss(CrammedBert& model, const TokenShardSet& set, int64_t n,
                const MlmMaskCounts& c, int32_t mask_id, int32_t vocab,
                const torch::Device& device, bool autocast, bool soft = false) {
  AutocastBf16 amp(device, autocast);
  torch::NoGradGuard g;
  model->eval();
  CollectLeafUsage(model, false);
  for (auto* l : model->LeafLayers()) l->soft_in_eval = soft;
  SequenceStream stream(set, 12345);
  n = std::min(n, set.n_sequences());
  double sum = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < n; i += 16) {
    std::vector<int64_t> idx;
    for (int64_t j = i; j < std::min(n, i + 16); ++j) idx.push_back(j);
    MicroBatch mb = MakeMicroBatch(stream, idx, set.seq_len(), c, 777, mask_id, vocab, device);
    sum += MlmLossSum(model, mb).item<double>();
    count += mb.labels.numel();
  }
  for (auto* l : model->LeafLayers()) l->soft_in_eval = false;
  CollectLeafUsage(model, true);
  model->train();
  return count > 0 ? sum / static_cast<double>(count) : 0.0;
}

struct TrainState {
  int64_t step = 0;
  int64_t consumed = 0;
  double elapsed_s = 0;
  double last_loss = 0;
};

nlohmann::json StateJson(const TrainState& st, const PretrainOptions& o,
                         int world) {
  return {{"step", st.step},          {"consumed_sequences", st.consumed},
          {"elapsed_s", st.elapsed_s}, {"last_loss", st.last_loss},
          {"seed", o.seed},            {"batch", o.batch},
          {"steps", o.steps},          {"budget_s", o.budget_s},
          {"mask_rate", o.mask_rate},  {"world_size", world}};
}

Result<PretrainSummary> PretrainImpl(const PretrainOptions& o, Distributed& dist) {
  const double t_run = SteadySeconds();
  if (o.threads > 0) at::set_num_threads(o.threads);
  const int world = dist.world_size();
  if (o.micro_batch < 1 || o.batch < 1 || o.batch % (o.micro_batch * world) != 0) {
    return InvalidArgumentError(fmt::format(
        "pretrain: batch: expected a multiple of micro_batch x world_size = "
        "{} x {}, got {}",
        o.micro_batch, world, o.batch));
  }
  if (o.budget_s <= 0 && o.steps < 1) {
    return InvalidArgumentError("pretrain: steps: expected >= 1 (or a budget)");
  }
  FFF_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::FromTokenizerJson(o.tokenizer_json));
  const int32_t mask_id = tok.special_ids().mask;
  if (mask_id < 0) {
    return InvalidArgumentError(fmt::format(
        "{}: no mask token (an added special token containing \"mask\")",
        o.tokenizer_json));
  }
  ModelConfig cfg = o.config;
  if (cfg.vocab_size == 0) cfg.vocab_size = tok.vocab_size();
  if (tok.vocab_size() > cfg.vocab_size) {
    return InvalidArgumentError(fmt::format(
        "pretrain: the tokenizer {} has {} ids but the model's vocab_size is {}",
        o.tokenizer_json, tok.vocab_size(), cfg.vocab_size));
  }
  FFF_RETURN_IF_ERROR(ValidateTrainConfig(cfg));
  FFF_ASSIGN_OR_RETURN(TokenShardSet data, TokenShardSet::Open(o.data_dir));
  if (data.n_sequences() < 1) {
    return InvalidArgumentError(fmt::format("{}: no sequences", o.data_dir));
  }
  if (data.vocab_size() > cfg.vocab_size) {
    return InvalidArgumentError(fmt::format(
        "{}: shards hold ids up to vocab {} but the model's vocab_size is {}",
        o.data_dir, data.vocab_size(), cfg.vocab_size));
  }
  const int64_t seq = data.seq_len();
  if (seq > cfg.max_seq_length) {
    return InvalidArgumentError(fmt::format(
        "{}: sequences of {} tokens, longer than max_seq_length {}",
        o.data_dir, seq, cfg.max_seq_length));
  }
  std::optional<TokenShardSet> eval_data;
  if (!o.eval_data_dir.empty()) {
    FFF_ASSIGN_OR_RETURN(TokenShardSet e, TokenShardSet::Open(o.eval_data_dir));
    eval_data.emplace(std::move(e));
  }
  const MlmMaskCounts counts = MlmCounts(seq, o.mask_rate);
  if (counts.n_targets < 1) {
    return InvalidArgumentError("pretrain: mask_rate leaves no target per sequence");
  }

  FFF_ASSIGN_OR_RETURN(const torch::Device device, ParseDevice(o.device));
  torch::manual_seed(o.seed);
  CrammedOptions mo;
  mo.config = cfg;
  mo.leaf = o.leaf;
  CrammedBert model(mo);
  model->to(device);
  model->train();
  const bool leaf_model = !model->LeafLayers().empty();
  if ((o.hardening != 0 || o.hardening_warmup != 0) && !leaf_model) {
    return InvalidArgumentError(
        "pretrain: --hardening applies to leaf FFF models (--ff leaf) only");
  }
  CollectLeafUsage(model, true);
  std::vector<torch::Tensor> decay, no_decay, all_params;
  for (auto& p : model->named_parameters()) {
    (IsNoDecay(p.key()) ? no_decay : decay).push_back(p.value());
    all_params.push_back(p.value());
  }
  auto make_opts = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(o.lr)
            .betas({o.beta1, o.beta2})
            .eps(o.eps)
            .weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, make_opts(o.weight_decay));
  groups.emplace_back(no_decay, make_opts(0.0));
  torch::optim::AdamW optimizer(groups, torch::optim::AdamWOptions(o.lr));

  const fs::path out(o.out_dir);
  const std::string ckpt = (out / "checkpoint").string();
  const std::string log_path = (out / "loss.jsonl").string();
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return NotFoundError(fmt::format("{}: cannot create: {}", o.out_dir, ec.message()));

  TrainState st;
  if (o.resume) {
    std::string dir = ckpt;
    if (!fs::exists(dir) && fs::exists(ckpt + ".old")) dir = ckpt + ".old";
    if (!fs::exists(fs::path(dir) / "state.json")) {
      return NotFoundError(fmt::format("pretrain: --resume: no checkpoint in {}", ckpt));
    }
    FFF_ASSIGN_OR_RETURN(std::string text,
                         ReadTextFile((fs::path(dir) / "state.json").string(), 1 << 20));
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) {
      return DataLossError(fmt::format("{}/state.json: expected a JSON object", dir));
    }
    for (const char* field : {"step", "consumed_sequences", "elapsed_s", "last_loss"}) {
      if (!j.contains(field) || !j[field].is_number()) {
        return DataLossError(
            fmt::format("{}/state.json: {}: expected a number", dir, field));
      }
    }
    if (j.value("seed", uint64_t{0}) != o.seed || j.value("batch", int64_t{0}) != o.batch ||
        j.value("steps", int64_t{0}) != o.steps || j.value("budget_s", 0.0) != o.budget_s) {
      return InvalidArgumentError(fmt::format(
          "pretrain: --resume: {}/state.json was written with seed/batch/steps/"
          "budget {}/{}/{}/{}; this run asks {}/{}/{}/{}",
          dir, j.value("seed", uint64_t{0}), j.value("batch", int64_t{0}),
          j.value("steps", int64_t{0}), j.value("budget_s", 0.0), o.seed,
          o.batch, o.steps, o.budget_s));
    }
    st.step = j["step"].get<int64_t>();
    st.consumed = j["consumed_sequences"].get<int64_t>();
    st.elapsed_s = j["elapsed_s"].get<double>();
    st.last_loss = j["last_loss"].get<double>();
    FFF_RETURN_IF_ERROR(LoadCheckpointWeights(model, dir, false));
    FFF_RETURN_IF_ERROR(TorchCall("pretrain: loading optimizer.pt", [&] {
      torch::load(optimizer, (fs::path(dir) / "optimizer.pt").string(), device);
    }));
    // The loss log keeps the steps the checkpoint has.
    if (dist.is_main()) {
      std::ifstream in(log_path);
      std::string line, kept;
      while (std::getline(in, line)) {
        const auto e = nlohmann::json::parse(line, nullptr, false);
        if (e.is_object() && e.value("step", int64_t{1} << 62) <= st.step) kept += line + "\n";
      }
      FFF_RETURN_IF_ERROR(internal::WriteFileAtomically(log_path, kept));
    }
  } else {
    // Same initial weights on every rank.
    std::vector<torch::Tensor> init;
    for (auto& p : all_params) init.push_back(p.detach());
    torch::NoGradGuard g;
    FFF_RETURN_IF_ERROR(dist.Broadcast(init));
    if (dist.is_main()) FFF_RETURN_IF_ERROR(internal::WriteFileAtomically(log_path, ""));
  }
  std::FILE* log = dist.is_main() ? std::fopen(log_path.c_str(), "ab") : nullptr;
  if (dist.is_main() && log == nullptr) {
    return NotFoundError(fmt::format("{}: cannot append", log_path));
  }
  struct Closer {
    std::FILE* f;
    ~Closer() {
      if (f) std::fclose(f);
    }
  } closer{log};

  int64_t saved_step = o.resume ? st.step : -1;
  auto save = [&]() -> Status {
    saved_step = st.step;
    Status s = Status::Ok();
    if (dist.is_main()) {
      s = SaveCheckpoint(model, ckpt, o.tokenizer_json, true, [&](const std::string& tmp) {
        FFF_RETURN_IF_ERROR(TorchCall("pretrain: saving optimizer.pt", [&] {
          torch::save(optimizer, (fs::path(tmp) / "optimizer.pt").string());
        }));
        return internal::WriteFileAtomically((fs::path(tmp) / "state.json").string(),
                                             StateJson(st, o, world).dump(2) + "\n");
      });
    }
    FFF_RETURN_IF_ERROR(dist.Barrier());
    return s;
  };

  PretrainSummary sum;
  // Held-out loss (rank 0, when there is eval data), logged and kept.
  int64_t evaluated_step = -1;
  auto evaluate = [&] {
    if (!eval_data || !dist.is_main()) return;
    sum.eval_loss = EvalLoss(model, *eval_data, o.eval_sequences, counts, mask_id,
                             static_cast<int32_t>(cfg.vocab_size), device, o.autocast);
    evaluated_step = st.step;
    nlohmann::json e = {{"step", st.step}, {"eval_loss", sum.eval_loss}};
    if (leaf_model) {
      sum.eval_loss_soft =
          EvalLoss(model, *eval_data, o.eval_sequences, counts, mask_id,
                   static_cast<int32_t>(cfg.vocab_size), device, o.autocast,
                   /*soft=*/true);
      e["eval_loss_soft"] = sum.eval_loss_soft;
      e["leaf_usage"] = LeafUsageJson(model, /*reset=*/true);
    }
    std::fputs((e.dump() + "\n").c_str(), log);
    std::fflush(log);
  };

  SequenceStream stream(data, o.seed);
  Progress bar(o.progress && dist.is_main(), "pretrain");
  const double t_start = SteadySeconds() - st.elapsed_s;
  int64_t steps_this_run = 0;
  const int64_t unit = o.micro_batch * world;
  for (;;) {
    // Progress t in [0, 1] (rank 0 decides for a wall-clock budget).
    double t = o.budget_s > 0 ? (SteadySeconds() - t_start) / o.budget_s
                              : static_cast<double>(st.step) / static_cast<double>(o.steps);
    if (o.budget_s > 0 && world > 1) {
      auto tt = torch::tensor({t}, torch::kDouble).to(device);
      FFF_RETURN_IF_ERROR(dist.Broadcast({tt}));
      t = tt.item<double>();
    }
    if (t >= 1.0) {
      sum.finished = true;
      break;
    }
    int64_t batch = o.batch;
    if (o.batch_ramp) {
      const double f = std::min(1.0, std::max(t, 0.0) / 0.6);
      batch = std::clamp<int64_t>(
                  static_cast<int64_t>(std::llround(f * o.batch / unit)), 1,
                  o.batch / unit) * unit;
    }
    const double lr = BudgetTriangleLr(o.lr, t);
    for (auto& g : optimizer.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    }
    const double total_targets = static_cast<double>(batch * counts.n_targets);
    const double hardening = HardeningAt(o.hardening, o.hardening_warmup, t);
    optimizer.zero_grad();
    double loss_sum = 0, entropy_sum = 0;
    int64_t entropy_n = 0;
    Status step_status = TorchCall("pretrain: step", [&] {
      std::vector<int64_t> mine;
      for (int64_t j = dist.rank(); j < batch; j += world) mine.push_back(st.consumed + j);
      for (size_t m = 0; m < mine.size(); m += o.micro_batch) {
        std::vector<int64_t> idx(mine.begin() + m,
                                 mine.begin() + std::min(mine.size(), m + o.micro_batch));
        MicroBatch mb = MakeMicroBatch(stream, idx, seq, counts, o.seed, mask_id,
                                       static_cast<int32_t>(cfg.vocab_size), device);
        torch::Tensor loss;
        {
          AutocastBf16 amp(device, o.autocast);
          loss = MlmLossSum(model, mb).to(torch::kFloat) / total_targets;
        }
        if (st.step + 1 == o.nan_at_step) loss = loss * std::nan("");
        loss_sum += loss.item<double>();
        if (leaf_model) {
          // Weighted by the micro-batch's share of the global batch, so the
          // term sums to hardening x the batch's mean router entropy.
          const torch::Tensor entropy = model->MeanRouterEntropy();
          entropy_sum += entropy.item<double>();
          ++entropy_n;
          if (hardening != 0) {
            loss = loss + entropy.to(torch::kFloat) *
                              (hardening * static_cast<double>(idx.size()) /
                               static_cast<double>(batch));
          }
        }
        loss.backward();
      }
    });
    FFF_RETURN_IF_ERROR(step_status);
    std::vector<torch::Tensor> grads;
    for (auto& p : all_params) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      grads.push_back(p.grad());
    }
    // Gradients in their own dtype; the loss (float64) in a second, tiny
    // all-reduce.
    auto loss_t = torch::tensor({loss_sum}, torch::kDouble).to(device);
    {
      torch::NoGradGuard g;
      FFF_RETURN_IF_ERROR(dist.AllReduceSum(grads));
      FFF_RETURN_IF_ERROR(dist.AllReduceSum({loss_t}));
    }
    const double loss = loss_t.item<double>();
    if (!std::isfinite(loss)) {
      bar.Finish();
      return DataLossError(fmt::format(
          "pretrain: step {}: the loss is {}; stopped. {}",
          st.step + 1, loss,
          saved_step >= 0
              ? fmt::format("The last good checkpoint (step {}) is kept in {}",
                            saved_step, ckpt)
              : std::string("No checkpoint was saved yet")));
    }
    double grad_norm = 0;
    FFF_RETURN_IF_ERROR(TorchCall("pretrain: optimizer step", [&] {
      grad_norm = torch::nn::utils::clip_grad_norm_(all_params, o.grad_clip);
      optimizer.step();
    }));
    st.step += 1;
    st.consumed += batch;
    st.elapsed_s = SteadySeconds() - t_start;
    st.last_loss = loss;
    ++steps_this_run;
    if (log != nullptr) {
      nlohmann::json e = {{"step", st.step},       {"loss", loss},
                          {"lr", lr},              {"batch", batch},
                          {"grad_norm", grad_norm}, {"sequences", st.consumed},
                          {"tokens", st.consumed * seq}, {"elapsed_s", st.elapsed_s}};
      if (leaf_model) {
        // This rank's micro-batches (rank 0 logs).
        e["router_entropy"] = entropy_n > 0 ? entropy_sum / entropy_n : 0.0;
        e["hardening"] = hardening;
      }
      std::fputs((e.dump() + "\n").c_str(), log);
      std::fflush(log);
    }
    bar.Update(o.budget_s > 0 ? std::min(1.0, st.elapsed_s / o.budget_s)
                              : static_cast<double>(st.step) / o.steps,
               fmt::format("step {} loss {:.4f} lr {:.2e} {:.0f} tok/s", st.step, loss, lr,
                           static_cast<double>(steps_this_run * batch * seq) /
                               std::max(1e-9, SteadySeconds() - t_run)));
    if (o.eval_every > 0 && st.step % o.eval_every == 0) evaluate();
    if (o.checkpoint_every > 0 && st.step % o.checkpoint_every == 0) FFF_RETURN_IF_ERROR(save());
    if (o.stop_after_steps >= 0 && steps_this_run >= o.stop_after_steps) break;
  }
  bar.Finish();
  if (saved_step != st.step) FFF_RETURN_IF_ERROR(save());
  if (sum.finished && dist.is_main()) {
    FFF_RETURN_IF_ERROR(SaveCheckpoint(model, (out / "final").string(), o.tokenizer_json, true));
  }
  sum.steps = st.step;
  sum.sequences = st.consumed;
  sum.last_loss = st.last_loss;
  if (evaluated_step != st.step) evaluate();
  sum.seconds = SteadySeconds() - t_run;
  return sum;
}

}  // namespace

Result<PretrainSummary> Pretrain(const PretrainOptions& o, Distributed& dist) {
  std::optional<Result<PretrainSummary>> r;
  FFF_RETURN_IF_ERROR(TorchCall("pretrain", [&] { r.emplace(PretrainImpl(o, dist)); }));
  return std::move(*r);
}

}  // namespace fff::train
