// Model (fff/model.h): loading a checkpoint folder and the encoder forward.
#include "fff/model.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "fff/fff.h"
#include "fff/safetensors.h"
#include "src/base/aligned_buffer.h"
#include "src/base/log_internal.h"
#include "src/base/parallel.h"
#include "src/kernels/encoder_kernels.h"
#include "src/kernels/encoder_ops.h"
#include "src/kernels/linear.h"
#include "src/model/config.h"
#include "src/model/weights.h"

namespace fff {
namespace {

// Rows per block of the row-wise ops (LayerNorm, residual adds): fixed, so
// a row's arithmetic never depends on the thread count.
constexpr int64_t kRowBlock = 16;

// Heads run one (sequence, head) pair per parallel block.
void AttentionAll(const kernels::EncoderKernelTable& ek, const float* qkv,
                  float* ctx, std::span<const int64_t> seq_start,
                  int64_t n_heads, int64_t d_head, float scale, int n_threads,
                  std::vector<std::vector<float>>& scores) {
  const int64_t n_seq = static_cast<int64_t>(seq_start.size()) - 1;
  const int64_t d_model = n_heads * d_head;
  ParallelFor(n_seq * n_heads, n_threads, [&](int64_t blk) {
    const int64_t s = blk / n_heads;
    const int64_t h = blk % n_heads;
    const int64_t t0 = seq_start[s];
    const int64_t n = seq_start[s + 1] - t0;
    ek.attention_head(qkv + t0 * 3 * d_model, ctx + t0 * d_model, n, h, n_heads,
                      d_head, scale,
                      scores[static_cast<size_t>(CurrentThreadIndex())].data());
  });
}

}  // namespace

const char* ModelFamilyName(ModelFamily family) {
  return family == ModelFamily::kCrammedBert ? "crammedBERT" : "HF BERT";
}
std::string FfName(const ModelConfig& c) {
  switch (c.ff_kind) {
    case FfKind::kFff:
      return fmt::format("fff-{}x{}", c.fff_trees, c.fff_depth);
    case FfKind::kLeafFff:
      return fmt::format("leaf-{}x{}", c.leaf_depth, c.leaf_width);
    case FfKind::kDense:
      break;
  }
  return fmt::format("dense-{}", c.d_ff);
}

const char* PoolerName(Pooler pooler) {
  switch (pooler) {
    case Pooler::kZeroIndex:
      return "zero_index";
    case Pooler::kAvg:
      return "avg";
    case Pooler::kMax:
      return "max";
    case Pooler::kLse:
      return "lse";
  }
  return "?";
}

struct Model::Impl {
  ModelConfig cfg;
  int n_threads = 1;
  double load_ms = 0;
  int64_t n_parameters = 0;
  std::optional<Tokenizer> tokenizer;
  // The checkpoint's mapping, kept when FFF layers view it (zero-copy
  // layout, fff/checkpoint_convert.h); declared before `w`, whose views
  // point into it.
  std::optional<SafetensorsReader> mapped;
  ModelWeights w;  // host tensors (embedding, norms, FFF weights)
  const kernels::EncoderKernelTable* ek = nullptr;

  struct Layer {
    std::optional<Linear> qkv, attn_out, ff_in, ff_out;
    std::optional<FffLayer> fff;
    std::optional<LeafFffLayer> leaf;
  };
  std::vector<Layer> layers;
  std::optional<Linear> decoder, pooler, head, mlm_transform;

  bool profiling = false;
  ComponentTimes times;
  // Adds the seconds since the previous Lap to `slot` (when profiling).
  std::chrono::steady_clock::time_point lap_start;
  void Lap(double* slot) {
    if (!profiling) return;
    const auto now = std::chrono::steady_clock::now();
    *slot += std::chrono::duration<double>(now - lap_start).count();
    lap_start = now;
  }

  // Workspace, grown on demand; 64-byte aligned so the kernels' vector loads
  // of a row never straddle cache lines.
  AlignedVector<float> h, t, big, ctx, glu;
  std::vector<std::vector<float>> scores;  // per thread, max_seq_length

