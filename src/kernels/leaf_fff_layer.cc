// LeafFffLayer: validation, conversions, planning (target, scratch) and the
// threaded hard inference of fff/leaf_fff.h. Kernels: leaf_fff_cpu.cc.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <utility>

#include "fff/leaf_fff.h"
#include "src/base/aligned_buffer.h"
#include "src/base/log_internal.h"
#include "src/base/parallel.h"
#include "src/base/validate.h"
#include "src/kernels/leaf_fff_kernels.h"
#include "src/kernels/target_tables.h"

namespace fff {
namespace {

// Rows per chunk the scratch holds (larger batches run chunk by chunk with
// identical results).
constexpr int64_t kChunkRows = 4096;
// Routing: rows per parallel block.
constexpr int64_t kRouteBlockRows = 64;
// Evaluation: at most this many rows of one leaf per task.
constexpr int64_t kTaskRows = 32;
constexpr int kMaxThreads = 1024;

}  // namespace

const char* LeafActivationName(LeafActivation activation) {
  return activation == LeafActivation::kGelu ? "GELU" : "ReLU";
}

Status ValidateLeafFffShape(const LeafFffShape& s) {
  if (s.d_in < 1) {
    return InvalidArgumentError(
        fmt::format("fff: d_in: expected >= 1, got {}", s.d_in));
  }
  if (s.d_out < 1) {
    return InvalidArgumentError(
        fmt::format("fff: d_out: expected >= 1, got {}", s.d_out));
  }
  if (s.depth < 0 || s.depth > kLeafFffMaxDepth) {
    return OutOfRangeError(
        fmt::format("fff: depth: expected 0..{} (int32 leaf index), got {}",
                    kLeafFffMaxDepth, s.depth));
  }
  if (s.leaf_width < 1) {
    return InvalidArgumentError(
        fmt::format("fff: leaf_width: expected >= 1, got {}", s.leaf_width));
  }
  if (s.activation != LeafActivation::kRelu &&
      s.activation != LeafActivation::kGelu) {
    return InvalidArgumentError(
        fmt::format("fff: activation: expected ReLU or GELU, got {}",
                    static_cast<int>(s.activation)));
  }
  constexpr int64_t kMaxElements = std::numeric_limits<int64_t>::max() / 8;
  const int64_t rows = s.n_leaves() * s.leaf_width;
  if (s.leaf_width > kMaxElements / s.n_leaves() ||
      s.d_in > kMaxElements / rows || s.d_out > kMaxElements / rows) {
    return OutOfRangeError(fmt::format(
        "fff: leaf weights of {} leaves x {} units x max(d_in {}, d_out {}) "
        "overflow int64",
        s.n_leaves(), s.leaf_width, s.d_in, s.d_out));
  }
  return Status::Ok();
}

Status ValidateLeafFffWeights(const LeafFffShape& s,
                              const LeafFffWeightsView& w) {
  FFF_RETURN_IF_ERROR(ValidateLeafFffShape(s));
  const int64_t units = s.n_leaves() * s.leaf_width;
  FFF_RETURN_IF_ERROR(ValidateSpan(w.router_w, "router_w",
                                   s.n_routers() * s.d_in, "n_routers x d_in"));
  FFF_RETURN_IF_ERROR(
      ValidateSpan(w.router_b, "router_b", s.n_routers(), "n_routers"));
  FFF_RETURN_IF_ERROR(ValidateSpan(w.leaf_w1, "leaf_w1", units * s.d_in,
                                   "n_leaves x leaf_width x d_in"));
  FFF_RETURN_IF_ERROR(
      ValidateSpan(w.leaf_b1, "leaf_b1", units, "n_leaves x leaf_width"));
  FFF_RETURN_IF_ERROR(ValidateSpan(w.leaf_w2, "leaf_w2", units * s.d_out,
                                   "n_leaves x leaf_width x d_out"));
  FFF_RETURN_IF_ERROR(ValidateSpan(w.leaf_b2, "leaf_b2", s.n_leaves() * s.d_out,
                                   "n_leaves x d_out"));
  return Status::Ok();
}

Status RepackFastFeedForwardW1(const LeafFffShape& s,
                               std::span<const float> package_w1s,
                               std::span<float> leaf_w1) {
  FFF_RETURN_IF_ERROR(ValidateLeafFffShape(s));
  const int64_t n = s.n_leaves() * s.leaf_width * s.d_in;
  FFF_RETURN_IF_ERROR(
      ValidateSpan(package_w1s, "w1s", n, "n_leaves x d_in x leaf_width"));
  FFF_RETURN_IF_ERROR(
      ValidateSpan(leaf_w1, "leaf_w1", n, "n_leaves x leaf_width x d_in"));
  if (Overlaps(package_w1s.data(), package_w1s.size_bytes(), leaf_w1.data(),
               leaf_w1.size_bytes())) {
    return InvalidArgumentError(
        "fff: RepackFastFeedForwardW1: w1s and leaf_w1 overlap");
  }
  const int64_t per_leaf = s.leaf_width * s.d_in;
  for (int64_t l = 0; l < s.n_leaves(); ++l) {
    const float* src = package_w1s.data() + l * per_leaf;  // [d_in, width]
    float* dst = leaf_w1.data() + l * per_leaf;            // [width, d_in]
    for (int64_t i = 0; i < s.d_in; ++i) {
      for (int64_t k = 0; k < s.leaf_width; ++k) {
        dst[k * s.d_in + i] = src[i * s.leaf_width + k];
      }
    }
  }
  return Status::Ok();
}

Result<LeafFffWeights> LeafFffFromUltraFastBert(const FffShape& shape,
                                                const FffWeightsView& w) {
  FFF_RETURN_IF_ERROR(ValidateFffWeights(shape, w));
  if (shape.n_trees != 1) {
    return InvalidArgumentError(fmt::format(
        "fff: n_trees: expected 1 (a leaf FFF is one tree; convert each tree "
        "and sum), got {}",
        shape.n_trees));
  }
  if (shape.depth > kLeafFffMaxDepth) {
    return OutOfRangeError(fmt::format("fff: depth: expected 0..{}, got {}",
                                       kLeafFffMaxDepth, shape.depth));
  }
  LeafFffWeights out;
  LeafFffShape& s = out.shape;
  s.d_in = shape.d_in;
  s.d_out = shape.d_out;
  s.depth = shape.depth;
  s.leaf_width = shape.depth + 1;  // the path's neurons
  s.activation = LeafActivation::kGelu;
  FFF_RETURN_IF_ERROR(ValidateLeafFffShape(s));
  const int64_t n_routers = s.n_routers();
  // Routers: UltraFastBERT's levels 0..D-1 (heap indices 0..2^D-2).
  out.router_w.assign(w.w_in.begin(), w.w_in.begin() + n_routers * s.d_in);
  out.router_b.assign(w.b_in.begin(), w.b_in.begin() + n_routers);
  const int64_t units = s.n_leaves() * s.leaf_width;
  out.leaf_w1.resize(static_cast<size_t>(units * s.d_in));
  out.leaf_b1.resize(static_cast<size_t>(units));
  out.leaf_w2.resize(static_cast<size_t>(units * s.d_out));
  out.leaf_b2.assign(static_cast<size_t>(s.n_leaves() * s.d_out), 0.0f);
  for (int64_t l = 0; l < s.n_leaves(); ++l) {
    // The path root -> leaf node n_routers + l, top down: unit k of the
    // leaf is the node at level k.
    std::vector<int64_t> path(static_cast<size_t>(s.leaf_width));
    int64_t node = n_routers + l;
    for (int64_t k = s.leaf_width - 1; k >= 0; --k) {
      path[static_cast<size_t>(k)] = node;
      node = (node - 1) / 2;
    }
    for (int64_t k = 0; k < s.leaf_width; ++k) {
      const int64_t g = path[static_cast<size_t>(k)];
      const int64_t u = l * s.leaf_width + k;
      std::copy_n(w.w_in.begin() + g * s.d_in, s.d_in,
                  out.leaf_w1.begin() + u * s.d_in);
      out.leaf_b1[static_cast<size_t>(u)] = w.b_in[static_cast<size_t>(g)];
      std::copy_n(w.w_out.begin() + g * s.d_out, s.d_out,
                  out.leaf_w2.begin() + u * s.d_out);
    }
  }
  return out;
}

struct LeafFffLayer::Impl {
  LeafFffShape shape;
  LeafFffWeightsView weights;
  const kernels::LeafFffKernelTable* kernels = nullptr;
  int n_threads = 1;
  // Scratch, sized once by Create.
  AlignedBuffer<int32_t> leaves;  // [kChunkRows] leaf of each chunk row
  AlignedBuffer<uint64_t> keys;   // [kChunkRows] (leaf << 32 | row), sorted
  AlignedBuffer<int32_t> rows;    // [kChunkRows] rows in leaf order
  AlignedBuffer<int64_t> tasks;   // [kChunkRows + 1] task start positions
  AlignedBuffer<float> hidden;    // per thread [kLeafMaxGroupRows, width]
  AlignedBuffer<int32_t> iota;    // [leaf_width] 0, 1, 2, ...
  int64_t hidden_stride = 0;
};

LeafFffLayer::LeafFffLayer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
LeafFffLayer::LeafFffLayer(LeafFffLayer&&) noexcept = default;
LeafFffLayer& LeafFffLayer::operator=(LeafFffLayer&&) noexcept = default;
LeafFffLayer::~LeafFffLayer() = default;

Result<LeafFffLayer> LeafFffLayer::Create(const LeafFffShape& shape,
                                          const LeafFffWeightsView& weights,
                                          const LeafFffOptions& options) {
  FFF_RETURN_IF_ERROR(ValidateLeafFffWeights(shape, weights));
  if (options.n_threads < 0 || options.n_threads > kMaxThreads) {
    return InvalidArgumentError(
        fmt::format("fff: n_threads: expected 0..{} (0 = all), got {}",
                    kMaxThreads, options.n_threads));
  }
  auto impl = std::make_unique<Impl>();
  impl->shape = shape;
  impl->weights = weights;
  FFF_ASSIGN_OR_RETURN(
      impl->kernels,
      kernels::ChooseTable(kernels::SupportedLeafFffKernelTables(),
                           options.target));
  impl->n_threads = ResolveThreadCount(options.n_threads);
  const size_t rows = static_cast<size_t>(kChunkRows);
  FFF_RETURN_IF_ERROR(impl->leaves.Allocate(rows, "leaf FFF leaves"));
  FFF_RETURN_IF_ERROR(impl->keys.Allocate(rows, "leaf FFF sort keys"));
  FFF_RETURN_IF_ERROR(impl->rows.Allocate(rows, "leaf FFF row order"));
  FFF_RETURN_IF_ERROR(impl->tasks.Allocate(rows + 1, "leaf FFF tasks"));
  impl->hidden_stride =
      (kernels::kLeafMaxGroupRows * shape.leaf_width + 15) / 16 * 16;
  FFF_RETURN_IF_ERROR(impl->hidden.Allocate(
      static_cast<size_t>(impl->hidden_stride) * impl->n_threads,
      "leaf FFF hidden units"));
  FFF_RETURN_IF_ERROR(impl->iota.Allocate(static_cast<size_t>(shape.leaf_width),
                                          "leaf FFF unit indices"));
  std::iota(impl->iota.data(), impl->iota.data() + shape.leaf_width, 0);
  FFF_LOG(kDebug,
          "leaf FFF d_in={} d_out={} depth={} leaf_width={} {}: target {}, {} "
          "threads",
          shape.d_in, shape.d_out, shape.depth, shape.leaf_width,
          LeafActivationName(shape.activation), impl->kernels->name,
          impl->n_threads);
  return LeafFffLayer(std::move(impl));
}

const LeafFffShape& LeafFffLayer::shape() const { return impl_->shape; }
const char* LeafFffLayer::target_name() const { return impl_->kernels->name; }
int LeafFffLayer::n_threads() const { return impl_->n_threads; }

Status LeafFffLayer::Forward(MatrixView<const float> x, MatrixView<float> y,
                             std::span<int32_t> leaves_out) {
  Impl& im = *impl_;
  const LeafFffShape& s = im.shape;
  FFF_RETURN_IF_ERROR(ValidateMatrix(x, "x", s.d_in, "d_in"));
  FFF_RETURN_IF_ERROR(ValidateMatrix(y, "y", s.d_out, "d_out"));
  if (y.rows != x.rows) {
    return InvalidArgumentError(
        fmt::format("fff: y: expected {} rows (as x), got {}", x.rows, y.rows));
  }
  if (!leaves_out.empty() && leaves_out.size() != static_cast<size_t>(x.rows)) {
    return InvalidArgumentError(
        fmt::format("fff: leaves: expected {} entries (n_rows) or none, got {}",
                    x.rows, leaves_out.size()));
  }
  if (Overlaps(x.data, x.ExtentElements() * sizeof(float), y.data,
               y.ExtentElements() * sizeof(float))) {
    return InvalidArgumentError("fff: x and y overlap");
  }
  kernels::LeafFffProblem p;
  p.d_in = s.d_in;
  p.d_out = s.d_out;
  p.depth = s.depth;
  p.leaf_width = s.leaf_width;
  p.n_routers = s.n_routers();
  p.gelu = s.activation == LeafActivation::kGelu;
  p.router_w = im.weights.router_w.data();
  p.router_b = im.weights.router_b.data();
  p.w1 = im.weights.leaf_w1.data();
  p.b1 = im.weights.leaf_b1.data();
  p.w2 = im.weights.leaf_w2.data();
  p.b2 = im.weights.leaf_b2.data();
  p.x_stride = x.stride;
  p.y_stride = y.stride;
  const auto* k = im.kernels;
  for (int64_t begin = 0; begin < x.rows; begin += kChunkRows) {
    const int64_t n = std::min(kChunkRows, x.rows - begin);
    p.x = x.data + begin * x.stride;
    p.y = y.data + begin * y.stride;
    // 1. Route every row alone.
    int32_t* leaves = im.leaves.data();
    const int64_t n_blocks = (n + kRouteBlockRows - 1) / kRouteBlockRows;
    ParallelFor(n_blocks, n < 2 * kRouteBlockRows ? 1 : im.n_threads,
                [&](int64_t b) {
                  const int64_t r0 = b * kRouteBlockRows;
                  const int64_t r1 = std::min(n, r0 + kRouteBlockRows);
                  k->route(p, r0, r1, leaves + r0);
                });
    if (!leaves_out.empty()) {
      std::copy_n(leaves, n, leaves_out.begin() + begin);
    }
    // 2. Group rows by leaf (a sort of unique keys: deterministic), then cut
    //    each leaf's rows into tasks of at most kTaskRows.
    uint64_t* keys = im.keys.data();
    for (int64_t r = 0; r < n; ++r) {
      keys[r] =
          (static_cast<uint64_t>(static_cast<uint32_t>(leaves[r])) << 32) |
          static_cast<uint32_t>(r);
    }
    std::sort(keys, keys + n);
    int32_t* order = im.rows.data();
    int64_t* tasks = im.tasks.data();
    int64_t n_tasks = 0;
    for (int64_t i = 0; i < n; ++i) {
      order[i] = static_cast<int32_t>(keys[i] & 0xffffffffu);
      const bool new_leaf = i == 0 || (keys[i] >> 32) != (keys[i - 1] >> 32);
      if (new_leaf || i - tasks[n_tasks - 1] == kTaskRows) tasks[n_tasks++] = i;
    }
    tasks[n_tasks] = n;
    // 3. Evaluate each task's leaf for its rows; each row is in one task.
    ParallelFor(n_tasks, n_tasks < 2 ? 1 : im.n_threads, [&](int64_t t) {
      const int64_t i0 = tasks[t];
      const int32_t leaf = static_cast<int32_t>(keys[i0] >> 32);
      float* hidden =
          im.hidden.data() + CurrentThreadIndex() * im.hidden_stride;
      k->eval(p, leaf, order + i0, tasks[t + 1] - i0, hidden, im.iota.data());
    });
  }
  return Status::Ok();
}

}  // namespace fff
