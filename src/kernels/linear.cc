// Linear (src/kernels/linear.h) on a fixed-M oneDNN matmul per block.
#include "src/kernels/linear.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <dnnl.hpp>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "src/base/aligned_buffer.h"
#include "src/base/log_internal.h"
#include "src/base/parallel.h"
#include "src/base/validate.h"

namespace fff {
namespace {

using dnnl::memory;
using Dt = memory::data_type;
using Tag = memory::format_tag;

// Rows per block, measured at 1 thread on 1024 rows (GFLOP/s; oneDNN's
// sgemm on the same product 163-185): 768x2304 b16 120, b32 143, b64 159,
// b128 171; 768x3072 124/149/161/173; 3072x768 122/145/157/166.
constexpr int64_t kDefaultBlockRows = 128;
// Columns per tile: 384 keeps every encoder product of one 128-token
// sequence in an even number of tiles (qkv 6, attention output 2, dense FF
// 8 and 2), so 2 threads share it evenly; measured at 1 thread, 128 x 384
// tiles run within 3% of a single 128 x d_out tile (167-178 GFLOP/s).
constexpr int64_t kDefaultTileCols = kLinearTileCols;
constexpr int kMaxThreads = 1024;
constexpr size_t kScratchpadAlignment = 64;

// One column tile: its own fixed-shape primitive and repacked weights.
struct Tile {
  int64_t col0 = 0, cols = 0;
  dnnl::matmul matmul;
  memory w, b;
  AlignedBuffer<char> w_storage;
  memory::desc x_md, y_strided_md, scratch_md;
};

// Per-thread execution state: a user scratchpad must not be shared, and
// staging rows pad a short last block.
struct ThreadState {
  dnnl::stream stream;
  AlignedBuffer<float> x_stage, y_stage;
  AlignedBuffer<char> scratch_storage;
  char* scratch = nullptr;
};

}  // namespace

struct Linear::Impl {
  int64_t d_in = 0, d_out = 0, block_rows = 0, tile_cols = 0;
  std::string name, impl_name;
  dnnl::engine engine;
  std::vector<Tile> tiles;
  AlignedBuffer<float> b_storage;
  mutable std::vector<ThreadState> threads;
  bool views_weights = false;

  void RunTile(ThreadState& t, const Tile& tile, const float* x, float* y,
               int64_t rows) const;
};

Linear::Linear(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Linear::Linear(Linear&&) noexcept = default;
Linear& Linear::operator=(Linear&&) noexcept = default;
Linear::~Linear() = default;
int64_t Linear::d_in() const { return impl_->d_in; }
int64_t Linear::d_out() const { return impl_->d_out; }
int64_t Linear::block_rows() const { return impl_->block_rows; }
const std::string& Linear::impl_name() const { return impl_->impl_name; }
bool Linear::views_weights() const { return impl_->views_weights; }

namespace {

Status CheckDims(int64_t d_in, int64_t d_out, std::string_view what) {
  if (d_in < 1 || d_out < 1 || d_in > (int64_t{1} << 24) ||
      d_out > (int64_t{1} << 24)) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: expected 1 <= d_in, d_out <= 2^24, got d_in {} d_out {}",
        what, d_in, d_out));
  }
  return Status::Ok();
}

Status CheckTiledSizes(int64_t d_in, int64_t d_out, size_t plain, size_t tiled,
                       const char* what) {
  FFF_RETURN_IF_ERROR(CheckDims(d_in, d_out, what));
  if (static_cast<int64_t>(plain) != d_in * d_out ||
      static_cast<int64_t>(tiled) != d_in * d_out) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: expected {} x {} = {} floats in and out, got {} and {}", what,
        d_out, d_in, d_in * d_out, plain, tiled));
  }
  return Status::Ok();
}

// Calls f(n, k, tiled index of W[n][k]) for every weight (linear.h).
template <class F>
void ForEachTiled(int64_t d_in, int64_t d_out, F f) {
  for (int64_t c0 = 0; c0 < d_out; c0 += kLinearTileCols) {
    const int64_t cols = std::min(kLinearTileCols, d_out - c0);
    const int64_t base = c0 * d_in;
    for (int64_t k = 0; k < d_in; ++k) {
      for (int64_t j = 0; j < cols; ++j) f(c0 + j, k, base + k * cols + j);
    }
  }
}

}  // namespace

