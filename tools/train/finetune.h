// GLUE finetuning and evaluation (spec section 5): a pretrained checkpoint
// plus a classification head (pooler + head, fresh), trained on the task's
// train split with AdamW and cosine decay after a linear warm-up, scored on
// its dev split with the task's GLUE metrics (glue/glue_metrics.h). Pairs
// are encoded with the tokenizer's pair template, truncated to max_length
// (longest first); batches are padded to their longest sequence with the
// key mask. STS-B regresses the score (one output, MSE); the others
// classify (cross-entropy). Hidden and classifier dropout: options.dropout.
#ifndef FFF_TOOLS_TRAIN_FINETUNE_H_
#define FFF_TOOLS_TRAIN_FINETUNE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fff/status.h"
#include "tools/train/crammed_model.h"
#include "tools/train/glue/glue_metrics.h"
#include "tools/train/glue/glue_tasks.h"

namespace fff::train {

struct FinetuneOptions {
  std::string model_dir;  // pretrained checkpoint (config, weights, tokenizer)
  std::string glue_dir;   // shared/data/glue
  glue::GlueTask task = glue::GlueTask::kSST2;
  glue::GlueHyperParams hp;  // DefaultGlueHyperParams(task) unless changed
  int64_t max_train_examples = 0;  // 0: all (a prefix otherwise)
  int64_t max_eval_examples = 0;   // 0: all
  double dropout = 0.1;
  uint64_t seed = 1;
  int threads = 0;
  std::string device = "cpu";  // or cuda[:N] (bf16 autocast when autocast)
  bool autocast = true;
  bool progress = true;
  std::string out_dir;  // when set, the finetuned checkpoint is saved here
  bool keep_mlm_head = false;  // save the tied decoder too (fill-mask works)
  // Leaf FFF models: layer training options and the hardening loss weight
  // (pretrain.h), ramped over the first hardening_warmup of the steps.
  LeafTrainOptions leaf;
  double hardening = 0;
  double hardening_warmup = 0;
};

struct FinetuneResult {
  glue::GlueTask task;
  glue::GlueScores scores;              // on dev, after the last epoch
  // Leaf FFF models: the same dev set scored with the soft forward (scores
  // is the hard one, what inference runs); has_soft false otherwise.
  glue::GlueScores scores_soft;
  bool has_soft = false;
  std::vector<double> epoch_main;        // dev main metric after each epoch
  std::vector<double> epoch_train_loss;  // mean training loss per epoch
  int64_t n_train = 0, n_eval = 0;
  double seconds = 0;
};

Result<FinetuneResult> Finetune(const FinetuneOptions& options);

// Markdown and JSON reports of several tasks (with the GLUE average, WNLI
// excluded) and the command that produced them.
std::string GlueReportMarkdown(const std::vector<FinetuneResult>& results,
                               const std::string& model_dir,
                               const std::string& command);
std::string GlueReportJson(const std::vector<FinetuneResult>& results,
                           const std::string& model_dir,
                           const std::string& command);

}  // namespace fff::train

#endif  // FFF_TOOLS_TRAIN_FINETUNE_H_
