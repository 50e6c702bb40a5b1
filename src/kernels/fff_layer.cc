// FffLayer: validation, planning (target, strategy thresholds, scratch) and
// the threaded execution of fff/fff.h. Kernels live in fff_cpu.cc.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "fff/fff.h"
#include "src/base/aligned_buffer.h"
#include "src/base/log_internal.h"
#include "src/base/parallel.h"
#include "src/kernels/fff_kernels.h"

namespace fff {
namespace {

// Rows per block: the row walk keeps blocks small so both threads get work
// at small batches; the level-batched strategy wants large groups per node
// (more rows sharing each weight row) but its rows' inputs must stay in the
// core's L2 cache. Measured choices, see docs/kernels.md.
constexpr int64_t kRowWalkMaxBlockRows = 64;
constexpr int64_t kLevelBatchedMaxBlockRows = 512;
// kAuto uses the level-batched strategy from this many rows per thread on.
constexpr int64_t kDefaultLevelBatchedMinRows = 32;

bool Overlaps(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  const char* pa = static_cast<const char*>(a);
  const char* pb = static_cast<const char*>(b);
  return a_bytes > 0 && b_bytes > 0 && pa < pb + b_bytes && pb < pa + a_bytes;
}

template <class T>
Status ValidateMatrix(const MatrixView<T>& m, const char* name,
                      int64_t want_cols, const char* cols_name) {
  if (m.rows < 0) {
    return InvalidArgumentError(
        fmt::format("fff: {}: expected rows >= 0, got {}", name, m.rows));
  }
  if (m.cols != want_cols) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: expected {} columns ({}), got {}", name, want_cols,
        cols_name, m.cols));
  }
  if (m.stride < m.cols) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: expected row stride >= {} (columns), got {}", name, m.cols,
        m.stride));
  }
  const int64_t extent = m.ExtentElements();
  if (extent > 0 && m.data == nullptr) {
    return InvalidArgumentError(
        fmt::format("fff: {}: null data for {} x {} elements", name, m.rows,
                    m.cols));
  }
  if (static_cast<uint64_t>(extent) > m.capacity) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: buffer too short: expected >= {} elements ({} rows, stride "
        "{}), got {}",
        name, extent, m.rows, m.stride, m.capacity));
  }
  return Status::Ok();
}

template <class T>
Status ValidateSpan(std::span<T> s, const char* name, int64_t want,
                    const char* what) {
  if (s.data() == nullptr && want > 0) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: null buffer, expected {} elements ({})", name, want, what));
  }
  if (static_cast<int64_t>(s.size()) != want) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: expected {} elements ({}), got {}", name, want, what,
        s.size()));
  }
  return Status::Ok();
}

}  // namespace

Status ValidateFffShape(const FffShape& s) {
  if (s.d_in < 1) {
    return InvalidArgumentError(
        fmt::format("fff: d_in: expected >= 1, got {}", s.d_in));
  }
  if (s.d_out < 1) {
    return InvalidArgumentError(
        fmt::format("fff: d_out: expected >= 1, got {}", s.d_out));
  }
  if (s.depth < 0 || s.depth > kFffMaxDepth) {
    return OutOfRangeError(fmt::format(
        "fff: depth: expected 0..{} (int32 node index), got {}", kFffMaxDepth,
        s.depth));
  }
  if (s.n_trees < 1) {
    return InvalidArgumentError(
        fmt::format("fff: n_trees: expected >= 1, got {}", s.n_trees));
  }
  constexpr int64_t kMaxNodes = std::numeric_limits<int32_t>::max();
  if (s.n_trees > kMaxNodes / s.n_nodes()) {
    return OutOfRangeError(fmt::format(
        "fff: n_trees * n_nodes: expected <= {} (int32 node index), got {} * "
        "{}",
        kMaxNodes, s.n_trees, s.n_nodes()));
  }
  constexpr int64_t kMaxElements = std::numeric_limits<int64_t>::max() / 8;
  const int64_t total = s.n_total_nodes();
  if (s.d_in > kMaxElements / total || s.d_out > kMaxElements / total) {
    return OutOfRangeError(fmt::format(
        "fff: weights of {} nodes x max(d_in {}, d_out {}) overflow int64",
        total, s.d_in, s.d_out));
  }
  return Status::Ok();
}