  Status Build(const ModelOptions& options);
  Status Validate(SequenceList sequences,
                  std::vector<int64_t>* seq_start) const;
  void RowBlocks(int64_t n_rows,
                 const std::function<void(int64_t, int64_t)>& f);
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

const ModelConfig& Model::config() const { return impl_->cfg; }
const Tokenizer* Model::tokenizer() const {
  return impl_->tokenizer ? &*impl_->tokenizer : nullptr;
}
bool Model::has_mlm_head() const { return impl_->decoder.has_value(); }
int64_t Model::n_labels() const {
  return impl_->head ? impl_->head->d_out() : 0;
}
int Model::n_threads() const { return impl_->n_threads; }
std::string Model::cpu_target() const { return impl_->ek->name; }
int64_t Model::n_parameters() const { return impl_->n_parameters; }
void Model::SetProfiling(bool on) { impl_->profiling = on; }
const ComponentTimes& Model::profile() const { return impl_->times; }
void Model::ResetProfile() { impl_->times = ComponentTimes{}; }
double Model::load_ms() const { return impl_->load_ms; }
std::vector<std::span<const uint8_t>> Model::mapped_fff_bytes() const {
  std::vector<std::span<const uint8_t>> regions;
  for (const LayerWeights& l : impl_->w.layers) {
    if (l.fff_mapped_records.empty()) continue;
    regions.push_back(l.fff_mapped_records);
    regions.push_back(l.fff_mapped_b_in);
  }
  return regions;
}
std::span<const uint8_t> Model::fff_kept_nodes(int64_t layer) const {
  return impl_->w.layers[static_cast<size_t>(layer)].fff_kept;
}

namespace {

// A Linear from a checkpoint weight, plain (copied and repacked) or tiled
// (viewed in the mapping where the kernel reads it in place); the plain
// copy is released (the Linear holds its own).
Result<Linear> MakeLinear(int64_t d_in, int64_t d_out, LinearWeight& w,
                          std::span<const float> b, const LinearOptions& lo,
                          std::string name) {
  Result<Linear> r =
      w.tiled.empty()
          ? Linear::Create(d_in, d_out, w.plain, b, lo, std::move(name))
          : Linear::CreateFromTiled(d_in, d_out, w.tiled, b, lo,
                                    std::move(name));
  if (w.tiled.empty()) w.Clear();
  return r;
}

}  // namespace

Status Model::Impl::Build(const ModelOptions& options) {
  const ModelConfig& c = cfg;
  LinearOptions lo;
  lo.n_threads = n_threads;
  lo.block_rows = options.linear_block_rows;
  layers.resize(static_cast<size_t>(c.n_layers));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    LayerWeights& lw = w.layers[static_cast<size_t>(i)];
    Layer& l = layers[static_cast<size_t>(i)];
    const std::string p = fmt::format("layer {}", i);
    FFF_ASSIGN_OR_RETURN(
        Linear qkv, MakeLinear(c.d_model, 3 * c.d_model, lw.qkv_w, lw.qkv_b, lo,
                               p + " query_key_value"));
    l.qkv = std::move(qkv);
    FFF_ASSIGN_OR_RETURN(Linear out,
                         MakeLinear(c.d_model, c.d_model, lw.attn_out_w,
                                    lw.attn_out_b, lo, p + " attention dense"));
    l.attn_out = std::move(out);
    if (c.ff_kind == FfKind::kLeafFff) {
      LeafFffOptions lfo;
      lfo.n_threads = n_threads;
      lfo.target = options.cpu_target;
      FFF_ASSIGN_OR_RETURN(
          LeafFffLayer leaf,
          LeafFffLayer::Create(lw.leaf.shape, lw.leaf.view(), lfo));
      l.leaf = std::move(leaf);
    } else if (c.ff_kind == FfKind::kFff) {
      FffShape shape;
      shape.d_in = c.d_model;
      shape.d_out = c.d_model;
      shape.depth = c.fff_depth;
      shape.n_trees = c.fff_trees;
      FffOptions fo;
      fo.n_threads = n_threads;
      fo.target = options.cpu_target;
      const FffWeightsView view =
          lw.fff_view.w_in.empty()
              ? FffWeightsView{lw.fff_w_in, lw.fff_b_in, lw.fff_w_out}
              : lw.fff_view;  // zero-copy: the mapped records
      FFF_ASSIGN_OR_RETURN(FffLayer fff, FffLayer::Create(shape, view, fo));
      l.fff = std::move(fff);
    } else {
      LinearOptions first = lo;
      if (c.ff_nonlin == FfNonlin::kGelu) {
        first.activation = LinearActivation::kGelu;
      }
      const int64_t d_mid =
          c.ff_nonlin == FfNonlin::kGeluGlu ? c.d_ff / 2 : c.d_ff;
      FFF_ASSIGN_OR_RETURN(
          Linear in, Linear::Create(c.d_model, c.d_ff, lw.ff_in_w, lw.ff_in_b,
                                    first, p + " dense_in"));
      FFF_ASSIGN_OR_RETURN(
          Linear o, Linear::Create(d_mid, c.d_model, lw.ff_out_w, lw.ff_out_b,
                                   lo, p + " dense_out"));
      l.ff_in = std::move(in);
      l.ff_out = std::move(o);
      // The dense weights live on in the repacked copies only.
      lw.ff_in_w = {};
      lw.ff_out_w = {};
    }
  }
  if (!w.mlm_dense_w.empty()) {
    LinearOptions gelu = lo;
    gelu.activation = LinearActivation::kGelu;
    FFF_ASSIGN_OR_RETURN(
        Linear t, MakeLinear(c.d_model, c.d_model, w.mlm_dense_w, w.mlm_dense_b,
                             gelu, "mlm transform"));
    mlm_transform = std::move(t);
  }
  if (!w.decoder_w.empty()) {
    FFF_ASSIGN_OR_RETURN(
        Linear d, MakeLinear(c.d_model, c.vocab_size, w.decoder_w, w.decoder_b,
                             lo, "decoder"));
    decoder = std::move(d);
  }
  if (!w.head_w.empty()) {
    int64_t head_in = c.d_model;
    if (!w.pooler_w.empty()) {
      LinearOptions tanh = lo;
      tanh.activation = LinearActivation::kTanh;
      FFF_ASSIGN_OR_RETURN(
          Linear pd, MakeLinear(c.d_model, c.pooler_dim, w.pooler_w, w.pooler_b,
                                tanh, "pooler.dense"));
      pooler = std::move(pd);
      head_in = c.pooler_dim;
    }
    const int64_t n_labels = static_cast<int64_t>(w.head_b.size());
    FFF_ASSIGN_OR_RETURN(Linear hd, MakeLinear(head_in, n_labels, w.head_w,
                                               w.head_b, lo, "head"));
    head = std::move(hd);
  }
  std::string target = options.cpu_target;
  if (target.empty()) {
    if (const char* env = std::getenv("FFF_CPU_TARGET")) target = env;
  }
  ek = target.empty() ? kernels::SupportedEncoderKernelTables().front()
                      : kernels::FindEncoderKernelTable(target);
  if (ek == nullptr) {
    return InvalidArgumentError(fmt::format(
        "fff: cpu target \"{}\": not compiled in or not supported by this CPU",
        target));
  }
  scores.assign(
      static_cast<size_t>(n_threads),
      std::vector<float>(static_cast<size_t>(kernels::AttentionScratchFloats(
          c.max_seq_length, c.d_model / c.n_heads))));
  return Status::Ok();
}

Result<Model> Model::Load(const std::string& dir, const ModelOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  auto impl = std::make_unique<Impl>();
  Impl& im = *impl;
  if (options.n_threads < 0 || options.n_threads > 1024) {
    return InvalidArgumentError(fmt::format(
        "fff: n_threads: expected 0..1024, got {}", options.n_threads));
  }
  im.n_threads = ResolveThreadCount(options.n_threads);
  namespace fs = std::filesystem;
  const std::string config_path = (fs::path(dir) / "config.json").string();
  FFF_ASSIGN_OR_RETURN(std::string config_text,
                       ReadTextFile(config_path, 1 << 20));
  FFF_ASSIGN_OR_RETURN(im.cfg, ParseModelConfig(config_text, config_path));
  const std::string weights_path =
      (fs::path(dir) / "model.safetensors").string();
  FFF_ASSIGN_OR_RETURN(SafetensorsReader reader,
                       SafetensorsReader::Open(weights_path));
  if (im.cfg.family == ModelFamily::kCrammedBert) {
    FFF_ASSIGN_OR_RETURN(im.w, LoadCrammedWeights(reader, &im.cfg));
  } else {
    FFF_ASSIGN_OR_RETURN(im.w, LoadHfBertWeights(reader, &im.cfg));
  }
  im.n_parameters = im.w.n_parameters;
  // Views of the mapping (FFF records, tiled Linear weights, the word
  // embedding) live as long as the model.
  if (im.w.views_mapping) im.mapped.emplace(std::move(reader));
  auto ms_since = [&t0] {
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now() - t0)
        .count();
  };
  FFF_LOG(kInfo, "{}: config + weights read and converted at {:.0f} ms",
          weights_path, ms_since());

