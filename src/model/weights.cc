#include "src/model/weights.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <set>
#include <string>

#include "fff/checkpoint_convert.h"
#include "fff/fff.h"
#include "src/base/log_internal.h"
#include "src/io/mapped_file.h"
#include "src/kernels/encoder_ops.h"
#include "src/kernels/linear.h"

namespace fff {
namespace {

// Reads tensors by name, remembering which were used (to report the rest).
class TensorReader {
 public:
  explicit TensorReader(const SafetensorsReader& r) : r_(r) {}

  bool Has(const std::string& name) const { return r_.Find(name) != nullptr; }
  // The first of `names` present, or the first one (so that the error for
  // a missing tensor names the preferred spelling).
  std::string Pick(std::initializer_list<std::string> names) const {
    for (const std::string& n : names) {
      if (Has(n)) return n;
    }
    return *names.begin();
  }

  template <class A>
  Status Read(const std::string& name, std::vector<int64_t> shape,
              std::vector<float, A>* out) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    out->resize(static_cast<size_t>(n));
    FFF_RETURN_IF_ERROR(
        r_.ReadF32(name, shape, std::span<float>(out->data(), out->size())));
    used_.insert(name);
    n_parameters_ += n;
    return Status::Ok();
  }
  Status Read(const std::string& name, std::vector<int64_t> shape,
              LinearWeight* out) {
    std::vector<float> v;
    FFF_RETURN_IF_ERROR(Read(name, std::move(shape), &v));
    out->Own(std::move(v));
    return Status::Ok();
  }
  // A Linear weight [d_out, d_in]: fff convert's tiled copy
  // "fff.tiled.<name>" viewed in the mapping when the file has one (and
  // views are on), else `name` read and copied.
  Status ReadLinear(const std::string& name, int64_t d_out, int64_t d_in,
                    LinearWeight* out) {
    const std::string tn = std::string(kTiledLinearPrefix) + name;
    const TensorInfo* info = views_ ? r_.Find(tn) : nullptr;
    if (info == nullptr) return Read(name, {d_out, d_in}, out);
    if (info->dtype != DType::kF32 || info->shape.size() != 1 ||
        info->shape[0] != d_out * d_in) {
      return DataLossError(fmt::format(
          "tensor \"{}\" in {}: expected F32 [{}] (\"{}\" [{}, {}] in "
          "column tiles), got {} {}",
          tn, r_.path(), d_out * d_in, name, d_out, d_in,
          DTypeName(info->dtype), ShapeString(info->shape)));
    }
    out->Clear();
    FFF_ASSIGN_OR_RETURN(out->tiled, View(*info));
    used_.insert(tn);
    n_parameters_ += d_out * d_in;
    return Status::Ok();
  }
  // F32 `name` of `shape` viewed in the mapping when views are on and the
  // file allows it (F32, 4-byte aligned), else read into `storage`.
  Status ReadOrView(const std::string& name, std::vector<int64_t> shape,
                    std::vector<float>* storage, std::span<const float>* out) {
    const TensorInfo* info = r_.Find(name);
    if (views_ && info != nullptr && info->dtype == DType::kF32 &&
        info->shape == shape) {
      if (Result<std::span<const float>> v = View(*info); v.ok()) {
        *out = *v;
        storage->clear();
        used_.insert(name);
        n_parameters_ += static_cast<int64_t>(out->size());
        return Status::Ok();
      }
    }
    FFF_RETURN_IF_ERROR(Read(name, std::move(shape), storage));
    *out = *storage;
    return Status::Ok();
  }
  // `name` present as itself or (views on) as its tiled copy.
  bool HasLinear(const std::string& name) const {
    return Has(name) || (views_ && Has(std::string(kTiledLinearPrefix) + name));
  }
  // Views of the mapping are allowed (its owner keeps the reader).
  void EnableViews() { views_ = true; }

  // Reads `name` when present (into an empty vector otherwise).
  Status ReadIf(bool want, const std::string& name, std::vector<int64_t> shape,
                std::vector<float>* out) {
    out->clear();
    if (!want) return Status::Ok();
    return Read(name, std::move(shape), out);
  }

