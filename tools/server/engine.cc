#include "tools/server/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fff::server {

ModelEngine::ModelEngine(Model* model, bool mean_pooling, int32_t mask_id)
    : model_(model), mean_pooling_(mean_pooling), mask_id_(mask_id) {}

void TopKSoftmax(const float* logits, int64_t n, int k,
                 std::vector<float>* probs, std::vector<int32_t>* ids) {
  const float m = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - m);
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const int kk = static_cast<int>(std::min<int64_t>(k, n));
  std::partial_sort(order.begin(), order.begin() + kk, order.end(),
                    [&](int32_t a, int32_t b) {
                      return logits[a] > logits[b] ||
                             (logits[a] == logits[b] && a < b);
                    });
  for (int i = 0; i < kk; ++i) {
    ids->push_back(order[i]);
    probs->push_back(
        static_cast<float>(std::exp(double(logits[order[i]]) - m) / sum));
  }
}

void ModelEngine::CollectSequences(std::span<const Batcher::Item> items) {
  seqs_.clear();
  types_.clear();
  const bool typed = model_->config().type_vocab_size > 0;
  for (const Batcher::Item& it : items) {
    seqs_.emplace_back(it.sequence->ids);
    if (typed) types_.emplace_back(it.sequence->type_ids);
  }
}

Status ModelEngine::Run(std::span<const Batcher::Item> items) {
  if (items.empty()) return Status::Ok();
  const TaskOptions& opt = *items[0].options;
  if (opt.task == Task::kFillMask) return RunFillMask(items);
  CollectSequences(items);
  int64_t width = 0;
  if (opt.task == Task::kEmbed) {
    FFF_RETURN_IF_ERROR(
        model_->Embed(seqs_, mean_pooling_, opt.normalize, &out_, types_));
    width = model_->config().d_model;
  } else {
    FFF_RETURN_IF_ERROR(model_->Classify(seqs_, &out_, types_));
    width = model_->n_labels();
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const float* row = out_.data() + i * width;
    items[i].output->values.assign(row, row + width);
  }
  return Status::Ok();
}

Status ModelEngine::RunFillMask(std::span<const Batcher::Item> items) {
  if (mask_id_ < 0)
    return InternalError("fill-mask: the tokenizer has no mask token");
  CollectSequences(items);
  FFF_RETURN_IF_ERROR(model_->Encode(seqs_, &out_, nullptr, types_));
  const int64_t d = model_->config().d_model;
  rows_.clear();
  int64_t base = 0, n_masks = 0;
  for (const Batcher::Item& it : items) {
    const std::vector<int32_t>& ids = it.sequence->ids;
    for (size_t p = 0; p < ids.size(); ++p) {
      if (ids[p] != mask_id_) continue;
      const float* r = out_.data() + (base + static_cast<int64_t>(p)) * d;
      rows_.insert(rows_.end(), r, r + d);
      ++n_masks;
    }
    base += static_cast<int64_t>(ids.size());
  }
  std::vector<float> logits;
  if (n_masks > 0) {
    FFF_RETURN_IF_ERROR(model_->MlmLogits(
        MatrixView<const float>(std::span<const float>(rows_), n_masks, d),
        &logits));
  }
  const int64_t v = model_->config().vocab_size;
  int64_t q = 0;
  for (const Batcher::Item& it : items) {
    SequenceOutput& out = *it.output;
    out.values.clear();
    out.ids.clear();
    for (const int32_t id : it.sequence->ids) {
      if (id != mask_id_) continue;
      TopKSoftmax(logits.data() + q * v, v, it.options->top_k, &out.values,
                  &out.ids);
      ++q;
    }
  }
  return Status::Ok();
}

}  // namespace fff::server