  if (options.load_tokenizer) {
    const fs::path tj = fs::path(dir) / "tokenizer.json";
    const fs::path vt = fs::path(dir) / "vocab.txt";
    std::error_code ec;
    if (fs::exists(tj, ec)) {
      FFF_ASSIGN_OR_RETURN(Tokenizer t,
                           Tokenizer::FromTokenizerJson(tj.string()));
      im.tokenizer = std::move(t);
    } else if (fs::exists(vt, ec)) {
      FFF_ASSIGN_OR_RETURN(Tokenizer t, Tokenizer::FromVocabTxt(vt.string()));
      im.tokenizer = std::move(t);
    }
    if (im.tokenizer && im.tokenizer->vocab_size() > im.cfg.vocab_size) {
      return InvalidArgumentError(fmt::format(
          "{}: the tokenizer has {} ids but the model's embedding has {} rows "
          "({})",
          dir, im.tokenizer->vocab_size(), im.cfg.vocab_size, weights_path));
    }
    if (im.tokenizer && im.tokenizer->vocab_size() < im.cfg.vocab_size) {
      FFF_LOG(kInfo, "{}: tokenizer has {} ids, embedding {} rows", dir,
              im.tokenizer->vocab_size(), im.cfg.vocab_size);
    }
  }
  FFF_LOG(kInfo, "{}: tokenizer loaded at {:.0f} ms", dir, ms_since());
  FFF_RETURN_IF_ERROR(im.Build(options));
  if (im.w.views_mapping) {
    int n_linears = 0, n_in_place = 0;
    auto count = [&](const std::optional<Linear>& l) {
      if (!l) return;
      ++n_linears;
      n_in_place += l->views_weights() ? 1 : 0;
    };
    for (const Impl::Layer& l : im.layers) {
      count(l.qkv);
      count(l.attn_out);
    }
    for (const auto* l : {&im.decoder, &im.pooler, &im.head}) count(*l);
    FFF_LOG(kInfo,
            "{}: {} of {} dense products read their weights in place from "
            "the mapping (the rest repacked: another kernel on this CPU)",
            weights_path, n_in_place, n_linears);
  }
  im.load_ms = std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now() - t0)
                   .count();
  FFF_LOG(kInfo, "loaded {} ({} layers, d_model {}, {}) in {:.0f} ms", dir,
          im.cfg.n_layers, im.cfg.d_model, FfName(im.cfg), im.load_ms);
  return Model(std::move(impl));
}