Status TileLinearWeights(int64_t d_in, int64_t d_out, std::span<const float> w,
                         std::span<float> tiled) {
  FFF_RETURN_IF_ERROR(CheckTiledSizes(d_in, d_out, w.size(), tiled.size(),
                                      "TileLinearWeights"));
  ForEachTiled(d_in, d_out, [&](int64_t n, int64_t k, int64_t at) {
    tiled[static_cast<size_t>(at)] = w[static_cast<size_t>(n * d_in + k)];
  });
  return Status::Ok();
}

Status UntileLinearWeights(int64_t d_in, int64_t d_out,
                           std::span<const float> tiled, std::span<float> w) {
  FFF_RETURN_IF_ERROR(CheckTiledSizes(d_in, d_out, w.size(), tiled.size(),
                                      "UntileLinearWeights"));
  ForEachTiled(d_in, d_out, [&](int64_t n, int64_t k, int64_t at) {
    w[static_cast<size_t>(n * d_in + k)] = tiled[static_cast<size_t>(at)];
  });
  return Status::Ok();
}

Result<Linear> Linear::Create(int64_t d_in, int64_t d_out,
                              std::span<const float> w,
                              std::span<const float> b,
                              const LinearOptions& options, std::string name) {
  return CreateImpl(d_in, d_out, w, {}, b, options, std::move(name));
}

Result<Linear> Linear::CreateFromTiled(int64_t d_in, int64_t d_out,
                                       std::span<const float> tiled,
                                       std::span<const float> b,
                                       const LinearOptions& options,
                                       std::string name) {
  return CreateImpl(d_in, d_out, {}, tiled, b, options, std::move(name));
}

