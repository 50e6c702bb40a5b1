// MLM pretraining of crammedBERT / UltraFastBERT (spec section 5, the
// cramming recipe), data parallel over torch.distributed (distributed.h).
//
// Data: packed token shards (fff/token_shards.h) read as one stream, epoch
// after epoch, each epoch in a seeded permutation. The global batch of step
// s is the next `batch` sequences of the stream; rank r takes the batch's
// sequences j with j % world_size == r, in micro-batches (gradient
// accumulation). Masking is count-based: exactly round(rate * S) positions
// per sequence, uniformly chosen (special tokens not excluded); 80 % of them
// (rounded) become <mask>, 10 % (rounded) a uniformly random id, the rest
// stay; the loss (cross-entropy, summed, divided by the batch's masked
// count) is computed only at those positions (sparse prediction). The
// masking of a sequence depends only on (seed, its stream index): results
// do not depend on world size or micro-batching beyond float summation
// order, and a resumed run repeats exactly what an uninterrupted one does.
// Optimiser AdamW (weight decay not on biases, norms or scale_factor),
// schedule "budget-triangle2": lr * min(0.25 + t, 4 (1 - t)) with t the
// elapsed fraction of the budget (steps, or wall-clock seconds), gradient
// clipping by global norm, optional batch ramp (linear up to the full batch
// at t = 0.6), dropout off.
// Checkpoints (rank 0) go to out/checkpoint: the model folder the inference
// engine loads, plus optimizer.pt and state.json for exact resume; written
// beside and renamed into place, so an interruption or a full disk never
// replaces a good checkpoint with a partial one. A non-finite loss stops
// the run with an error naming the step; the last checkpoint stays.
// Leaf FFF models train with the soft forward (all leaves mixed) plus
// hardening x mean router entropy; the held-out loss is reported for the
// hard forward (what inference runs) and the soft one, with per-layer leaf
// usage (leaf_stats.h) in loss.jsonl at every evaluation.
#ifndef FFF_TOOLS_TRAIN_PRETRAIN_H_
#define FFF_TOOLS_TRAIN_PRETRAIN_H_

#include <cstdint>
#include <string>

#include "fff/model.h"
#include "fff/status.h"
#include "tools/train/crammed_model.h"
#include "tools/train/distributed.h"

namespace fff::train {

struct PretrainOptions {
  std::string data_dir;        // token shards (training)
  std::string eval_data_dir;   // token shards for held-out MLM loss (optional)
  int64_t eval_sequences = 256;
  std::string tokenizer_json;  // copied into every checkpoint
  std::string out_dir;
  ModelConfig config;          // vocab_size 0: the tokenizer's
  int64_t steps = 1000;        // the budget in steps (when budget_s == 0)
  double budget_s = 0;         // > 0: a wall-clock budget instead
  int64_t batch = 64;          // sequences per optimizer step (all ranks)
  int64_t micro_batch = 16;    // sequences per forward/backward
  bool batch_ramp = false;
  double lr = 1e-3;
  double weight_decay = 0.01;
  double beta1 = 0.9, beta2 = 0.98, eps = 1e-12;
  double grad_clip = 0.5;
  double mask_rate = 0.25;
  int64_t checkpoint_every = 0;  // steps (0: only at the end)
  int64_t eval_every = 0;        // steps (0: only at the end)
  bool resume = false;
  uint64_t seed = 1;
  int threads = 0;  // 0: keep libtorch's
  // "cpu" or "cuda[:N]"; on CUDA the forward runs under bf16 autocast
  // (unless autocast is false). FFF layers on CUDA need the CUDA kernels of
  // the op (a separate issue): until then a CUDA run trains dense models.
  std::string device = "cpu";
  bool autocast = true;
  bool progress = true;
  // Leaf FFF models (config.ff_kind == kLeafFff): training options of the
  // layers, and the hardening loss weight on the mean router entropy,
  // ramped from 0 over the first `hardening_warmup` of the budget.
  LeafTrainOptions leaf;
  double hardening = 0;
  double hardening_warmup = 0;
  // Testing knobs: stop (after checkpointing) once this run has done this
  // many steps, as an interruption would; make the loss of step N (1-based,
  // as in loss.jsonl) NaN.
  int64_t stop_after_steps = -1;
  int64_t nan_at_step = -1;
};

struct PretrainSummary {
  int64_t steps = 0;        // optimizer steps done (total)
  int64_t sequences = 0;    // sequences consumed (total)
  double last_loss = 0;     // training MLM loss of the last step
  double eval_loss = -1;    // held-out MLM loss at the end (-1: none)
  // Leaf FFF models: the held-out loss with the soft (training) forward;
  // eval_loss is the hard (inference) one.
  double eval_loss_soft = -1;
  double seconds = 0;       // wall time of this run
  bool finished = false;    // reached the budget (else stopped early)
};

Result<PretrainSummary> Pretrain(const PretrainOptions& options,
                                 Distributed& dist);

}  // namespace fff::train

#endif  // FFF_TOOLS_TRAIN_PRETRAIN_H_