Status Model::Impl::Validate(SequenceList sequences,
                             std::vector<int64_t>* seq_start) const {
  seq_start->assign(1, 0);
  for (size_t s = 0; s < sequences.size(); ++s) {
    const auto& seq = sequences[s];
    if (seq.empty() || static_cast<int64_t>(seq.size()) > cfg.max_seq_length) {
      return InvalidArgumentError(fmt::format(
          "fff: sequence {}: expected 1..{} tokens (max_seq_length), got {}", s,
          cfg.max_seq_length, seq.size()));
    }
    for (size_t i = 0; i < seq.size(); ++i) {
      if (seq[i] < 0 || seq[i] >= cfg.vocab_size) {
        return InvalidArgumentError(fmt::format(
            "fff: sequence {} token {}: expected an id in [0, {}), got {}", s,
            i, cfg.vocab_size, seq[i]));
      }
    }
    seq_start->push_back(seq_start->back() + static_cast<int64_t>(seq.size()));
  }
  return Status::Ok();
}

void Model::Impl::RowBlocks(int64_t n_rows,
                            const std::function<void(int64_t, int64_t)>& f) {
  const int64_t n_blocks = (n_rows + kRowBlock - 1) / kRowBlock;
  ParallelFor(n_blocks, n_threads, [&](int64_t b) {
    const int64_t r0 = b * kRowBlock;
    f(r0, std::min(kRowBlock, n_rows - r0));
  });
}