Result<Linear> Linear::CreateImpl(int64_t d_in, int64_t d_out,
                                  std::span<const float> plain,
                                  std::span<const float> tiled_w,
                                  std::span<const float> b,
                                  const LinearOptions& options,
                                  std::string name) {
  FFF_RETURN_IF_ERROR(CheckDims(d_in, d_out, name));
  const bool tiled = plain.empty() && !tiled_w.empty();
  const std::span<const float> w = tiled ? tiled_w : plain;
  if (static_cast<int64_t>(w.size()) != d_in * d_out) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: {}weight: expected {} x {} = {} elements, got {}", name,
        tiled ? "tiled " : "", d_out, d_in, d_in * d_out, w.size()));
  }
  if (!b.empty() && static_cast<int64_t>(b.size()) != d_out) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: bias: expected {} elements, got {}", name, d_out, b.size()));
  }
  if (options.n_threads < 1 || options.n_threads > kMaxThreads) {
    return InvalidArgumentError(
        fmt::format("fff: {}: n_threads: expected 1..{}, got {}", name,
                    kMaxThreads, options.n_threads));
  }
  if (options.block_rows < 0 || options.block_rows > 4096) {
    return InvalidArgumentError(
        fmt::format("fff: {}: block_rows: expected 0..4096, got {}", name,
                    options.block_rows));
  }
  if (options.tile_cols < 0 || (tiled && options.tile_cols != 0 &&
                                options.tile_cols != kLinearTileCols)) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: tile_cols: expected {}, got {}", name,
        tiled ? fmt::format("0 or {} (tiled weights)", kLinearTileCols)
              : std::string(">= 0"),
        options.tile_cols));
  }
  auto impl = std::make_unique<Impl>();
  Impl& im = *impl;
  im.d_in = d_in;
  im.d_out = d_out;
  im.block_rows =
      options.block_rows > 0 ? options.block_rows : kDefaultBlockRows;
  im.tile_cols = std::min(
      d_out, options.tile_cols > 0 ? options.tile_cols : kDefaultTileCols);
  im.name = std::move(name);
  if (!b.empty()) {
    FFF_RETURN_IF_ERROR(im.b_storage.Allocate(b.size(), "linear bias"));
    std::memcpy(im.b_storage.data(), b.data(), b.size() * sizeof(float));
  }
  size_t scratch_bytes = 0;
  try {
    im.engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(im.engine);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (options.activation != LinearActivation::kNone) {
      dnnl::post_ops po;
      po.append_eltwise(1.0f,
                        options.activation == LinearActivation::kGelu
                            ? dnnl::algorithm::eltwise_gelu_erf
                            : dnnl::algorithm::eltwise_tanh,
                        0.0f, 0.0f);
      attr.set_post_ops(po);
    }
    const int64_t m = im.block_rows;
    const int64_t n_tiles = (d_out + im.tile_cols - 1) / im.tile_cols;
    // Tiles of equal width share one primitive (a full tile and at most
    // one narrower last tile).
    std::unordered_map<int64_t,
                       std::pair<dnnl::matmul::primitive_desc, dnnl::matmul>>
        made;
    im.tiles.resize(static_cast<size_t>(n_tiles));
    im.views_weights = tiled;
    for (int64_t ti = 0; ti < n_tiles; ++ti) {
      Tile& tile = im.tiles[static_cast<size_t>(ti)];
      tile.col0 = ti * im.tile_cols;
      tile.cols = std::min(im.tile_cols, d_out - tile.col0);
      const int64_t n = tile.cols;
      tile.x_md = memory::desc({m, d_in}, Dt::f32, Tag::ab);
      // The tile written in place into y [rows, d_out]: row stride d_out.
      tile.y_strided_md = memory::desc({m, n}, Dt::f32, memory::dims{d_out, 1});
      memory::desc b_md;
      if (!b.empty()) b_md = memory::desc({1, n}, Dt::f32, Tag::ab);
      auto found = made.find(n);
      if (found == made.end()) {
        const memory::desc w_any({d_in, n}, Dt::f32, Tag::any);
        dnnl::matmul::primitive_desc pd(
            dnnl::matmul::desc(tile.x_md, w_any, b_md, tile.y_strided_md), attr,
            im.engine);
        found = made.emplace(n, std::make_pair(pd, dnnl::matmul(pd))).first;
      }
      const dnnl::matmul::primitive_desc& pd = found->second.first;
      tile.matmul = found->second.second;
      if (ti == 0) im.impl_name = pd.impl_info_str();
      tile.scratch_md = pd.scratchpad_desc();
      scratch_bytes = std::max(scratch_bytes, tile.scratch_md.get_size());
      // The caller's weights of this tile: rows col0.. of W [d_out, d_in]
      // ("ba" order, leading dimension d_in), or the tile's own row-major
      // [d_in, n] slice of the tiled layout.
      const memory::desc w_user =
          tiled ? memory::desc({d_in, n}, Dt::f32, Tag::ab)
                : memory::desc({d_in, n}, Dt::f32, memory::dims{1, d_in});
      const float* w_ptr = w.data() + tile.col0 * d_in;
      if (tiled && options.view_tiled && pd.weights_desc() == w_user) {
        tile.w = memory(w_user, im.engine, const_cast<float*>(w_ptr));
      } else {
        im.views_weights = false;
        FFF_RETURN_IF_ERROR(tile.w_storage.Allocate(
            pd.weights_desc().get_size(), "linear weights"));
        tile.w = memory(pd.weights_desc(), im.engine, tile.w_storage.data());
        memory user(w_user, im.engine, const_cast<float*>(w_ptr));
        dnnl::reorder(user, tile.w).execute(stream, user, tile.w);
      }
      if (!b.empty()) {
        tile.b = memory(b_md, im.engine, im.b_storage.data() + tile.col0);
      }
    }
    stream.wait();

    im.threads.resize(static_cast<size_t>(options.n_threads));
    for (ThreadState& t : im.threads) {
      t.stream = dnnl::stream(im.engine);
      // Uninitialised: untouched pages cost nothing at load (RunTile
      // writes every staged row it reads, padding rows included).
      FFF_RETURN_IF_ERROR(t.x_stage.AllocateUninitialized(
          static_cast<size_t>(m * d_in), "linear input staging"));
      FFF_RETURN_IF_ERROR(t.y_stage.AllocateUninitialized(
          static_cast<size_t>(m * d_out), "linear output staging"));
      FFF_RETURN_IF_ERROR(t.scratch_storage.AllocateUninitialized(
          scratch_bytes + kScratchpadAlignment, "linear scratchpad"));
      const auto base = reinterpret_cast<uintptr_t>(t.scratch_storage.data());
      t.scratch =
          reinterpret_cast<char*>((base + kScratchpadAlignment - 1) /
                                  kScratchpadAlignment * kScratchpadAlignment);
    }
  } catch (const dnnl::error& e) {
    return InternalError(fmt::format("fff: {}: oneDNN: {} (status {})", im.name,
                                     e.what(), static_cast<int>(e.status)));
  }
  FFF_LOG(kDebug, "{}: linear {} -> {}, tiles of {} rows x {} columns, {}{}",
          im.name, d_in, d_out, im.block_rows, im.tile_cols, im.impl_name,
          im.views_weights ? ", tiled weights read in place" : "");
  return Linear(std::move(impl));
}

