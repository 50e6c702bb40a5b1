// Runs the batcher's batches on a loaded fff::Model: embeddings, sequence
// classification logits, or masked-token predictions (top-k per mask).
// Called only from the batching worker (a Model runs one call at a time).
#ifndef FFF_TOOLS_SERVER_ENGINE_H_
#define FFF_TOOLS_SERVER_ENGINE_H_

#include <cstdint>
#include <span>
#include <vector>

#include "fff/model.h"
#include "fff/status.h"
#include "tools/server/batcher.h"

namespace fff::server {

class ModelEngine {
 public:
  // `model` must outlive the engine. `mask_id` is the tokenizer's mask token
  // (-1: none; fill-mask batches then fail).
  ModelEngine(Model* model, bool mean_pooling, int32_t mask_id);

  // All items share one BatchKey (the batcher guarantees it). Every output
  // depends only on its own sequence and options (the model's guarantee).
  Status Run(std::span<const Batcher::Item> items);

 private:
  Status RunFillMask(std::span<const Batcher::Item> items);
  // seqs_ (and types_ for models with token types) viewing the items.
  void CollectSequences(std::span<const Batcher::Item> items);

  Model* model_;
  bool mean_pooling_;
  int32_t mask_id_;
  // Scratch reused across batches (the worker is the only caller).
  std::vector<std::span<const int32_t>> seqs_, types_;
  std::vector<float> out_, rows_;
};

// The `k` largest probabilities of softmax(logits[0..n)) with their ids,
// largest first (ties: lower id first). Softmax sums in double.
void TopKSoftmax(const float* logits, int64_t n, int k,
                 std::vector<float>* probs, std::vector<int32_t>* ids);

}  // namespace fff::server

#endif  // FFF_TOOLS_SERVER_ENGINE_H_