namespace {
template <class T, class A>
void Grow(std::vector<T, A>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}
}  // namespace

Status Model::Encode(SequenceList sequences, std::vector<float>* hidden,
                     EncoderTrace* trace, SequenceList type_ids) {
  Impl& im = *impl_;
  const ModelConfig& c = im.cfg;
  std::vector<int64_t> seq_start;
  FFF_RETURN_IF_ERROR(im.Validate(sequences, &seq_start));
  if (!type_ids.empty()) {
    if (im.w.type_emb.empty()) {
      return InvalidArgumentError(
          "fff: type_ids: this model has no token-type embedding");
    }
    if (type_ids.size() != sequences.size()) {
      return InvalidArgumentError(fmt::format(
          "fff: type_ids: expected one list per sequence ({}), got {}",
          sequences.size(), type_ids.size()));
    }
    for (size_t s = 0; s < type_ids.size(); ++s) {
      if (type_ids[s].size() != sequences[s].size()) {
        return InvalidArgumentError(
            fmt::format("fff: type_ids of sequence {}: expected {} ids, got {}",
                        s, sequences[s].size(), type_ids[s].size()));
      }
      for (int32_t t : type_ids[s]) {
        if (t < 0 || t >= c.type_vocab_size) {
          return InvalidArgumentError(fmt::format(
              "fff: type_ids of sequence {}: expected ids in [0, {}), got {}",
              s, c.type_vocab_size, t));
        }
      }
    }
  }
  const int64_t n = seq_start.back();
  const int64_t d = c.d_model;
  Grow(im.h, n * d);
  Grow(im.t, n * d);
  Grow(im.ctx, n * d);
  const int64_t big_cols =
      c.ff_kind == FfKind::kDense ? std::max(3 * d, c.d_ff) : 3 * d;
  Grow(im.big, n * big_cols);
  if (c.ff_kind == FfKind::kDense && c.ff_nonlin == FfNonlin::kGeluGlu) {
    Grow(im.glu, n * c.d_ff / 2);
  }
  float* h = im.h.data();
  float* t = im.t.data();
  if (trace != nullptr) {
    const bool routing_only = trace->routing_only;
    *trace = EncoderTrace{};
    trace->routing_only = routing_only;
  }
  // Where hidden states and logits are recorded (not for routing_only).
  EncoderTrace* full_trace =
      trace != nullptr && !trace->routing_only ? trace : nullptr;
  ComponentTimes& tm = im.times;
  if (im.profiling) im.lap_start = std::chrono::steady_clock::now();

  // Embedding: word row + scale * sinusoid(position), then LayerNorm.
  const ModelWeights& w = im.w;
  const float scale = w.pos_scale;
  ParallelFor(
      static_cast<int64_t>(sequences.size()), im.n_threads, [&](int64_t s) {
        const auto& seq = sequences[static_cast<size_t>(s)];
        for (size_t p = 0; p < seq.size(); ++p) {
          float* row = h + (seq_start[s] + static_cast<int64_t>(p)) * d;
          const float* word = w.word_emb.data() + seq[p] * d;
          const float* pos = w.pos_table.data() + p * d;
          for (int64_t i = 0; i < d; ++i) row[i] = word[i] + scale * pos[i];
          if (!w.type_emb.empty()) {  // HF BERT: type 0 by default
            const int32_t type =
                type_ids.empty() ? 0 : type_ids[static_cast<size_t>(s)][p];
            const float* te = w.type_emb.data() + type * d;
            for (int64_t i = 0; i < d; ++i) row[i] += te[i];
          }
          im.ek->layer_norm(row, row, 1, d, w.emb_norm_w.data(),
                            w.emb_norm_b.data(), c.norm_eps);
        }
      });
  im.Lap(&tm.embedding);
  if (full_trace != nullptr) full_trace->embedding.assign(h, h + n * d);

  const int64_t d_head = d / c.n_heads;
  const bool pre = c.pre_norm;
  // h += y, then out = LayerNorm(h) (g empty: no norm), one row block at a
  // time while the block is in cache: the same arithmetic as two passes.
  auto add_norm = [&](const float* y, float* out, const std::vector<float>& g,
                      const std::vector<float>& b) {
    im.RowBlocks(n, [&](int64_t r0, int64_t rows) {
      AddInPlace(h + r0 * d, y + r0 * d, rows * d);
      if (!g.empty()) {
        im.ek->layer_norm(h + r0 * d, out + r0 * d, rows, d, g.data(), b.data(),
                          c.norm_eps);
      }
    });
    im.Lap(g.empty() ? &tm.residual : &tm.norms);
  };
  if (pre && c.n_layers > 0) {  // the first layer's LN1 (later ones: fused)
    const LayerWeights& l0 = w.layers[0];
    im.RowBlocks(n, [&](int64_t r0, int64_t rows) {
      im.ek->layer_norm(h + r0 * d, t + r0 * d, rows, d, l0.norm1_w.data(),
                        l0.norm1_b.data(), c.norm_eps);
    });
    im.Lap(&tm.norms);
  }
  const std::vector<float> no_norm;
  for (int64_t li = 0; li < c.n_layers; ++li) {
    const LayerWeights& lw = w.layers[static_cast<size_t>(li)];
    Impl::Layer& l = im.layers[static_cast<size_t>(li)];
    // Attention block. Pre-LN (crammedBERT): h += Dense(Attn(LN1(h))).
    // Post-LN (BERT): h = LN1(h + Dense(Attn(h))).
    const float* attn_in = pre ? t : h;
    float* qkv = im.big.data();
    FFF_RETURN_IF_ERROR(l.qkv->Forward(
        MatrixView<const float>({attn_in, static_cast<size_t>(n * d)}, n, d),
        MatrixView<float>({qkv, static_cast<size_t>(n * 3 * d)}, n, 3 * d),
        im.n_threads));
    im.Lap(&tm.qkv);
    AttentionAll(*im.ek, qkv, im.ctx.data(), seq_start, c.n_heads, d_head,
                 lw.norm_factor, im.n_threads, im.scores);
    im.Lap(&tm.attention_core);
    FFF_RETURN_IF_ERROR(l.attn_out->Forward(
        MatrixView<const float>({im.ctx.data(), static_cast<size_t>(n * d)}, n,
                                d),
        MatrixView<float>({t, static_cast<size_t>(n * d)}, n, d),
        im.n_threads));
    im.Lap(&tm.attention_out);
    // Residual, then LN2 of the feedforward block (pre-LN: into t) or this
    // block's LN1 (post-LN: in place).
    if (pre) {
      add_norm(t, t, lw.norm2_w, lw.norm2_b);
    } else {
      add_norm(t, h, lw.norm1_w, lw.norm1_b);
    }
    // Feedforward block: h += FF(LN2(h)), or h = LN2(h + FF(h)).
    float* ff_out = im.ctx.data();
    const MatrixView<const float> t_view(
        {pre ? t : h, static_cast<size_t>(n * d)}, n, d);
    const MatrixView<float> out_view({ff_out, static_cast<size_t>(n * d)}, n,
                                     d);
    if (l.leaf) {
      std::span<int32_t> leaves;
      if (trace != nullptr) {
        trace->routings.emplace_back(static_cast<size_t>(n));
        leaves = trace->routings.back();
      }
      FFF_RETURN_IF_ERROR(l.leaf->Forward(t_view, out_view, leaves));
    } else if (l.fff) {
      FffTrace ft;
      if (trace != nullptr) {
        const size_t cells =
            static_cast<size_t>(n * c.fff_trees * (c.fff_depth + 1));
        trace->routings.emplace_back(cells);
        ft.nodes = trace->routings.back();
        if (full_trace != nullptr) {
          full_trace->logits.emplace_back(cells);
          ft.logits = full_trace->logits.back();
        }
      }
      FFF_RETURN_IF_ERROR(l.fff->Forward(t_view, out_view, ft));
    } else {
      float* mid = im.big.data();
      FFF_RETURN_IF_ERROR(l.ff_in->Forward(
          t_view,
          MatrixView<float>({mid, static_cast<size_t>(n * c.d_ff)}, n, c.d_ff),
          im.n_threads));
      int64_t d_mid = c.d_ff;
      if (c.ff_nonlin == FfNonlin::kGeluGlu) {
        d_mid = c.d_ff / 2;
        float* glu = im.glu.data();
        im.RowBlocks(n, [&](int64_t r0, int64_t rows) {
          GeluGluRows(mid + r0 * c.d_ff, glu + r0 * d_mid, rows, d_mid);
        });
        mid = glu;
      }
      FFF_RETURN_IF_ERROR(l.ff_out->Forward(
          MatrixView<const float>({mid, static_cast<size_t>(n * d_mid)}, n,
                                  d_mid),
          out_view, im.n_threads));
    }
    im.Lap(&tm.ff);
    // Residual, then the next layer's LN1 (pre-LN: into t; the last layer
    // adds only, the final norm below comes after the trace) or this
    // block's LN2 (post-LN: in place).
    if (!pre) {
      add_norm(ff_out, h, lw.norm2_w, lw.norm2_b);
    } else if (li + 1 < c.n_layers) {
      const LayerWeights& next = w.layers[static_cast<size_t>(li + 1)];
      add_norm(ff_out, t, next.norm1_w, next.norm1_b);
    } else {
      add_norm(ff_out, nullptr, no_norm, no_norm);
    }
    if (full_trace != nullptr) full_trace->layers.emplace_back(h, h + n * d);
  }
  if (c.final_norm) {
    im.RowBlocks(n, [&](int64_t r0, int64_t rows) {
      im.ek->layer_norm(h + r0 * d, h + r0 * d, rows, d, w.final_norm_w.data(),
                        w.final_norm_b.data(), c.norm_eps);
    });
    im.Lap(&tm.norms);
  }
  hidden->assign(h, h + n * d);
  return Status::Ok();
}