void Linear::Impl::RunTile(ThreadState& t, const Tile& tile, const float* x,
                           float* y, int64_t rows) const {
  const bool padded = rows < block_rows;
  const float* src = x;
  if (padded) {
    std::memcpy(t.x_stage.data(), x,
                static_cast<size_t>(rows * d_in) * sizeof(float));
    // Padding rows are computed and dropped; zeros keep them finite.
    std::memset(
        t.x_stage.data() + rows * d_in, 0,
        static_cast<size_t>((block_rows - rows) * d_in) * sizeof(float));
    src = t.x_stage.data();
  }
  // memory objects are cheap handles; made per call so threads never share.
  memory xm(tile.x_md, engine, const_cast<float*>(src));
  // The primitive writes rows d_out apart: the staging block has that stride.
  memory ym(tile.y_strided_md, engine,
            (padded ? t.y_stage.data() : y) + tile.col0);
  memory sm(tile.scratch_md, engine, t.scratch);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, xm},
                                          {DNNL_ARG_WEIGHTS, tile.w},
                                          {DNNL_ARG_DST, ym},
                                          {DNNL_ARG_SCRATCHPAD, sm}};
  if (tile.b) args.emplace(DNNL_ARG_BIAS, tile.b);
  tile.matmul.execute(t.stream, args);
  t.stream.wait();
  if (padded) {
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(y + r * d_out + tile.col0,
                  t.y_stage.data() + r * d_out + tile.col0,
                  static_cast<size_t>(tile.cols) * sizeof(float));
    }
  }
}

Status Linear::Forward(MatrixView<const float> x, MatrixView<float> y,
                       int n_threads) const {
  const Impl& im = *impl_;
  FFF_RETURN_IF_ERROR(ValidateMatrix(x, im.name.c_str(), im.d_in, "d_in"));
  FFF_RETURN_IF_ERROR(ValidateMatrix(y, im.name.c_str(), im.d_out, "d_out"));
  if (x.rows != y.rows) {
    return InvalidArgumentError(
        fmt::format("fff: {}: y: expected {} rows (as x), got {}", im.name,
                    x.rows, y.rows));
  }
  if ((x.rows > 1 && x.stride != x.cols) ||
      (y.rows > 1 && y.stride != y.cols)) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: expected contiguous rows (stride == cols), got x stride {} "
        "y stride {}",
        im.name, x.stride, y.stride));
  }
  if (Overlaps(x.data, x.ExtentElements() * sizeof(float), y.data,
               y.ExtentElements() * sizeof(float))) {
    return InvalidArgumentError(
        fmt::format("fff: {}: x and y overlap", im.name));
  }
  const int threads =
      std::clamp(n_threads, 1, static_cast<int>(im.threads.size()));
  const int64_t n_blocks = (x.rows + im.block_rows - 1) / im.block_rows;
  const int64_t n_tiles = static_cast<int64_t>(im.tiles.size());
  std::atomic<bool> failed{false};
  // `threads` means that many cores: a tile run outside a parallel region
  // (one thread, or a single tile) would otherwise let oneDNN spread its
  // product over OpenMP's whole pool.
  const OmpThreadsScope omp_threads(threads);
  ParallelFor(n_blocks * n_tiles, threads, [&](int64_t task) {
    const int64_t blk = task / n_tiles;
    const Tile& tile = im.tiles[static_cast<size_t>(task % n_tiles)];
    const int64_t r0 = blk * im.block_rows;
    const int64_t rows = std::min(im.block_rows, x.rows - r0);
    ThreadState& t = im.threads[static_cast<size_t>(CurrentThreadIndex())];
    try {
      im.RunTile(t, tile, x.data + r0 * im.d_in, y.data + r0 * im.d_out, rows);
    } catch (const dnnl::error&) {
      failed.store(true, std::memory_order_relaxed);
    }
  });
  if (failed) {
    return InternalError(fmt::format("fff: {}: oneDNN matmul failed", im.name));
  }
  return Status::Ok();
}

}  // namespace fff
