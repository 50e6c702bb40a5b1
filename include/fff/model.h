// BERT-family encoders (crammedBERT, UltraFastBERT, plain HuggingFace BERT)
// loaded from a checkpoint folder: config.json + model.safetensors (+
// tokenizer.json or vocab.txt). See docs/model.md for the supported files.
//
// Sequences are packed without padding: a batch of sequences is one
// [n_tokens, d_model] matrix, attention runs per sequence. Every output row
// is bitwise independent of the batch's other sequences and of the thread
// count.
#ifndef FFF_MODEL_H_
#define FFF_MODEL_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fff/leaf_fff.h"
#include "fff/status.h"
#include "fff/tensor.h"
#include "fff/tokenizer.h"

namespace fff {

enum class ModelFamily {
  kCrammedBert,  // crammedBERT / UltraFastBERT (config.json with "arch")
  kHfBert,       // HuggingFace BertModel / BertForMaskedLM / ...Classification
};
// kFff: UltraFastBERT's FFF (fff/fff.h); kLeafFff: the original FFF with
// routers and leaf networks (fff/leaf_fff.h).
enum class FfKind { kDense, kFff, kLeafFff };
enum class FfNonlin { kGelu, kGeluGlu };
enum class Pooler { kZeroIndex, kAvg, kMax, kLse };

// The architecture, read from config.json (field names in docs/model.md).
struct ModelConfig {
  ModelFamily family = ModelFamily::kCrammedBert;
  int64_t vocab_size = 0;
  int64_t d_model = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t max_seq_length = 0;
  float norm_eps = 1e-12f;
  FfKind ff_kind = FfKind::kDense;
  FfNonlin ff_nonlin = FfNonlin::kGelu;
  int64_t d_ff = 0;       // dense: intermed_size (GELUglu: the 2x width)
  int64_t fff_trees = 0;  // FFF: number of trees
  int64_t fff_depth = 0;  // FFF: depth (fff.h vocabulary)
  // FFF: the checkpoint keeps only some nodes (`fff prune`; config.json
  // arch.fff_pruned, tensor ffn.kept_nodes): the others are zero, so a token
  // that reaches one stops adding to its output (docs/routing.md).
  bool fff_pruned = false;
  int64_t leaf_depth = 0;  // leaf FFF: router levels (leaf_fff.h vocabulary)
  int64_t leaf_width = 0;  // leaf FFF: hidden units per leaf
  LeafActivation leaf_activation = LeafActivation::kRelu;
  bool pre_norm = true;   // crammedBERT: pre-LN; HF BERT: post-LN
  bool final_norm = true;
  bool use_bias = false;  // biases on attention/FF linears
  bool qkv_bias = false;
  bool learned_positions = false;  // HF BERT: position_embeddings
  int64_t type_vocab_size = 0;     // HF BERT: token_type_embeddings rows
  bool mlm_transform = false;      // HF BERT: cls.predictions.transform
  bool decoder_bias = false;
  Pooler pooler = Pooler::kZeroIndex;
  bool pooler_dense = true;  // classification_head.include_ff_layer
  int64_t pooler_dim = 0;    // classification_head.head_dim
};

const char* ModelFamilyName(ModelFamily family);
// A short name of the feedforward: "fff-1x11" (trees x depth), "dense-3072"
// (width), "leaf-3x32" (router depth x leaf width).
std::string FfName(const ModelConfig& config);

// config.json text in the published crammedBERT form (an "arch" object as the
// authors' code resolves it) for a kCrammedBert config; Model::Load reads it
// back to the same architecture. `extra_arch_json`, when not empty, is a JSON
// object whose fields are added to (or replace those of) "arch".
Result<std::string> CrammedBertConfigJson(const ModelConfig& config,
                                          std::string_view extra_arch_json = {});
const char* PoolerName(Pooler pooler);

struct ModelOptions {
  // Threads for every call: 0 = OpenMP's maximum (OMP_NUM_THREADS or cores).
  int n_threads = 0;
  // SIMD target for the FFF kernels (empty: FFF_CPU_TARGET or the best).
  std::string cpu_target;
  // Load tokenizer.json / vocab.txt from the folder when present.
  bool load_tokenizer = true;
  // Rows per fixed-shape block of the dense products (0 = the measured
  // default; see docs/model.md). A tuning knob: any value gives bitwise
  // batch- and thread-independent results, but different values may differ
  // in the last bits from each other.
  int64_t linear_block_rows = 0;
};

// Per-layer diagnostics of one Encode call (tests, `fff` debugging,
// fff/routing.h). Encode clears every vector and keeps `routing_only`.
struct EncoderTrace {
  // Record only `routings` (no hidden states, no logits): what routing
  // statistics need, at the cost of one int32 per token, tree and level.
  bool routing_only = false;
  std::vector<float> embedding;                 // [n_tokens, d_model]
  std::vector<std::vector<float>> layers;       // n_layers x [n_tokens, d_model]
  // FFF: [n_tokens, trees, depth+1] visited nodes; leaf FFF: [n_tokens]
  // leaves reached.
  std::vector<std::vector<int32_t>> routings;
  std::vector<std::vector<float>> logits;  // FFF: node logits (as routings)
};

// Seconds spent per component, accumulated over Encode calls while profiling
// is on (Model::SetProfiling). Every component ends with its own work done
// (no overlap), so the parts add up to the encoder's time.
struct ComponentTimes {
  double embedding = 0;        // lookup + positions + embedding norm
  double norms = 0;            // layer norms, with the residual additions
                               // before them (one pass), and the final norm
  double qkv = 0;              // query_key_value projection
  double attention_core = 0;   // scores, softmax, context
  double attention_out = 0;    // attention output projection
  double ff = 0;               // FFF or dense feedforward
  double residual = 0;         // residual additions no norm follows (the
                               // last pre-LN layer's)
  double head = 0;             // MLM decoder / pooler + classifier
  double Total() const {
    return embedding + norms + qkv + attention_core + attention_out + ff +
           residual + head;
  }
};

// Sequences of token ids. The view must outlive the call.
using SequenceList = std::span<const std::span<const int32_t>>;

// A loaded model. Thread safety: calls use the model's workspace, so run one
// call at a time per Model (each call is internally parallel).
class Model {
 public:
  static Result<Model> Load(const std::string& dir,
                            const ModelOptions& options = {});
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const ModelConfig& config() const;
  // nullptr when the folder had no tokenizer (or load_tokenizer was false).
  const Tokenizer* tokenizer() const;
  bool has_mlm_head() const;
  // 0 when the checkpoint has no classification head.
  int64_t n_labels() const;
  int n_threads() const;
  // Highway target of the SIMD kernels in use (e.g. "AVX3").
  std::string cpu_target() const;
  // Parameter count of the loaded tensors (tied matrices once).
  int64_t n_parameters() const;
  // Milliseconds Load spent (map + validate + convert/repack).
  double load_ms() const;
  // Pruned FFF models (config.fff_pruned): 1 for each node of layer `layer`
  // the checkpoint keeps, 0 for a pruned one [n_trees * n_nodes]; empty for
  // every other model. Precondition: 0 <= layer < n_layers.
  std::span<const uint8_t> fff_kept_nodes(int64_t layer) const;
  // Zero-copy checkpoints (`fff convert`, fff/checkpoint_convert.h): the
  // mapped bytes of every FFF layer's weights (records, then b_in, per
  // layer), which the kernels read in place; empty when the FFF weights were
  // copied (any other checkpoint). For residency measurements (mincore).
  std::vector<std::span<const uint8_t>> mapped_fff_bytes() const;