Status Model::MlmLogits(MatrixView<const float> hidden_rows,
                        std::vector<float>* logits) {
  Impl& im = *impl_;
  if (!im.decoder) {
    return Status(StatusCode::kFailedPrecondition,
                  "fff: this checkpoint has no MLM head (it is a "
                  "classification checkpoint)");
  }
  const int64_t v = im.cfg.vocab_size;
  const int64_t d = im.cfg.d_model;
  logits->resize(static_cast<size_t>(hidden_rows.rows * v));
  if (im.profiling) im.lap_start = std::chrono::steady_clock::now();
  std::vector<float> transformed;
  if (im.mlm_transform) {  // HF BERT: LayerNorm(GELU(x W^T + b))
    if (hidden_rows.rows > 1 && hidden_rows.stride != d) {
      return InvalidArgumentError("fff: hidden_rows: expected contiguous rows");
    }
    transformed.resize(static_cast<size_t>(hidden_rows.rows * d));
    FFF_RETURN_IF_ERROR(im.mlm_transform->Forward(
        hidden_rows, MatrixView<float>(transformed, hidden_rows.rows, d),
        im.n_threads));
    im.ek->layer_norm(transformed.data(), transformed.data(), hidden_rows.rows,
                      d, im.w.mlm_norm_w.data(), im.w.mlm_norm_b.data(),
                      im.cfg.norm_eps);
    hidden_rows = MatrixView<const float>(std::span<const float>(transformed),
                                          hidden_rows.rows, d);
  }
  Status st = im.decoder->Forward(
      hidden_rows, MatrixView<float>(*logits, hidden_rows.rows, v),
      im.n_threads);
  im.Lap(&im.times.head);
  return st;
}