  void ReportUnused() const {
    int n_unused = 0;
    std::string first;
    for (const TensorInfo& t : r_.tensors()) {
      if (used_.count(t.name) == 0) {
        if (n_unused++ == 0) first = t.name;
      }
    }
    if (n_unused > 0) {
      FFF_LOG(kWarning, "{}: {} tensor(s) not used by the model, e.g. \"{}\"",
              r_.path(), n_unused, first);
    }
  }
  void MarkUsed(const std::string& name) { used_.insert(name); }
  void AddParameters(int64_t n) { n_parameters_ += n; }
  int64_t n_parameters() const { return n_parameters_; }
  const SafetensorsReader& reader() const { return r_; }
  // The float32 data of `info` in the mapping (its dtype checked by the
  // caller); an error when it is not 4-byte aligned in the file.
  Result<std::span<const float>> View(const TensorInfo& info) const {
    const std::span<const uint8_t> b = r_.Bytes(info);
    if (reinterpret_cast<uintptr_t>(b.data()) % alignof(float) != 0) {
      return DataLossError(fmt::format(
          "tensor \"{}\" in {} is not 4-byte aligned in the file (not "
          "written by fff convert?)",
          info.name, r_.path()));
    }
    return std::span<const float>(reinterpret_cast<const float*>(b.data()),
                                  b.size() / sizeof(float));
  }