Status ValidateFffWeights(const FffShape& s, const FffWeightsView& w) {
  FFF_RETURN_IF_ERROR(ValidateFffShape(s));
  const int64_t total = s.n_total_nodes();
  FFF_RETURN_IF_ERROR(
      ValidateSpan(w.w_in, "w_in", total * s.d_in, "n_trees*n_nodes x d_in"));
  FFF_RETURN_IF_ERROR(ValidateSpan(w.b_in, "b_in", total, "n_trees*n_nodes"));
  FFF_RETURN_IF_ERROR(ValidateSpan(w.w_out, "w_out", total * s.d_out,
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
  FFF_RETURN_IF_ERROR(ValidateSpan(w_out_node_major, "w_out",
                                   s.d_out * total, "n_trees*n_nodes x d_out"));
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
    case FffStrategy::kAuto: return "auto";
    case FffStrategy::kRowWalk: return "row_walk";
    case FffStrategy::kLevelBatched: return "level_batched";
  }
  return "?";
}

struct FffLayer::Impl {
  FffShape shape;
  FffWeightsView weights;
  FffOptions options;
  const kernels::FffKernelTable* kernels = nullptr;
  int n_threads = 1;
  int64_t level_batched_min_rows = kDefaultLevelBatchedMinRows;
  int64_t scratch_rows = 0;          // rows per block the scratch holds
  int64_t scratch_bytes_per_thread = 0;
  AlignedBuffer<char> scratch;       // n_threads slices
};

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

  std::string target = options.target;
  const char* env = std::getenv("FFF_CPU_TARGET");
  if (target.empty() && env != nullptr) target = env;
  if (target.empty()) {
    impl->kernels = kernels::SupportedFffKernelTables().front();
  } else {
    impl->kernels = kernels::FindFffKernelTable(target);
    if (impl->kernels == nullptr) {
      std::string have;
      for (const auto* t : kernels::SupportedFffKernelTables()) {
        have += (have.empty() ? "" : ", ") + std::string(t->name);
      }
      return NotFoundError(fmt::format(
          "fff: target{}: '{}' is not compiled in or not supported by this "
          "CPU; available: {}",
          options.target.empty() ? " (FFF_CPU_TARGET)" : "", target, have));
    }
  }
  if (options.n_threads < 0) {
    return InvalidArgumentError(fmt::format(
        "fff: n_threads: expected >= 0 (0 = all), got {}", options.n_threads));
  }
  impl->n_threads = ResolveThreadCount(options.n_threads);
  if (options.level_batched_min_rows >= 0) {
    impl->level_batched_min_rows = options.level_batched_min_rows;
  }
  impl->scratch_rows = std::max(kRowWalkMaxBlockRows, kLevelBatchedMaxBlockRows);
  impl->scratch_bytes_per_thread =
      kernels::FffScratchBytes(impl->scratch_rows, shape.n_visited());
  FFF_RETURN_IF_ERROR(impl->scratch.Allocate(
      static_cast<size_t>(impl->scratch_bytes_per_thread) * impl->n_threads,
      "FFF scratch"));
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
    return InvalidArgumentError(fmt::format(
        "fff: y: expected {} rows (as x), got {}", x.rows, y.rows));
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
  p.b_in = im.weights.b_in.data();
  p.w_out = im.weights.w_out.data();
  p.x = x.data;
  p.x_stride = x.stride;
  p.y = y.data;
  p.y_stride = y.stride;
  p.trace_nodes = trace.nodes.empty() ? nullptr : trace.nodes.data();
  p.trace_logits = trace.logits.empty() ? nullptr : trace.logits.data();

  const FffStrategy strategy = StrategyFor(n_rows);
  const kernels::FffBlockFn fn = strategy == FffStrategy::kLevelBatched
                                     ? im.kernels->level_batched
                                     : im.kernels->row_walk;
  const int64_t max_block = strategy == FffStrategy::kLevelBatched
                                ? kLevelBatchedMaxBlockRows
                                : kRowWalkMaxBlockRows;
  const int64_t per_thread = (n_rows + im.n_threads - 1) / im.n_threads;
  const int64_t block_rows = std::min(max_block, per_thread);
  const int64_t n_blocks = (n_rows + block_rows - 1) / block_rows;
  char* scratch = impl_->scratch.data();
  const int64_t scratch_bytes = im.scratch_bytes_per_thread;
  const int64_t visited = s.n_visited();
  const int64_t scratch_rows = im.scratch_rows;
  ParallelFor(n_blocks, im.n_threads, [&](int64_t b) {
    const int64_t begin = b * block_rows;
    const int64_t end = std::min(n_rows, begin + block_rows);
    const kernels::FffScratch sc = kernels::CarveFffScratch(
        scratch + CurrentThreadIndex() * scratch_bytes, scratch_rows, visited);
    fn(p, begin, end, sc);
  });
  return Status::Ok();
}

}  // namespace fff