namespace {

// Pools the rows [begin, end) of `h` (width d) into `out`.
void PoolRows(const float* h, int64_t begin, int64_t end, int64_t d,
              Pooler pooler, float* out) {
  const float* first = h + begin * d;
  switch (pooler) {
    case Pooler::kZeroIndex:
      std::copy(first, first + d, out);
      return;
    case Pooler::kAvg: {
      for (int64_t i = 0; i < d; ++i) {
        double sum = 0;
        for (int64_t r = begin; r < end; ++r) sum += h[r * d + i];
        out[i] = static_cast<float>(sum / static_cast<double>(end - begin));
      }
      return;
    }
    case Pooler::kMax:
      for (int64_t i = 0; i < d; ++i) {
        float m = first[i];
        for (int64_t r = begin + 1; r < end; ++r) m = std::max(m, h[r * d + i]);
        out[i] = m;
      }
      return;
    case Pooler::kLse:
      for (int64_t i = 0; i < d; ++i) {
        double m = first[i];
        for (int64_t r = begin + 1; r < end; ++r)
          m = std::max<double>(m, h[r * d + i]);
        double sum = 0;
        for (int64_t r = begin; r < end; ++r) sum += std::exp(h[r * d + i] - m);
        out[i] = static_cast<float>(m + std::log(sum));
      }
      return;
  }
}

}  // namespace