 private:
  const SafetensorsReader& r_;
  std::set<std::string> used_;
  int64_t n_parameters_ = 0;
  bool views_ = false;
};

// A zero-copy FFF layer (fff/checkpoint_convert.h): views of layer `li`'s
// records and b_in in the mapped file.
Status ViewNodeRecords(TensorReader& tr, int64_t li, const FffShape& shape,
                       LayerWeights* l) {
  const SafetensorsReader& reader = tr.reader();
  const int64_t total = shape.n_total_nodes();
  const int64_t d_in = shape.d_in, d_out = shape.d_out;
  const std::string rn = fmt::format("fff.layers.{}.records", li);
  const std::string bn = fmt::format("fff.layers.{}.b_in", li);
  const TensorInfo* r = reader.Find(rn);
  const TensorInfo* b = reader.Find(bn);
  if (r == nullptr || b == nullptr) {
    return NotFoundError(fmt::format(
        "missing tensor \"{}\" in {} (layout {}: every FFF layer has "
        "fff.layers.{{i}}.records and .b_in)",
        r == nullptr ? rn : bn, reader.path(), kFffNodeRecordsLayout));
  }
  if (r->dtype != DType::kF32 || r->shape.size() != 2 || r->shape[0] < total ||
      r->shape[1] < d_in + d_out) {
    return DataLossError(fmt::format(
        "tensor \"{}\" in {}: expected F32 [>= {}, >= {}] ({} tree(s) of "
        "depth {}, d_model {}), got {} {}",
        rn, reader.path(), total, d_in + d_out, shape.n_trees, shape.depth,
        d_in, DTypeName(r->dtype), ShapeString(r->shape)));
  }
  if (b->dtype != DType::kF32 || b->shape.size() != 1 || b->shape[0] != total) {
    return DataLossError(fmt::format(
        "tensor \"{}\" in {}: expected F32 [{}], got {} {}", bn, reader.path(),
        total, DTypeName(b->dtype), ShapeString(b->shape)));
  }
  FFF_ASSIGN_OR_RETURN(const std::span<const float> records, tr.View(*r));
  FFF_ASSIGN_OR_RETURN(const std::span<const float> b_in, tr.View(*b));
  const int64_t stride = r->shape[1];
  const size_t span_in = static_cast<size_t>((total - 1) * stride + d_in);
  const size_t span_out = static_cast<size_t>((total - 1) * stride + d_out);
  l->fff_view.w_in = records.subspan(0, span_in);
  l->fff_view.w_out = records.subspan(static_cast<size_t>(d_in), span_out);
  l->fff_view.b_in = b_in;
  l->fff_view.w_in_stride = stride;
  l->fff_view.w_out_stride = stride;
  l->fff_mapped_records = reader.Bytes(*r);
  l->fff_mapped_b_in = reader.Bytes(*b);
  tr.MarkUsed(rn);
  tr.MarkUsed(bn);
  tr.AddParameters(total * (d_in + d_out + 1));
  return Status::Ok();
}

bool IsRecordsTensor(const std::string& name) {
  return name.rfind("fff.layers.", 0) == 0 && name.size() > 8 &&
         name.compare(name.size() - 8, 8, ".records") == 0;
}

// Page-cache advice for a converted checkpoint, whose tensors the model
// views in place: no read-ahead anywhere (a fault reads its page only: the
// records of nodes no token visits, and the embedding rows of tokens not
// seen, are never read), but every other tensor - attention, heads, norms,
// biases, all read in full by the first forward - read ahead now, in the
// background (MADV_WILLNEED: the load does not wait for the disk). Best
// effort: a failure is logged, nothing else changes.
void AdviseNodeRecordsFile(const SafetensorsReader& reader,
                           const std::string& embedding) {
  const std::vector<TensorInfo>& all = reader.tensors();
  if (all.empty()) return;
  const uint8_t* lo = reader.Bytes(all.front()).data();
  const uint8_t* hi = lo;
  for (const TensorInfo& t : all) {
    const std::span<const uint8_t> b = reader.Bytes(t);
    lo = std::min(lo, b.data());
    hi = std::max(hi, b.data() + b.size());
  }
  Status advice = internal::AdviseRandomAccess(
      std::span<const uint8_t>(lo, static_cast<size_t>(hi - lo)));
  std::vector<std::span<const uint8_t>> ranges;  // merged when adjacent
  for (const TensorInfo& t : all) {
    if (IsRecordsTensor(t.name) || t.name == embedding || t.size_bytes == 0) {
      continue;
    }
    const std::span<const uint8_t> b = reader.Bytes(t);
    if (!ranges.empty() &&
        ranges.back().data() + ranges.back().size() == b.data()) {
      ranges.back() = {ranges.back().data(), ranges.back().size() + b.size()};
    } else {
      ranges.push_back(b);
    }
  }
  for (const auto& r : ranges) {
    if (!advice.ok()) break;
    advice = internal::AdviseWillNeed(r);
  }
  if (!advice.ok()) {
    FFF_LOG(kWarning, "{}: {} (page-cache advice not applied)", reader.path(),
            advice.ToString());
  }
}

// A pruned FFF layer (`fff prune`, docs/routing.md): `<prefix>kept_nodes`
// (I32 [K], ascending global node indices, every kept node's parent kept)
// and the kept nodes' rows of linear_in / linear_out, expanded here to the
// full node-major layout with zero rows for the pruned nodes: a pruned
// node's logit is 0, GELU(0) = 0, and its subtree is zero too, so a token
// that reaches it adds nothing more (its walk continues left through zeros).
Status ReadPrunedFff(TensorReader& tr, const std::string& prefix,
                     const FffShape& shape, LayerWeights* l) {
  const SafetensorsReader& reader = tr.reader();
  const std::string name = prefix + "kept_nodes";
  const TensorInfo* info = reader.Find(name);
  if (info == nullptr) {
    return NotFoundError(fmt::format(
        "missing tensor \"{}\" in {}: config.json's arch says fff_pruned, "
        "which needs each FFF layer's list of kept nodes",
        name, reader.path()));
  }
  const int64_t total = shape.n_total_nodes();
  if (info->dtype != DType::kI32 || info->shape.size() != 1 ||
      info->shape[0] > total) {
    return DataLossError(fmt::format(
        "tensor \"{}\" in {}: expected I32 [K] with K <= {} ({} tree(s) of "
        "depth {}), got {} {}",
        name, reader.path(), total, shape.n_trees, shape.depth,
        DTypeName(info->dtype), ShapeString(info->shape)));
  }
  const int64_t k = info->shape[0];
  std::vector<int32_t> kept(static_cast<size_t>(k));
  std::memcpy(kept.data(), reader.Bytes(*info).data(),
              static_cast<size_t>(k) * sizeof(int32_t));
  l->fff_kept.assign(static_cast<size_t>(total), 0);
  const int64_t n_nodes = shape.n_nodes();
  for (int64_t j = 0; j < k; ++j) {
    const int64_t g = kept[static_cast<size_t>(j)];
    if (g < 0 || g >= total ||
        (j > 0 && g <= kept[static_cast<size_t>(j - 1)])) {
      return DataLossError(fmt::format(
          "tensor \"{}\" in {}: entry {}: expected ascending node indices "
          "in 0..{} ({} tree(s) of depth {}), got {}",
          name, reader.path(), j, total - 1, shape.n_trees, shape.depth, g));
    }
    const int64_t local = g % n_nodes;
    const int64_t parent = g - local + (local - 1) / 2;
    if (local != 0 && l->fff_kept[static_cast<size_t>(parent)] == 0) {
      return DataLossError(fmt::format(
          "tensor \"{}\" in {}: node {} is kept but its parent {} is not "
          "(pruning drops whole subtrees)",
          name, reader.path(), g, parent));
    }
    l->fff_kept[static_cast<size_t>(g)] = 1;
  }
  const int64_t d = shape.d_in;
  std::vector<float> w_in, b_in, w_out;
  FFF_RETURN_IF_ERROR(tr.Read(prefix + "linear_in.weight", {k, d}, &w_in));
  FFF_RETURN_IF_ERROR(tr.Read(prefix + "linear_in.bias", {k}, &b_in));
  FFF_RETURN_IF_ERROR(tr.Read(prefix + "linear_out.weight", {d, k}, &w_out));
  tr.MarkUsed(name);
  l->fff_w_in.assign(static_cast<size_t>(total * d), 0.0f);
  l->fff_b_in.assign(static_cast<size_t>(total), 0.0f);
  l->fff_w_out.assign(static_cast<size_t>(total * d), 0.0f);
  for (int64_t j = 0; j < k; ++j) {
    const int64_t g = kept[static_cast<size_t>(j)];
    std::copy_n(w_in.data() + j * d, d, l->fff_w_in.data() + g * d);
    l->fff_b_in[static_cast<size_t>(g)] = b_in[static_cast<size_t>(j)];
    for (int64_t i = 0; i < d; ++i) {  // torch [d, K] -> node-major
      l->fff_w_out[static_cast<size_t>(g * d + i)] =
          w_out[static_cast<size_t>(i * k + j)];
    }
  }
  return Status::Ok();
}

}  // namespace