  // Profiling: when on, every call adds its per-component times to
  // profile() (a few clock reads per layer; off by default).
  void SetProfiling(bool on);
  const ComponentTimes& profile() const;
  void ResetProfile();

  // Final hidden states [total tokens, d_model] of the packed sequences
  // (after the final norm when the model has one). Each sequence must hold
  // 1..max_seq_length ids in [0, vocab_size). `type_ids` (HF BERT only) is
  // either empty or one list per sequence.
  Status Encode(SequenceList sequences, std::vector<float>* hidden,
                EncoderTrace* trace = nullptr,
                SequenceList type_ids = {});

  // MLM logits [n_rows, vocab_size] for rows of Encode's output.
  Status MlmLogits(MatrixView<const float> hidden_rows,
                   std::vector<float>* logits);

  // Classification / regression logits [n_sequences, n_labels].
  Status Classify(SequenceList sequences, std::vector<float>* logits,
                  SequenceList type_ids = {});

  // Sentence embeddings [n_sequences, d_model]: mean over the sequence's
  // tokens (`mean`) or its first token, optionally L2-normalised.
  Status Embed(SequenceList sequences, bool mean, bool normalize,
               std::vector<float>* embeddings, SequenceList type_ids = {});

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fff

#endif  // FFF_MODEL_H_
