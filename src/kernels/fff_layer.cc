// FffLayer: validation, planning (target, strategy thresholds, scratch) and
// the threaded execution of fff/fff.h. Kernels live in fff_cpu.cc.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "fff/fff.h"
#include "src/base/aligned_buffer.h"
#include "src/base/check.h"
#include "src/base/log_internal.h"
#include "src/base/parallel.h"
#include "src/base/validate.h"
#include "src/kernels/fff_kernels.h"
#include "src/kernels/fff_layer_impl.h"
#include "src/kernels/target_tables.h"

namespace fff {
namespace {

// Plan constants (measured, see docs/kernels.md).
// Row walk: at most this many rows per parallel block.
constexpr int64_t kRowWalkMaxBlockRows = 64;
// Below this many rows per thread a parallel region costs more than it saves.
constexpr int64_t kMinRowsPerPart = 8;
// kAuto routes grouped from this many rows per thread on.
constexpr int64_t kDefaultLevelBatchedMinRows = 2;
// Grouped routing runs in two passes when a chunk is large: the top levels
// in blocks of rows (whose inputs stay in the core's cache), then every
// subtree below the split level with all the rows that reached it, so each
// deep weight row is fetched once per chunk. The split level is chosen so
// subtrees get about this many rows.
constexpr int64_t kRowsPerSubtree = 16;
constexpr int64_t kTopBlockRows = 16;
// A split needs at least this many levels (2^levels subtrees) to pay off,
// and covers at most kMaxTopLevels levels so that the pass's weight rows
// (2^kMaxTopLevels - 1 of them, 381 KB at d_in = 768) stay in L2.
constexpr int64_t kMinSplitLevel = 2;
// Trees this shallow (at most 7 nodes) are routed block by block, in blocks
// of kDenseBlockRows rows, with their top kDefaultDenseTopLevels levels
// computed densely (the logits of all their nodes for every row: 3 products
// where a row needs 2, but each input vector serves 6 weight rows). Deeper
// trees compute no level densely by default: one level gained nothing
// measurable there (docs/kernels.md).
constexpr int64_t kMaxDenseDepth = 2;
constexpr int64_t kDenseBlockRows = 64;
constexpr int64_t kDefaultDenseTopLevels = 2;
constexpr int64_t kMaxBlockRows = std::max(kTopBlockRows, kDenseBlockRows);
constexpr int64_t kMaxTopLevels = 7;
// A call's outputs at least this large are written with streaming stores:
// they exceed the 32 MiB last-level cache, so regular stores would only add
// a read for ownership of every line, and the next op finds no part of them
// cached either way (docs/benchmarks.md).
constexpr int64_t kDefaultStreamOutputsMinBytes = int64_t{32} << 20;
// Streaming stores need rows aligned to the widest vector (AVX-512).
constexpr uintptr_t kStreamAlignBytes = 64;
// Scratch budget for per-row routing of one chunk.
constexpr int64_t kRoutingBudgetBytes = int64_t{16} << 20;
constexpr int64_t kMaxChunkRows = 16384;
constexpr int64_t kMinChunkRows = 256;
// Scratch is sized per thread at Create.
constexpr int kMaxThreads = 1024;

}  // namespace

Status ValidateFffWeights(const FffShape& s, const FffWeightsView& w) {
  FFF_RETURN_IF_ERROR(ValidateFffShape(s));
  const int64_t total = s.n_total_nodes();
  FFF_RETURN_IF_ERROR(ValidateSpan(w.b_in, "b_in", total, "n_trees*n_nodes"));
  // Contiguous rows: exactly total * row; strided: rows `stride` apart.
  auto rows = [&](std::span<const float> v, const char* name, int64_t row,
                  int64_t stride, const char* what) -> Status {
    if (stride == 0) return ValidateSpan(v, name, total * row, what);
    if (stride < row) {
      return InvalidArgumentError(fmt::format(
          "fff: {}_stride: expected 0 or >= {}, got {}", name, row, stride));
    }
    const int64_t need = (total - 1) * stride + row;
    if (v.data() == nullptr || static_cast<int64_t>(v.size()) < need) {
      return InvalidArgumentError(fmt::format(
          "fff: {}: expected at least {} floats ({} rows {} apart), got {}",
          name, need, total, stride, v.size()));
    }
    return Status::Ok();
  };
  FFF_RETURN_IF_ERROR(
      rows(w.w_in, "w_in", s.d_in, w.w_in_stride, "n_trees*n_nodes x d_in"));
  FFF_RETURN_IF_ERROR(rows(w.w_out, "w_out", s.d_out, w.w_out_stride,
                           "n_trees*n_nodes x d_out, node-major"));
  return Status::Ok();
}

Status RepackTorchLinearOut(const FffShape& s,
                            std::span<const float> torch_w_out,
                            std::span<float> w_out_node_major) {
  FFF_RETURN_IF_ERROR(ValidateFffShape(s));
  const int64_t total = s.n_total_nodes();
  FFF_RETURN_IF_ERROR(ValidateSpan(torch_w_out, "linear_out.weight",
                                   s.d_out * total, "d_out x n_trees*n_nodes"));
  FFF_RETURN_IF_ERROR(ValidateSpan(w_out_node_major, "w_out", s.d_out * total,
                                   "n_trees*n_nodes x d_out"));
  if (Overlaps(torch_w_out.data(), torch_w_out.size_bytes(),
               w_out_node_major.data(), w_out_node_major.size_bytes())) {
    return InvalidArgumentError(
        "fff: RepackTorchLinearOut: linear_out.weight and w_out overlap");
  }
  // Blocked transpose: 64x64 tiles keep both sides in cache.
  constexpr int64_t kTile = 64;
  for (int64_t g0 = 0; g0 < total; g0 += kTile) {
    for (int64_t o0 = 0; o0 < s.d_out; o0 += kTile) {
      const int64_t g1 = std::min(total, g0 + kTile);
      const int64_t o1 = std::min(s.d_out, o0 + kTile);
      for (int64_t g = g0; g < g1; ++g) {
        for (int64_t o = o0; o < o1; ++o) {
          w_out_node_major[g * s.d_out + o] = torch_w_out[o * total + g];
        }
      }
    }
  }
  return Status::Ok();
}

const char* FffStrategyName(FffStrategy strategy) {
  switch (strategy) {
    case FffStrategy::kAuto:
      return "auto";
    case FffStrategy::kRowWalk:
      return "row_walk";
    case FffStrategy::kLevelBatched:
      return "level_batched";
  }
  return "?";
}

FffLayer::FffLayer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FffLayer::FffLayer(FffLayer&&) noexcept = default;
FffLayer& FffLayer::operator=(FffLayer&&) noexcept = default;
FffLayer::~FffLayer() = default;

Result<FffLayer> FffLayer::Create(const FffShape& shape,
                                  const FffWeightsView& weights,
                                  const FffOptions& options) {
  FFF_RETURN_IF_ERROR(ValidateFffWeights(shape, weights));
  auto impl = std::make_unique<Impl>();
  impl->shape = shape;
  impl->weights = weights;
  impl->options = options;

  FFF_ASSIGN_OR_RETURN(impl->kernels,
                       kernels::ChooseTable(kernels::SupportedFffKernelTables(),
                                            options.target));
  if (options.n_threads < 0 || options.n_threads > kMaxThreads) {
    return InvalidArgumentError(
        fmt::format("fff: n_threads: expected 0..{} (0 = all), got {}",
                    kMaxThreads, options.n_threads));
  }
  if (options.dense_top_levels < -1 ||
      options.dense_top_levels > kernels::kMaxDenseLevels) {
    return InvalidArgumentError(fmt::format(
        "fff: dense_top_levels: expected -1..{} (-1 = default), got {}",
        kernels::kMaxDenseLevels, options.dense_top_levels));
  }
  impl->n_threads = ResolveThreadCount(options.n_threads);
  impl->level_batched_min_rows = options.level_batched_min_rows >= 0
                                     ? options.level_batched_min_rows
                                     : kDefaultLevelBatchedMinRows;
  impl->stream_outputs_min_bytes = options.stream_outputs_min_bytes >= 0
                                       ? options.stream_outputs_min_bytes
                                       : kDefaultStreamOutputsMinBytes;
  const int64_t nv = shape.n_visited();
  impl->chunk_rows =
      std::clamp(kRoutingBudgetBytes / (8 * nv), kMinChunkRows, kMaxChunkRows);
  const size_t rows = static_cast<size_t>(impl->chunk_rows);
  FFF_RETURN_IF_ERROR(impl->nodes.Allocate(rows * nv, "FFF routing nodes"));
  FFF_RETURN_IF_ERROR(impl->acts.Allocate(rows * nv, "FFF routing logits"));
  FFF_RETURN_IF_ERROR(impl->order.Allocate(rows, "FFF row order"));
  FFF_RETURN_IF_ERROR(impl->sorted.Allocate(rows, "FFF row buckets"));
  FFF_RETURN_IF_ERROR(impl->next_node.Allocate(rows, "FFF next nodes"));
  impl->group_stride = 4 * ((impl->chunk_rows + 16) / 16 * 16);
  FFF_RETURN_IF_ERROR(impl->group.Allocate(
      static_cast<size_t>(impl->group_stride) * impl->n_threads,
      "FFF group scratch"));
  static std::once_flag logged_target;
  std::call_once(logged_target, [&] {
    std::string compiled;
    for (const auto* t : kernels::CompiledFffKernelTables()) {
      if (!compiled.empty()) compiled += ' ';
      compiled += t->name;
    }
    FFF_LOG(kInfo, "FFF kernels: SIMD target {} (compiled: {})",
            impl->kernels->name, compiled);
  });
  FFF_LOG(kDebug,
          "FFF layer d_in={} d_out={} depth={} n_trees={}: target {}, {} "
          "threads, level-batched from {} rows per thread",
          shape.d_in, shape.d_out, shape.depth, shape.n_trees,
          impl->kernels->name, impl->n_threads, impl->level_batched_min_rows);
  return FffLayer(std::move(impl));
}

const FffShape& FffLayer::shape() const { return impl_->shape; }
const char* FffLayer::target_name() const { return impl_->kernels->name; }
int FffLayer::n_threads() const { return impl_->n_threads; }

FffStrategy FffLayer::StrategyFor(int64_t n_rows) const {
  if (impl_->options.strategy != FffStrategy::kAuto) {
    return impl_->options.strategy;
  }
  const int64_t per_thread = (n_rows + impl_->n_threads - 1) / impl_->n_threads;
  return per_thread >= impl_->level_batched_min_rows
             ? FffStrategy::kLevelBatched
             : FffStrategy::kRowWalk;
}

Status FffLayer::Forward(MatrixView<const float> x, MatrixView<float> y,
                         const FffTrace& trace) {
  const Impl& im = *impl_;
  const FffShape& s = im.shape;
  FFF_RETURN_IF_ERROR(ValidateMatrix(x, "x", s.d_in, "d_in"));
  FFF_RETURN_IF_ERROR(ValidateMatrix(y, "y", s.d_out, "d_out"));
  if (y.rows != x.rows) {
    return InvalidArgumentError(
        fmt::format("fff: y: expected {} rows (as x), got {}", x.rows, y.rows));
  }
  const int64_t n_rows = x.rows;
  const int64_t trace_len = n_rows * s.n_visited();
  if (!trace.nodes.empty() || trace.nodes.data() != nullptr) {
    FFF_RETURN_IF_ERROR(ValidateSpan(trace.nodes, "trace.nodes", trace_len,
                                     "n_rows x n_trees x (depth+1)"));
  }
  if (!trace.logits.empty() || trace.logits.data() != nullptr) {
    FFF_RETURN_IF_ERROR(ValidateSpan(trace.logits, "trace.logits", trace_len,
                                     "n_rows x n_trees x (depth+1)"));
  }
  if (Overlaps(x.data, x.ExtentElements() * sizeof(float), y.data,
               y.ExtentElements() * sizeof(float))) {
    return InvalidArgumentError("fff: x and y overlap");
  }
  if (n_rows == 0) return Status::Ok();

  kernels::FffProblem p;
  p.d_in = s.d_in;
  p.d_out = s.d_out;
  p.depth = s.depth;
  p.n_trees = s.n_trees;
  p.n_nodes = s.n_nodes();
  p.w_in = im.weights.w_in.data();
  p.w_in_stride = im.weights.w_in_stride > 0 ? im.weights.w_in_stride : s.d_in;
  p.w_out_stride =
      im.weights.w_out_stride > 0 ? im.weights.w_out_stride : s.d_out;
  p.b_in = im.weights.b_in.data();
  p.w_out = im.weights.w_out.data();
  p.x = x.data;
  p.x_stride = x.stride;
  p.y = y.data;
  p.y_stride = y.stride;

  const FffStrategy strategy = StrategyFor(n_rows);
  Impl& im_mut = *impl_;
  const int64_t nv = s.n_visited();
  p.stream_y = reinterpret_cast<uintptr_t>(y.data) % kStreamAlignBytes == 0 &&
               (y.stride * sizeof(float)) % kStreamAlignBytes == 0 &&
               n_rows * s.d_out * static_cast<int64_t>(sizeof(float)) >=
                   im.stream_outputs_min_bytes;
  for (int64_t c0 = 0; c0 < n_rows; c0 += im.chunk_rows) {
    const int64_t n = std::min(im.chunk_rows, n_rows - c0);
    p.x = x.data + c0 * x.stride;
    p.y = y.data + c0 * y.stride;
    im_mut.RouteChunk(p, n, strategy);
    const kernels::FffRouting routing{im_mut.nodes.data(), im_mut.acts.data()};
    // The trace, before FinishRows turns logits into activations.
    if (!trace.nodes.empty()) {
      const int64_t levels = s.depth + 1;
      int32_t* out = trace.nodes.data() + c0 * nv;
      for (int64_t i = 0; i < n * nv; ++i) {
        const int64_t tree = (i % nv) / levels;
        out[i] = routing.nodes[i] - static_cast<int32_t>(tree * p.n_nodes);
      }
    }
    if (!trace.logits.empty()) {
      std::copy(routing.acts, routing.acts + n * nv,
                trace.logits.data() + c0 * nv);
    }
    // Activations, then outputs in the order routing left the rows (grouped by
    // leaf for the level-batched strategy, so consecutive rows share w_out
    // rows).
    const int32_t* order = im.order.data();
    const int64_t per_thread = (n + im.n_threads - 1) / im.n_threads;
    const int64_t block = std::min<int64_t>(kRowWalkMaxBlockRows, per_thread);
    const auto* k = im.kernels;
    ParallelFor((n + block - 1) / block, im.n_threads, [&](int64_t b) {
      const int64_t begin = b * block;
      const int64_t count = std::min(block, n - begin);
      k->gelu(routing.acts + begin * nv, routing.acts + begin * nv, count * nv);
    });
    // One contiguous part of the order per thread keeps grouped rows
    // together; tiny batches stay on the calling thread.
    const int64_t parts =
        std::clamp<int64_t>(n / kMinRowsPerPart, 1, im.n_threads);
    ParallelFor(parts, im.n_threads, [&](int64_t part) {
      const int64_t begin = n * part / parts;
      const int64_t end = n * (part + 1) / parts;
      k->finish_rows(p, order + begin, end - begin, routing);
    });
  }
  return Status::Ok();
}

void FffLayer::Impl::RouteChunk(const kernels::FffProblem& p, int64_t n,
                                FffStrategy strategy) {
  const kernels::FffRouting routing{nodes.data(), acts.data()};
  int32_t* ord = order.data();
  for (int64_t i = 0; i < n; ++i) ord[i] = static_cast<int32_t>(i);
  const auto* k = kernels;
  const int64_t per_thread = (n + n_threads - 1) / n_threads;
  if (strategy == FffStrategy::kRowWalk) {
    const int64_t block = std::min(kRowWalkMaxBlockRows, per_thread);
    ParallelFor((n + block - 1) / block, n_threads, [&](int64_t b) {
      const int64_t begin = b * block;
      k->row_walk(p, begin, std::min(n, begin + block), routing);
    });
    return;
  }
  const int64_t levels = shape.depth + 1;
  // Shallow trees (depth <= kMaxDenseDepth) always go block by block: a
  // tree has at most 7 nodes, so a block of kDenseBlockRows rows shares
  // every one of them, and the dense top levels serve all trees at once.
  const bool shallow = shape.depth <= kMaxDenseDepth;
  const int64_t span = shallow ? 0 : SplitSpan(n, levels);
  const int64_t top_block =
      std::min(shallow ? kDenseBlockRows : kTopBlockRows, per_thread);
  const int64_t n_top_blocks = (n + top_block - 1) / top_block;
  if (span == 0) {
    // One pass per block of rows over every tree, so the block's inputs stay
    // cached while all trees are routed (tree-major order would re-read the
    // whole batch once per tree): the top `dense` levels of every tree first,
    // all their nodes at once (each input vector then serves several weight
    // rows), then each tree's remaining levels grouped from the nodes the
    // rows reached.
    const int64_t dense = std::min(levels, DenseLevels());
    ParallelFor(n_top_blocks, n_threads, [&](int64_t b) {
      const int64_t begin = b * top_block;
      const int64_t count = std::min(top_block, n - begin);
      int32_t* rows = ord + begin;
      if (dense > 0) {
        k->route_dense(p, 0, shape.n_trees, dense, rows, count, routing);
      }
      if (dense == levels) return;
      const kernels::FffGroupScratch gs = GroupScratch(CurrentThreadIndex());
      int32_t start[kMaxBlockRows];
      for (int64_t t = 0; t < shape.n_trees; ++t) {
        if (dense == 0) {
          k->route_group(p, t, 0, nullptr, 0, levels, rows, count, routing, gs,
                         nullptr);
          continue;
        }
        SortByDenseLeaf(t, dense, rows, count, start);
        k->route_group(p, t, -1, start, dense, levels, rows, count, routing, gs,
                       nullptr);
      }
    });
    return;
  }
  int32_t* nxt = next_node.data();
  for (int64_t t = 0; t < shape.n_trees; ++t) {
    // The top levels in blocks of rows, in parallel ...
    ParallelFor(n_top_blocks, n_threads, [&](int64_t b) {
      const int64_t begin = b * top_block;
      k->route_group(p, t, 0, nullptr, 0, span, ord + begin,
                     std::min(top_block, n - begin), routing,
                     GroupScratch(CurrentThreadIndex()), nxt + begin);
    });
    int32_t bounds[(1 << kMaxTopLevels) + 1];
    BucketBySubtree(0, span, ord, n, bounds);
    // ... then each subtree with all its rows; threads take contiguous
    // ranges of subtrees holding about equal numbers of rows.
    const int64_t n_sub = int64_t{1} << span;
    const int64_t first = n_sub - 1;
    ParallelFor(n_threads, n_threads, [&](int64_t part) {
      const int64_t lo = n * part / n_threads;
      const int64_t hi = n * (part + 1) / n_threads;
      const int thread = CurrentThreadIndex();
      for (int64_t sb = 0; sb < n_sub; ++sb) {
        const int64_t b = bounds[sb], e = bounds[sb + 1];
        if (e <= b || b < lo || b >= hi) continue;  // owned by its first row
        RouteSubtree(p, t, static_cast<int32_t>(first + sb), span, ord + b,
                     e - b, thread);
      }
    });
  }
}

int64_t FffLayer::Impl::DenseLevels() const {
  if (options.dense_top_levels >= 0) return options.dense_top_levels;
  return shape.depth <= kMaxDenseDepth ? kDefaultDenseTopLevels : 0;
}

void FffLayer::Impl::SortByDenseLeaf(int64_t tree, int64_t dense, int32_t* rows,
                                     int64_t n, int32_t* start) const {
  // The node each row reaches below the dense levels is the child of its
  // node at level dense - 1 on its logit's side; a stable counting sort over
  // the 2^dense candidates keeps rows sorted by it, as route_group needs.
  const int64_t nv = shape.n_visited();
  const int64_t at = tree * (shape.depth + 1) + dense - 1;
  const int32_t base = static_cast<int32_t>(tree * shape.n_nodes());
  const int32_t first = (int32_t{1} << dense) - 1;  // leftmost node at `dense`
  int32_t child[kMaxBlockRows];
  int32_t tmp[kMaxBlockRows];
  int32_t count[(1 << kernels::kMaxDenseLevels) + 1] = {};
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = rows[i];
    const int32_t node = nodes[r * nv + at] - base;
    child[i] = 2 * node + (acts[r * nv + at] > 0.0f ? 2 : 1);
    ++count[child[i] - first + 1];
  }
  for (int32_t b = 0; b < first + 1; ++b) count[b + 1] += count[b];
  for (int64_t i = 0; i < n; ++i) {
    const int32_t pos = count[child[i] - first]++;
    tmp[pos] = rows[i];
    start[pos] = child[i];
  }
  std::copy(tmp, tmp + n, rows);
}