Result<ModelWeights> LoadCrammedWeights(const SafetensorsReader& reader,
                                        ModelConfig* cfg) {
  ModelConfig& c = *cfg;
  TensorReader tr(reader);
  ModelWeights w;
  const int64_t d = c.d_model;
  // Zero-copy layout (fff convert): a tag this build knows, on the model it
  // was made for.
  bool node_records = false;
  if (const auto it = reader.metadata().find("fff_layout");
      it != reader.metadata().end()) {
    if (it->second != kFffNodeRecordsLayout) {
      return DataLossError(fmt::format(
          "{}: fff_layout \"{}\" is unknown to this fff (it reads \"{}\"); "
          "convert the published checkpoint again with `fff convert`",
          reader.path(), it->second, kFffNodeRecordsLayout));
    }
    if (c.ff_kind != FfKind::kFff || c.fff_pruned) {
      return DataLossError(fmt::format(
          "{}: layout {} holds unpruned FFF layers, but config.json describes "
          "{}{}",
          reader.path(), it->second, FfName(c),
          c.fff_pruned ? " (pruned)" : ""));
    }
    const auto tc = reader.metadata().find("fff_linear_tile_cols");
    if (tc == reader.metadata().end() ||
        tc->second != std::to_string(kLinearTileCols)) {
      return DataLossError(fmt::format(
          "{}: fff_linear_tile_cols is \"{}\", this fff reads tiles of {} "
          "columns; convert the published checkpoint again with `fff convert`",
          reader.path(),
          tc == reader.metadata().end() ? "(missing)" : tc->second,
          kLinearTileCols));
    }
    node_records = true;
    tr.EnableViews();
    for (const TensorInfo& t : reader.tensors()) {  // alignment padding
      if (t.name.rfind("fff.pad", 0) == 0) tr.MarkUsed(t.name);
    }
  }

  // The tied word embedding / decoder: either name, or both (equal).
  const std::string kWord = "encoder.embedding.word_embedding.weight";
  const std::string kDecoder = "decoder.weight";
  const bool has_word = tr.Has(kWord), has_decoder = tr.Has(kDecoder);
  if (!has_word && !has_decoder) {
    return NotFoundError(
        fmt::format("missing tensor \"{}\" (or its tied copy \"{}\") in {}",
                    kWord, kDecoder, reader.path()));
  }
  const std::string& emb_name = has_word ? kWord : kDecoder;
  if (node_records) AdviseNodeRecordsFile(reader, emb_name);
  const TensorInfo* emb = reader.Find(emb_name);
  if (emb->shape.size() != 2 || emb->shape[1] != d) {
    return Status(
        StatusCode::kDataLoss,
        fmt::format("tensor \"{}\" in {}: expected shape [vocab, {}], "
                    "got {}",
                    emb_name, reader.path(), d, ShapeString(emb->shape)));
  }
  if (c.vocab_size == 0) c.vocab_size = emb->shape[0];
  const int64_t v = c.vocab_size;
  FFF_RETURN_IF_ERROR(
      tr.ReadOrView(emb_name, {v, d}, &w.word_emb_storage, &w.word_emb));
  if (has_word && has_decoder) tr.MarkUsed(kDecoder);  // the tied copy

  std::vector<float> scale;
  FFF_RETURN_IF_ERROR(
      tr.Read("encoder.embedding.pos_embedding.scale_factor", {1}, &scale));
  w.pos_scale = scale[0];
  w.pos_table.resize(static_cast<size_t>(c.max_seq_length * d));
  SinusoidalTable(w.pos_table.data(), c.max_seq_length, d);
  FFF_RETURN_IF_ERROR(
      tr.Read("encoder.embedding.norm.weight", {d}, &w.emb_norm_w));
  FFF_RETURN_IF_ERROR(
      tr.Read("encoder.embedding.norm.bias", {d}, &w.emb_norm_b));

  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    const std::string p = fmt::format("encoder.layers.{}.", i);
    FFF_RETURN_IF_ERROR(tr.Read(p + "norm1.weight", {d}, &l.norm1_w));
    FFF_RETURN_IF_ERROR(tr.Read(p + "norm1.bias", {d}, &l.norm1_b));
    FFF_RETURN_IF_ERROR(tr.Read(p + "norm2.weight", {d}, &l.norm2_w));
    FFF_RETURN_IF_ERROR(tr.Read(p + "norm2.bias", {d}, &l.norm2_b));
    const std::string a = p + "attn.self_attention.";
    FFF_RETURN_IF_ERROR(
        tr.ReadLinear(a + "query_key_value.weight", 3 * d, d, &l.qkv_w));
    FFF_RETURN_IF_ERROR(
        tr.ReadIf(c.qkv_bias, a + "query_key_value.bias", {3 * d}, &l.qkv_b));
    const std::string nf = a + "norm_factor";
    if (tr.Has(nf)) {
      std::vector<float> f;
      FFF_RETURN_IF_ERROR(tr.Read(nf, {}, &f));
      l.norm_factor = f[0];
    } else {
      l.norm_factor = static_cast<float>(
          1.0 / std::sqrt(static_cast<double>(d / c.n_heads)));
    }
    FFF_RETURN_IF_ERROR(
        tr.ReadLinear(p + "attn.dense.weight", d, d, &l.attn_out_w));
    FFF_RETURN_IF_ERROR(
        tr.ReadIf(c.use_bias, p + "attn.dense.bias", {d}, &l.attn_out_b));
    const std::string f = p + "ffn.";
    if (c.ff_kind == FfKind::kLeafFff) {
      // The fastfeedforward package's parameters (docs/leaf_fff.md).
      LeafFffWeights& lf = l.leaf;
      LeafFffShape& s = lf.shape;
      s.d_in = d;
      s.d_out = d;
      s.depth = c.leaf_depth;
      s.leaf_width = c.leaf_width;
      s.activation = c.leaf_activation;
      FFF_RETURN_IF_ERROR(ValidateLeafFffShape(s));
      const int64_t nr = s.n_routers(), nl = s.n_leaves(), wd = s.leaf_width;
      FFF_RETURN_IF_ERROR(tr.Read(f + "node_weights", {nr, d}, &lf.router_w));
      FFF_RETURN_IF_ERROR(tr.Read(f + "node_biases", {nr, 1}, &lf.router_b));
      std::vector<float> w1s;
      FFF_RETURN_IF_ERROR(tr.Read(f + "w1s", {nl, d, wd}, &w1s));
      lf.leaf_w1.resize(w1s.size());
      FFF_RETURN_IF_ERROR(RepackFastFeedForwardW1(s, w1s, lf.leaf_w1));
      FFF_RETURN_IF_ERROR(tr.Read(f + "b1s", {nl, wd}, &lf.leaf_b1));
      FFF_RETURN_IF_ERROR(tr.Read(f + "w2s", {nl, wd, d}, &lf.leaf_w2));
      FFF_RETURN_IF_ERROR(tr.Read(f + "b2s", {nl, d}, &lf.leaf_b2));
    } else if (c.ff_kind == FfKind::kFff) {
      FffShape shape;
      shape.d_in = d;
      shape.d_out = d;
      shape.depth = c.fff_depth;
      shape.n_trees = c.fff_trees;
      const int64_t total = shape.n_total_nodes();
      const std::string kept_name = f + "kept_nodes";
      if (node_records) {
        FFF_RETURN_IF_ERROR(ViewNodeRecords(tr, i, shape, &l));
      } else if (c.fff_pruned) {
        FFF_RETURN_IF_ERROR(ReadPrunedFff(tr, f, shape, &l));
      } else if (tr.Has(kept_name)) {
        return DataLossError(fmt::format(
            "tensor \"{}\" in {}: a pruned checkpoint's node list, but "
            "config.json's arch lacks \"fff_pruned\": true (a config that "
            "does not belong to this checkpoint?)",
            kept_name, reader.path()));
      } else {
        FFF_RETURN_IF_ERROR(
            tr.Read(f + "linear_in.weight", {total, d}, &l.fff_w_in));
        FFF_RETURN_IF_ERROR(
            tr.Read(f + "linear_in.bias", {total}, &l.fff_b_in));
        std::vector<float> torch_out;
        FFF_RETURN_IF_ERROR(
            tr.Read(f + "linear_out.weight", {d, total}, &torch_out));
        l.fff_w_out.resize(torch_out.size());
        FFF_RETURN_IF_ERROR(
            RepackTorchLinearOut(shape, torch_out, l.fff_w_out));
      }
    } else {
      const int64_t d_mid =
          c.ff_nonlin == FfNonlin::kGeluGlu ? c.d_ff / 2 : c.d_ff;
      FFF_RETURN_IF_ERROR(
          tr.Read(f + "dense_in.weight", {c.d_ff, d}, &l.ff_in_w));
      FFF_RETURN_IF_ERROR(
          tr.ReadIf(c.use_bias, f + "dense_in.bias", {c.d_ff}, &l.ff_in_b));
      FFF_RETURN_IF_ERROR(
          tr.Read(f + "dense_out.weight", {d, d_mid}, &l.ff_out_w));
      FFF_RETURN_IF_ERROR(
          tr.ReadIf(c.use_bias, f + "dense_out.bias", {d}, &l.ff_out_b));
    }
  }
  if (c.final_norm) {
    FFF_RETURN_IF_ERROR(
        tr.Read("encoder.final_norm.weight", {d}, &w.final_norm_w));
    FFF_RETURN_IF_ERROR(
        tr.Read("encoder.final_norm.bias", {d}, &w.final_norm_b));
  }

  // Heads: a classification checkpoint has head.* and no decoder; a
  // pretraining checkpoint has the (tied) decoder. A file with both (e.g.
  // `fff synth`'s) gets both heads.
  const bool has_head = tr.HasLinear("head.weight");
  if (tr.HasLinear(kDecoder) || !has_head) {
    if (tr.Has(std::string(kTiledLinearPrefix) + kDecoder)) {
      FFF_RETURN_IF_ERROR(tr.ReadLinear(kDecoder, v, d, &w.decoder_w));
      tr.AddParameters(-v * d);  // the tied embedding, counted once
    } else {
      w.decoder_w.plain = w.word_emb;  // tied
    }
    if (c.decoder_bias) {
      FFF_RETURN_IF_ERROR(tr.Read("decoder.bias", {v}, &w.decoder_b));
    }
  }
  if (has_head) {
    const bool pooler_dense = tr.HasLinear("pooler.dense.weight");
    if (pooler_dense != c.pooler_dense) {
      return Status(
          StatusCode::kDataLoss,
          fmt::format("{}: classification_head.include_ff_layer is {} but the "
                      "tensor \"pooler.dense.weight\" is {}",
                      reader.path(), c.pooler_dense,
                      pooler_dense ? "present" : "missing"));
    }
    const int64_t head_in = pooler_dense ? c.pooler_dim : d;
    if (pooler_dense) {
      FFF_RETURN_IF_ERROR(
          tr.ReadLinear("pooler.dense.weight", c.pooler_dim, d, &w.pooler_w));
      FFF_RETURN_IF_ERROR(
          tr.Read("pooler.dense.bias", {c.pooler_dim}, &w.pooler_b));
    }
    // n_labels from the bias (the tiled weight is flat).
    const TensorInfo* hb = reader.Find("head.bias");
    if (hb == nullptr || hb->shape.size() != 1 || hb->shape[0] < 1) {
      return Status(StatusCode::kDataLoss,
                    fmt::format("tensor \"head.bias\" in {}: expected shape "
                                "[n_labels], got {}",
                                reader.path(),
                                hb == nullptr ? std::string("(missing)")
                                              : ShapeString(hb->shape)));
    }
    const int64_t n_labels = hb->shape[0];
    const TensorInfo* hw = reader.Find("head.weight");
    if (hw != nullptr && (hw->shape.size() != 2 || hw->shape[0] != n_labels ||
                          hw->shape[1] != head_in)) {
      return Status(StatusCode::kDataLoss,
                    fmt::format("tensor \"head.weight\" in {}: expected shape "
                                "[{}, {}] (n_labels from head.bias), got {}",
                                reader.path(), n_labels, head_in,
                                ShapeString(hw->shape)));
    }
    FFF_RETURN_IF_ERROR(
        tr.ReadLinear("head.weight", n_labels, head_in, &w.head_w));
    FFF_RETURN_IF_ERROR(tr.Read("head.bias", {n_labels}, &w.head_b));
  }
  tr.ReportUnused();
  w.n_parameters = tr.n_parameters();
  w.views_mapping = node_records;
  return w;
}