Status Model::Classify(SequenceList sequences, std::vector<float>* logits,
                       SequenceList type_ids) {
  Impl& im = *impl_;
  if (!im.head) {
    return Status(StatusCode::kFailedPrecondition,
                  "fff: this checkpoint has no classification head (no "
                  "head.weight tensor)");
  }
  std::vector<float> hidden;
  FFF_RETURN_IF_ERROR(Encode(sequences, &hidden, nullptr, type_ids));
  const int64_t d = im.cfg.d_model;
  const int64_t n_seq = static_cast<int64_t>(sequences.size());
  std::vector<float> pooled(static_cast<size_t>(n_seq * d));
  int64_t begin = 0;
  for (int64_t s = 0; s < n_seq; ++s) {
    const int64_t end = begin + static_cast<int64_t>(sequences[s].size());
    PoolRows(hidden.data(), begin, end, d, im.cfg.pooler,
             pooled.data() + s * d);
    begin = end;
  }
  MatrixView<const float> head_in(std::span<const float>(pooled), n_seq, d);
  std::vector<float> mid;
  if (!im.pooler) {
    // The head's Tanh follows the pooler whether or not pooler.dense exists.
    for (float& x : pooled) x = std::tanh(x);
  } else {
    mid.resize(static_cast<size_t>(n_seq * im.pooler->d_out()));
    FFF_RETURN_IF_ERROR(im.pooler->Forward(
        head_in, MatrixView<float>(mid, n_seq, im.pooler->d_out()),
        im.n_threads));
    head_in = MatrixView<const float>(std::span<const float>(mid), n_seq,
                                      im.pooler->d_out());
  }
  logits->resize(static_cast<size_t>(n_seq * im.head->d_out()));
  return im.head->Forward(head_in,
                          MatrixView<float>(*logits, n_seq, im.head->d_out()),
                          im.n_threads);
}

Status Model::Embed(SequenceList sequences, bool mean, bool normalize,
                    std::vector<float>* embeddings, SequenceList type_ids) {
  std::vector<float> hidden;
  FFF_RETURN_IF_ERROR(Encode(sequences, &hidden, nullptr, type_ids));
  const int64_t d = impl_->cfg.d_model;
  const int64_t n_seq = static_cast<int64_t>(sequences.size());
  embeddings->resize(static_cast<size_t>(n_seq * d));
  int64_t begin = 0;
  for (int64_t s = 0; s < n_seq; ++s) {
    const int64_t end = begin + static_cast<int64_t>(sequences[s].size());
    float* out = embeddings->data() + s * d;
    PoolRows(hidden.data(), begin, end, d,
             mean ? Pooler::kAvg : Pooler::kZeroIndex, out);
    if (normalize) {
      double sq = 0;
      for (int64_t i = 0; i < d; ++i) sq += double{out[i]} * out[i];
      const float inv = sq > 0 ? static_cast<float>(1.0 / std::sqrt(sq)) : 0.f;
      for (int64_t i = 0; i < d; ++i) out[i] *= inv;
    }
    begin = end;
  }
  return Status::Ok();
}

}  // namespace fff