int64_t FffLayer::Impl::SplitSpan(int64_t n, int64_t remaining_levels) const {
  // The deepest split leaving about kRowsPerSubtree rows per subtree, capped
  // so the pass's weight rows stay in L2; none when it would be shallow.
  int64_t span = 0;
  while (span + 1 < remaining_levels && span < kMaxTopLevels &&
         (n >> (span + 1)) >= kRowsPerSubtree) {
    ++span;
  }
  return span < kMinSplitLevel ? 0 : span;
}

void FffLayer::Impl::BucketBySubtree(int32_t node, int64_t span, int32_t* rows,
                                     int64_t n, int32_t* bounds) {
  // The 2^span nodes `span` levels below `node` are consecutive, starting at
  // its leftmost descendant; next_node holds where each row ended up.
  const int64_t n_sub = int64_t{1} << span;
  const int64_t first = (int64_t{node} << span) + (n_sub - 1);
  const int64_t offset = rows - order.data();
  const int32_t* nxt = next_node.data() + offset;
  int32_t* srt = sorted.data() + offset;
  std::fill(bounds, bounds + n_sub + 1, 0);
  for (int64_t i = 0; i < n; ++i) ++bounds[nxt[i] - first + 1];
  for (int64_t sb = 0; sb < n_sub; ++sb) bounds[sb + 1] += bounds[sb];
  for (int64_t i = 0; i < n; ++i) srt[bounds[nxt[i] - first]++] = rows[i];
  for (int64_t sb = n_sub; sb > 0; --sb) bounds[sb] = bounds[sb - 1];
  bounds[0] = 0;
  std::copy(srt, srt + n, rows);
}