Result<ModelWeights> LoadHfBertWeights(const SafetensorsReader& reader,
                                       ModelConfig* cfg) {
  ModelConfig& c = *cfg;
  TensorReader tr(reader);
  ModelWeights w;
  const int64_t d = c.d_model, v = c.vocab_size;
  const std::string p =
      tr.Has("bert.embeddings.word_embeddings.weight") ? "bert." : "";
  // LayerNorm parameters: weight/bias, or gamma/beta in older checkpoints.
  auto read_norm = [&](const std::string& base, std::vector<float>* g,
                       std::vector<float>* b) -> Status {
    FFF_RETURN_IF_ERROR(
        tr.Read(tr.Pick({base + ".weight", base + ".gamma"}), {d}, g));
    return tr.Read(tr.Pick({base + ".bias", base + ".beta"}), {d}, b);
  };
  FFF_RETURN_IF_ERROR(tr.Read(p + "embeddings.word_embeddings.weight", {v, d},
                              &w.word_emb_storage));
  w.word_emb = w.word_emb_storage;
  FFF_RETURN_IF_ERROR(tr.Read(p + "embeddings.position_embeddings.weight",
                              {c.max_seq_length, d}, &w.pos_table));
  w.pos_scale = 1.0f;
  if (c.type_vocab_size > 0) {
    FFF_RETURN_IF_ERROR(tr.Read(p + "embeddings.token_type_embeddings.weight",
                                {c.type_vocab_size, d}, &w.type_emb));
  }
  FFF_RETURN_IF_ERROR(
      read_norm(p + "embeddings.LayerNorm", &w.emb_norm_w, &w.emb_norm_b));

  const int64_t n_heads = c.n_heads, d_head = d / n_heads;
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    const std::string b = fmt::format("{}encoder.layer.{}.", p, i);
    std::vector<float> qkv_w[3], qkv_b[3];
    const char* parts[3] = {"query", "key", "value"};
    for (int k = 0; k < 3; ++k) {
      const std::string n = b + "attention.self." + parts[k];
      FFF_RETURN_IF_ERROR(tr.Read(n + ".weight", {d, d}, &qkv_w[k]));
      FFF_RETURN_IF_ERROR(tr.Read(n + ".bias", {d}, &qkv_b[k]));
    }
    // Interleave per head: rows h*3*d_head + k*d_head + j = part k's row
    // h*d_head + j (the Megatron layout the attention kernel reads).
    std::vector<float> qkv(static_cast<size_t>(3 * d * d));
    l.qkv_b.resize(static_cast<size_t>(3 * d));
    for (int64_t h = 0; h < n_heads; ++h) {
      for (int k = 0; k < 3; ++k) {
        for (int64_t j = 0; j < d_head; ++j) {
          const int64_t dst = h * 3 * d_head + k * d_head + j;
          const int64_t src = h * d_head + j;
          std::copy_n(qkv_w[k].begin() + src * d, d, qkv.begin() + dst * d);
          l.qkv_b[static_cast<size_t>(dst)] =
              qkv_b[k][static_cast<size_t>(src)];
        }
      }
    }
    l.qkv_w.Own(std::move(qkv));
    l.norm_factor =
        static_cast<float>(1.0 / std::sqrt(static_cast<double>(d_head)));
    FFF_RETURN_IF_ERROR(
        tr.Read(b + "attention.output.dense.weight", {d, d}, &l.attn_out_w));
    FFF_RETURN_IF_ERROR(
        tr.Read(b + "attention.output.dense.bias", {d}, &l.attn_out_b));
    FFF_RETURN_IF_ERROR(
        read_norm(b + "attention.output.LayerNorm", &l.norm1_w, &l.norm1_b));
    FFF_RETURN_IF_ERROR(
        tr.Read(b + "intermediate.dense.weight", {c.d_ff, d}, &l.ff_in_w));
    FFF_RETURN_IF_ERROR(
        tr.Read(b + "intermediate.dense.bias", {c.d_ff}, &l.ff_in_b));
    FFF_RETURN_IF_ERROR(
        tr.Read(b + "output.dense.weight", {d, c.d_ff}, &l.ff_out_w));
    FFF_RETURN_IF_ERROR(tr.Read(b + "output.dense.bias", {d}, &l.ff_out_b));
    FFF_RETURN_IF_ERROR(
        read_norm(b + "output.LayerNorm", &l.norm2_w, &l.norm2_b));
  }

  // Heads: the MLM head (cls.predictions.*) and/or a classifier on the
  // pooler (bert.pooler.dense + classifier).
  if (tr.Has("cls.predictions.bias")) {
    c.mlm_transform = true;
    c.decoder_bias = true;
    const std::string m = "cls.predictions.";
    FFF_RETURN_IF_ERROR(
        tr.Read(m + "transform.dense.weight", {d, d}, &w.mlm_dense_w));
    FFF_RETURN_IF_ERROR(
        tr.Read(m + "transform.dense.bias", {d}, &w.mlm_dense_b));
    FFF_RETURN_IF_ERROR(
        read_norm(m + "transform.LayerNorm", &w.mlm_norm_w, &w.mlm_norm_b));
    FFF_RETURN_IF_ERROR(tr.Read(m + "bias", {v}, &w.decoder_b));
    if (tr.Has(m + "decoder.weight")) {
      FFF_RETURN_IF_ERROR(tr.Read(m + "decoder.weight", {v, d}, &w.decoder_w));
    } else {
      w.decoder_w.plain = w.word_emb;  // tied
    }
    if (tr.Has(m + "decoder.bias")) tr.MarkUsed(m + "decoder.bias");
  } else {
    c.mlm_transform = false;
  }
  if (tr.Has("classifier.weight")) {
    c.pooler = Pooler::kZeroIndex;
    c.pooler_dense = true;
    c.pooler_dim = d;
    FFF_RETURN_IF_ERROR(
        tr.Read(p + "pooler.dense.weight", {d, d}, &w.pooler_w));
    FFF_RETURN_IF_ERROR(tr.Read(p + "pooler.dense.bias", {d}, &w.pooler_b));
    const TensorInfo* cw = reader.Find("classifier.weight");
    if (cw->shape.size() != 2 || cw->shape[0] < 1 || cw->shape[1] != d) {
      return Status(StatusCode::kDataLoss,
                    fmt::format("tensor \"classifier.weight\" in {}: expected "
                                "shape [n_labels, {}], got {}",
                                reader.path(), d, ShapeString(cw->shape)));
    }
    const int64_t n_labels = cw->shape[0];
    FFF_RETURN_IF_ERROR(tr.Read("classifier.weight", {n_labels, d}, &w.head_w));
    FFF_RETURN_IF_ERROR(tr.Read("classifier.bias", {n_labels}, &w.head_b));
  } else if (tr.Has(p + "pooler.dense.weight")) {
    tr.MarkUsed(p + "pooler.dense.weight");  // BertModel's unused pooler
    tr.MarkUsed(p + "pooler.dense.bias");
  }
  if (w.decoder_w.empty() && w.head_w.empty()) {
    FFF_LOG(kInfo, "{}: no MLM or classification head: embeddings only",
            reader.path());
  }
  tr.ReportUnused();
  w.n_parameters = tr.n_parameters();
  return w;
}

}  // namespace fff