void FffLayer::Impl::RouteSubtree(const kernels::FffProblem& p, int64_t tree,
                                  int32_t node, int64_t level, int32_t* rows,
                                  int64_t n, int thread) {
  const int64_t levels = shape.depth + 1;
  const kernels::FffRouting routing{nodes.data(), acts.data()};
  const kernels::FffGroupScratch gs = GroupScratch(thread);
  const int64_t span = SplitSpan(n, levels - level);
  if (span == 0) {
    kernels->route_group(p, tree, node, nullptr, level, levels, rows, n,
                         routing, gs, nullptr);
    return;
  }
  // Too many rows for one group to stay cached: the same two passes as the
  // whole chunk, recursively (serial: the caller already runs in parallel).
  int32_t* nxt = next_node.data() + (rows - order.data());
  for (int64_t b = 0; b < n; b += kTopBlockRows) {
    kernels->route_group(p, tree, node, nullptr, level, level + span, rows + b,
                         std::min(kTopBlockRows, n - b), routing, gs, nxt + b);
  }
  int32_t bounds[(1 << kMaxTopLevels) + 1];
  BucketBySubtree(node, span, rows, n, bounds);
  const int64_t n_sub = int64_t{1} << span;
  const int64_t first = (int64_t{node} << span) + (n_sub - 1);
  for (int64_t sb = 0; sb < n_sub; ++sb) {
    if (bounds[sb + 1] > bounds[sb]) {
      RouteSubtree(p, tree, static_cast<int32_t>(first + sb), level + span,
                   rows + bounds[sb], bounds[sb + 1] - bounds[sb], thread);
    }
  }
}

}  // namespace fff
