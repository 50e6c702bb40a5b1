// DenseFf (fff/dense_ff.h) on oneDNN matmul primitives.
//
// Design, measured on the 2-core Sapphire Rapids target with oneDNN 2.6.3 at
// d_in 768, d_hidden 3072, d_out 768 (medians of interleaved runs):
//
// * Each product is one oneDNN matmul with its bias fused; the first also
//   fuses GELU (eltwise_gelu_erf post-op), so the hidden activations are
//   written once and read once. (dnnl_sgemm plus a pass of our own was not
//   kept: the gemm:jit matmul below is sgemm plus oneDNN's JIT bias+GELU
//   pass already, and a scalar-erf pass measured ~10% slower.)
// * Two paths, chosen per chunk of rows:
//   - Large chunks (>= gemm_min_rows): one matmul pair with runtime M and
//     runtime row strides; oneDNN runs it as "gemm:jit" (its sgemm) on the
//     caller's weights in place (W1 [d_hidden, d_in] row-major is the "ba"
//     layout of matmul's [d_in, d_hidden] weights). At 2048 rows the op
//     reaches ~94% of dnnl_sgemm's GFLOP/s at 1 thread and ~92% at 2, about
//     5% more than brgemm (repacking to "ab" for it gained nothing).
//   - Small chunks: oneDNN's "brg:avx512_core" matmul on weights repacked
//     once at Create into the blocked layout it prefers (BA16a64b here),
//     1.2-1.8x faster than gemm:jit at 8-64 rows and ~1 ms faster at 2
//     threads up to ~1536 rows. brgemm needs a fixed M, so pairs exist for a
//     ladder of row counts 1, 2, 3, 4, 6, 8, 12, ..., 2^k, 1.5*2^k; a chunk
//     is covered by ladder pieces chosen at Create by a dynamic programme
//     over a measured cost model: a piece runs exactly, or is the last one
//     and is padded (its rows pass through staging buffers, as do strided
//     rows, since brgemm's strides are fixed at creation too).
//   The crossover gemm_min_rows is 384 rows at 1 thread, 1536 at 2.
// * Rows are processed in even chunks of at most chunk_rows (2048, fewer for
//   d_hidden > 3072), so every buffer is sized at Create and Forward
//   allocates none of its own. (oneDNN's execute still makes small internal
//   allocations for argument maps and memory objects, and its sgemm its
//   packing buffers, per call.) 256..1024-row chunks that keep the hidden
//   activations in L2 measured no faster than 2048 here.
// * Threads: primitives and scratchpads are planned at Create for
//   n_threads; Forward runs them under omp_set_num_threads(n_threads) and
//   restores the caller's value (an OpenMP setting of the calling thread
//   only). oneDNN's OpenMP (libgomp) is the only thread pool.
#include "fff/dense_ff.h"

#include <fmt/format.h>
#include <omp.h>
#include <dnnl.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "src/base/aligned_buffer.h"
#include "src/base/log_internal.h"
#include "src/base/validate.h"
#include "src/base/parallel.h"

namespace fff {
namespace {

using dnnl::memory;
using Dims = memory::dims;
using Dt = memory::data_type;
using Tag = memory::format_tag;

// Largest chunk of rows per pair of products; also bounded so the hidden
// activations of a chunk stay within kHiddenBudgetElements floats (24 MiB).
// 2048 rows measured within 1% of larger chunks for the large path.
constexpr int64_t kMaxChunkRows = 2048;
constexpr int64_t kHiddenBudgetElements = kMaxChunkRows * 3072;
// Chunks of at least this many rows take the large (gemm:jit) path.
constexpr int64_t kGemmMinRowsOneThread = 384;
constexpr int64_t kGemmMinRowsMultiThread = 1536;
// Cost model of one brgemm piece of s rows, in units of one row's compute:
// max(kWeightPassRows, s + kPieceOverheadRows). Streaming both weight
// matrices once costs about 11 rows' compute (measured at 1 and 2 threads).
constexpr int64_t kWeightPassRows = 11;
constexpr int64_t kPieceOverheadRows = 4;
constexpr int kMaxThreads = 1024;
constexpr int64_t kMaxChunkRowsOption = int64_t{1} << 20;
// oneDNN scratchpads are carved with page-sized alignment in mind.
constexpr size_t kScratchpadAlignment = 4096;

Status ValidateShape(const DenseFfShape& s) {
  if (s.d_in < 1) {
    return InvalidArgumentError(
        fmt::format("fff: d_in: expected >= 1, got {}", s.d_in));
  }
  if (s.d_hidden < 1) {
    return InvalidArgumentError(
        fmt::format("fff: d_hidden: expected >= 1, got {}", s.d_hidden));
  }
  if (s.d_out < 1) {
    return InvalidArgumentError(
        fmt::format("fff: d_out: expected >= 1, got {}", s.d_out));
  }
  // Byte sizes of the weights (and of oneDNN's padded copies) fit in int64.
  constexpr int64_t kMaxElements = std::numeric_limits<int64_t>::max() / 64;
  if (s.d_in > kMaxElements / s.d_hidden ||
      s.d_out > kMaxElements / s.d_hidden) {
    return OutOfRangeError(fmt::format(
        "fff: d_hidden x max(d_in, d_out): expected <= {} elements, got {} x "
        "max({}, {})",
        kMaxElements, s.d_hidden, s.d_in, s.d_out));
  }
  return Status::Ok();
}

Status FromDnnlError(const dnnl::error& e, const char* during) {
  std::string m = fmt::format("fff: oneDNN failed {}: {} (status {})", during,
                              e.what(), static_cast<int>(e.status));
  switch (e.status) {
    case dnnl_unimplemented:
      return Status(StatusCode::kUnimplemented, m);
    case dnnl_out_of_memory:
      return ResourceExhaustedError(m);
    default:
      return InternalError(m);
  }
}


// 1, 2, 3, 4, 6, 8, 12, 16, ...: powers of two and 1.5 times them, up to
// and including the first value >= `cover`.
std::vector<int64_t> RowLadder(int64_t cover) {
  std::vector<int64_t> ladder = {1};
  for (int64_t p = 2; ladder.back() < cover; p *= 2) {
    ladder.push_back(p);
    if (p < cover) ladder.push_back(p + p / 2);
  }
  return ladder;
}

int64_t PieceCost(int64_t rows) {
  return std::max(kWeightPassRows, rows + kPieceOverheadRows);
}

void* Mutable(const float* p) { return const_cast<float*>(p); }

// A fixed-M brgemm pair for `rows` rows; its memory objects have fixed
// descriptors and get their data handles per call.
struct SmallPair {
  int64_t rows = 0;
  dnnl::matmul first, second;
  memory x, hidden, y;
  memory scratch_first, scratch_second;
};

}  // namespace

struct DenseFf::Impl {
  DenseFfShape shape;
  DenseFfWeightsView weights;
  DenseFfOptions options;
  int n_threads = 1;
  int64_t chunk_rows = 0;     // most rows per chunk
  int64_t gemm_min_rows = 0;  // chunks of >= rows take the large path

  dnnl::engine engine;
  dnnl::stream stream;
  memory b1, b2;  // the caller's biases, [1, d]

  // Large path: runtime M and strides, the caller's weights.
  dnnl::matmul gemm_first, gemm_second;
  memory w1_plain, w2_plain;
  memory gemm_scratch_first, gemm_scratch_second;

  // Small path: ladder of fixed-M pairs (ascending rows) on repacked weights.
  std::vector<SmallPair> small;
  memory w1_small, w2_small;
  AlignedBuffer<char> w1_packed, w2_packed;  // empty when plain is preferred
  // plan_piece[r] for r in [1, small_max_rows]: index into `small` of the
  // first piece covering r rows; plan_piece[0] unused.
  std::vector<int32_t> plan_piece;
  std::string small_impl, gemm_impl;

  AlignedBuffer<float> hidden;   // hidden_rows x d_hidden
  AlignedBuffer<float> x_stage;  // stage_rows x d_in
  AlignedBuffer<float> y_stage;  // stage_rows x d_out
  AlignedBuffer<char> scratchpad_storage;
  char* scratchpad = nullptr;  // aligned to kScratchpadAlignment

  Status Plan();
  void RunGemm(const float* x, int64_t x_stride, float* y, int64_t y_stride,
               int64_t m);
  void RunSmall(const float* x, int64_t x_stride, float* y, int64_t y_stride,
                int64_t m);
};

namespace {

// Creates the fixed-M brgemm pair for `rows` rows with weights in the given
// descriptors (tag::any allowed) and the given attributes.
SmallPair MakeSmallPair(const dnnl::engine& engine, const DenseFfShape& s,
                        int64_t rows, const memory::desc& w1_md,
                        const memory::desc& w2_md,
                        const dnnl::primitive_attr& attr_first,
                        const dnnl::primitive_attr& attr_second,
                        dnnl::matmul::primitive_desc* pd_first_out,
                        dnnl::matmul::primitive_desc* pd_second_out) {
  const memory::desc x_md({rows, s.d_in}, Dt::f32, Tag::ab);
  const memory::desc h_md({rows, s.d_hidden}, Dt::f32, Tag::ab);
  const memory::desc y_md({rows, s.d_out}, Dt::f32, Tag::ab);
  const memory::desc b1_md({1, s.d_hidden}, Dt::f32, Tag::ab);
  const memory::desc b2_md({1, s.d_out}, Dt::f32, Tag::ab);
  dnnl::matmul::primitive_desc pd1(dnnl::matmul::desc(x_md, w1_md, b1_md, h_md),
                                   attr_first, engine);
  dnnl::matmul::primitive_desc pd2(dnnl::matmul::desc(h_md, w2_md, b2_md, y_md),
                                   attr_second, engine);
  SmallPair p;
  p.rows = rows;
  p.first = dnnl::matmul(pd1);
  p.second = dnnl::matmul(pd2);
  p.x = memory(x_md, engine, DNNL_MEMORY_NONE);
  p.hidden = memory(h_md, engine, DNNL_MEMORY_NONE);
  p.y = memory(y_md, engine, DNNL_MEMORY_NONE);
  *pd_first_out = pd1;
  *pd_second_out = pd2;
  return p;
}

}  // namespace

Status DenseFf::Impl::Plan() {
  const DenseFfShape& s = shape;
  engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
  stream = dnnl::stream(engine);

  chunk_rows = options.chunk_rows > 0
                   ? options.chunk_rows
                   : std::clamp<int64_t>(kHiddenBudgetElements / s.d_hidden, 1,
                                         kMaxChunkRows);
  gemm_min_rows =
      options.gemm_min_rows >= 0
          ? std::min(options.gemm_min_rows, chunk_rows + 1)
          : std::min(chunk_rows, n_threads == 1 ? kGemmMinRowsOneThread
                                                : kGemmMinRowsMultiThread);
  const int64_t small_max_rows = gemm_min_rows - 1;

  dnnl::post_ops gelu;
  gelu.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
  dnnl::primitive_attr attr_first;
  attr_first.set_post_ops(gelu);
  attr_first.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::primitive_attr attr_second;
  attr_second.set_scratchpad_mode(dnnl::scratchpad_mode::user);

  // The caller's weights as matmul weights [K, N]: W [N, K] row-major = ba.
  const memory::desc w1_user_md({s.d_in, s.d_hidden}, Dt::f32, Tag::ba);
  const memory::desc w2_user_md({s.d_hidden, s.d_out}, Dt::f32, Tag::ba);
  w1_plain = memory(w1_user_md, engine, Mutable(weights.w1.data()));
  w2_plain = memory(w2_user_md, engine, Mutable(weights.w2.data()));
  b1 = memory({{1, s.d_hidden}, Dt::f32, Tag::ab}, engine,
              Mutable(weights.b1.data()));
  b2 = memory({{1, s.d_out}, Dt::f32, Tag::ab}, engine,
              Mutable(weights.b2.data()));

  size_t scratch_bytes = 0;
  auto note_scratch = [&scratch_bytes](const dnnl::matmul::primitive_desc& pd) {
    scratch_bytes = std::max(scratch_bytes, pd.scratchpad_desc().get_size());
  };

  // Large path.
  constexpr int64_t kRt = DNNL_RUNTIME_DIM_VAL;
  const memory::desc x_rt({kRt, s.d_in}, Dt::f32, Dims{kRt, 1});
  const memory::desc h_rt({kRt, s.d_hidden}, Dt::f32, Dims{s.d_hidden, 1});
  const memory::desc y_rt({kRt, s.d_out}, Dt::f32, Dims{kRt, 1});
  dnnl::matmul::primitive_desc gemm_pd1(
      dnnl::matmul::desc(x_rt, w1_user_md, b1.get_desc(), h_rt), attr_first,
      engine);
  dnnl::matmul::primitive_desc gemm_pd2(
      dnnl::matmul::desc(h_rt, w2_user_md, b2.get_desc(), y_rt), attr_second,
      engine);
  gemm_first = dnnl::matmul(gemm_pd1);
  gemm_second = dnnl::matmul(gemm_pd2);
  note_scratch(gemm_pd1);
  note_scratch(gemm_pd2);
  gemm_impl =
      fmt::format("{}/{}", gemm_pd1.impl_info_str(), gemm_pd2.impl_info_str());

  // Small path: the layout the largest piece prefers, shared by all pieces;
  // the caller's plain layout if some piece cannot take it.
  std::vector<int64_t> ladder;
  if (small_max_rows >= 1) ladder = RowLadder(small_max_rows);
  std::vector<dnnl::matmul::primitive_desc> pds;
  memory::desc w1_md = w1_user_md;
  memory::desc w2_md = w2_user_md;
  auto make_all = [&](const memory::desc& w1_want,
                      const memory::desc& w2_want) {
    small.clear();
    pds.clear();
    for (auto it = ladder.rbegin(); it != ladder.rend(); ++it) {
      dnnl::matmul::primitive_desc pd1, pd2;
      small.push_back(MakeSmallPair(engine, s, *it, w1_want, w2_want,
                                    attr_first, attr_second, &pd1, &pd2));
      pds.push_back(pd1);
      pds.push_back(pd2);
      if (it == ladder.rbegin()) {  // fix "any" to the largest's choice
        w1_md = pd1.weights_desc();
        w2_md = pd2.weights_desc();
      } else if (pd1.weights_desc() != w1_md || pd2.weights_desc() != w2_md) {
        return false;
      }
    }
    return true;
  };
  if (!ladder.empty()) {
    bool blocked_ok = false;
    try {
      blocked_ok =
          make_all(memory::desc({s.d_in, s.d_hidden}, Dt::f32, Tag::any),
                   memory::desc({s.d_hidden, s.d_out}, Dt::f32, Tag::any));
    } catch (const dnnl::error& e) {
      if (e.status != dnnl_unimplemented) throw;
    }
    if (!blocked_ok) {
      FFF_LOG(kDebug,
              "dense FF: no common repacked weight layout, using the "
              "caller's");
      w1_md = w1_user_md;
      w2_md = w2_user_md;
      make_all(w1_user_md, w2_user_md);
    }
    std::reverse(small.begin(), small.end());
    for (const auto& pd : pds) note_scratch(pd);
    small_impl =
        fmt::format("{}/{}", pds[0].impl_info_str(), pds[1].impl_info_str());

    // Repack (once) when the preferred layout is not the caller's.
    auto repack = [&](memory user, const memory::desc& md,
                      AlignedBuffer<char>& storage, const char* what) {
      if (md == user.get_desc()) return std::make_pair(Status::Ok(), user);
      Status st = storage.Allocate(md.get_size(), what);
      if (!st.ok()) return std::make_pair(st, memory());
      memory packed(md, engine, storage.data());
      dnnl::reorder(user, packed).execute(stream, user, packed);
      return std::make_pair(Status::Ok(), packed);
    };
    auto [st1, m1] = repack(w1_plain, w1_md, w1_packed, "repacked w1");
    FFF_RETURN_IF_ERROR(st1);
    auto [st2, m2] = repack(w2_plain, w2_md, w2_packed, "repacked w2");
    FFF_RETURN_IF_ERROR(st2);
    stream.wait();
    w1_small = m1;
    w2_small = m2;

    // plan_piece by dynamic programme over the ladder (cost in rows).
    std::vector<int64_t> cost(static_cast<size_t>(small_max_rows) + 1, 0);
    plan_piece.assign(static_cast<size_t>(small_max_rows) + 1, 0);
    for (int64_t r = 1; r <= small_max_rows; ++r) {
      int64_t best = std::numeric_limits<int64_t>::max();
      for (size_t i = 0; i < small.size(); ++i) {
        const int64_t p = small[i].rows;
        const int64_t c = PieceCost(p) + (p < r ? cost[r - p] : 0);
        if (c < best) {
          best = c;
          plan_piece[r] = static_cast<int32_t>(i);
        }
      }
      cost[r] = best;
    }
  }

  // Buffers.
  const int64_t stage_rows = small.empty() ? 0 : small.back().rows;
  const int64_t hidden_rows = std::max(chunk_rows, stage_rows);
  FFF_RETURN_IF_ERROR(hidden.Allocate(
      static_cast<size_t>(hidden_rows * s.d_hidden), "dense FF hidden"));
  FFF_RETURN_IF_ERROR(x_stage.Allocate(static_cast<size_t>(stage_rows * s.d_in),
                                       "dense FF x staging"));
  FFF_RETURN_IF_ERROR(y_stage.Allocate(
      static_cast<size_t>(stage_rows * s.d_out), "dense FF y staging"));
  if (scratch_bytes > 0) {
    FFF_RETURN_IF_ERROR(scratchpad_storage.Allocate(
        scratch_bytes + kScratchpadAlignment, "oneDNN scratchpad"));
    const auto base = reinterpret_cast<uintptr_t>(scratchpad_storage.data());
    scratchpad =
        reinterpret_cast<char*>((base + kScratchpadAlignment - 1) /
                                kScratchpadAlignment * kScratchpadAlignment);
  }
  auto scratch_mem = [&](const dnnl::matmul::primitive_desc& pd) {
    return memory(pd.scratchpad_desc(), engine, scratchpad);
  };
  gemm_scratch_first = scratch_mem(gemm_pd1);
  gemm_scratch_second = scratch_mem(gemm_pd2);
  for (size_t i = 0; i < small.size(); ++i) {
    // pds were pushed largest first; small is ascending now.
    const size_t k = small.size() - 1 - i;
    small[i].scratch_first = scratch_mem(pds[2 * k]);
    small[i].scratch_second = scratch_mem(pds[2 * k + 1]);
    small[i].hidden.set_data_handle(hidden.data());
  }
  return Status::Ok();
}

void DenseFf::Impl::RunGemm(const float* x, int64_t x_stride, float* y,
                            int64_t y_stride, int64_t m) {
  const DenseFfShape& s = shape;
  memory xm({{m, s.d_in}, Dt::f32, Dims{x_stride, 1}}, engine, Mutable(x));
  memory hm({{m, s.d_hidden}, Dt::f32, Dims{s.d_hidden, 1}}, engine,
            hidden.data());
  memory ym({{m, s.d_out}, Dt::f32, Dims{y_stride, 1}}, engine, y);
  gemm_first.execute(stream, {{DNNL_ARG_SRC, xm},
                              {DNNL_ARG_WEIGHTS, w1_plain},
                              {DNNL_ARG_BIAS, b1},
                              {DNNL_ARG_DST, hm},
                              {DNNL_ARG_SCRATCHPAD, gemm_scratch_first}});
  gemm_second.execute(stream, {{DNNL_ARG_SRC, hm},
                               {DNNL_ARG_WEIGHTS, w2_plain},
                               {DNNL_ARG_BIAS, b2},
                               {DNNL_ARG_DST, ym},
                               {DNNL_ARG_SCRATCHPAD, gemm_scratch_second}});
}

void DenseFf::Impl::RunSmall(const float* x, int64_t x_stride, float* y,
                             int64_t y_stride, int64_t m) {
  const DenseFfShape& s = shape;
  while (m > 0) {
    const SmallPair& p = small[plan_piece[m]];
    const int64_t rows = std::min(p.rows, m);
    const bool dense = rows == 1 || (x_stride == s.d_in && y_stride == s.d_out);
    const bool direct = rows == p.rows && dense;
    if (direct) {
      p.x.set_data_handle(Mutable(x));
      p.y.set_data_handle(y);
    } else {  // through the staging buffers (padded and/or strided)
      for (int64_t r = 0; r < rows; ++r) {
        std::memcpy(x_stage.data() + r * s.d_in, x + r * x_stride,
                    sizeof(float) * s.d_in);
      }
      p.x.set_data_handle(x_stage.data());
      p.y.set_data_handle(y_stage.data());
    }
    p.first.execute(stream, {{DNNL_ARG_SRC, p.x},
                             {DNNL_ARG_WEIGHTS, w1_small},
                             {DNNL_ARG_BIAS, b1},
                             {DNNL_ARG_DST, p.hidden},
                             {DNNL_ARG_SCRATCHPAD, p.scratch_first}});
    p.second.execute(stream, {{DNNL_ARG_SRC, p.hidden},
                              {DNNL_ARG_WEIGHTS, w2_small},
                              {DNNL_ARG_BIAS, b2},
                              {DNNL_ARG_DST, p.y},
                              {DNNL_ARG_SCRATCHPAD, p.scratch_second}});
    if (!direct) {
      stream.wait();
      for (int64_t r = 0; r < rows; ++r) {
        std::memcpy(y + r * y_stride, y_stage.data() + r * s.d_out,
                    sizeof(float) * s.d_out);
      }
    }
    x += rows * x_stride;
    y += rows * y_stride;
    m -= rows;
  }
}

DenseFf::DenseFf(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DenseFf::DenseFf(DenseFf&&) noexcept = default;
DenseFf& DenseFf::operator=(DenseFf&&) noexcept = default;
DenseFf::~DenseFf() = default;

Result<DenseFf> DenseFf::Create(const DenseFfShape& shape,
                                const DenseFfWeightsView& weights,
                                const DenseFfOptions& options) {
  FFF_RETURN_IF_ERROR(ValidateShape(shape));
  const DenseFfShape& s = shape;
  FFF_RETURN_IF_ERROR(ValidateSpan(weights.w1, "weights.w1",
                                   s.d_hidden * s.d_in, "d_hidden x d_in"));
  FFF_RETURN_IF_ERROR(
      ValidateSpan(weights.b1, "weights.b1", s.d_hidden, "d_hidden"));
  FFF_RETURN_IF_ERROR(ValidateSpan(weights.w2, "weights.w2",
                                   s.d_out * s.d_hidden, "d_out x d_hidden"));
  FFF_RETURN_IF_ERROR(ValidateSpan(weights.b2, "weights.b2", s.d_out, "d_out"));
  if (options.n_threads < 0 || options.n_threads > kMaxThreads) {
    return InvalidArgumentError(fmt::format(
        "fff: n_threads: expected 0..{} (0 = OpenMP maximum), got {}",
        kMaxThreads, options.n_threads));
  }
  if (options.chunk_rows < 0 || options.chunk_rows > kMaxChunkRowsOption) {
    return InvalidArgumentError(
        fmt::format("fff: chunk_rows: expected 0..{} (0 = automatic), got {}",
                    kMaxChunkRowsOption, options.chunk_rows));
  }
  if (options.gemm_min_rows < -1) {
    return InvalidArgumentError(fmt::format(
        "fff: gemm_min_rows: expected >= -1 (-1 = automatic), got {}",
        options.gemm_min_rows));
  }
  const int64_t chunk_rows =
      options.chunk_rows > 0 ? options.chunk_rows : kMaxChunkRows;
  if (chunk_rows > std::numeric_limits<int64_t>::max() / 4 / s.d_hidden) {
    return OutOfRangeError(fmt::format(
        "fff: chunk_rows x d_hidden: {} x {} overflows the hidden buffer",
        chunk_rows, s.d_hidden));
  }
  try {
    auto impl = std::make_unique<Impl>();
    impl->shape = shape;
    impl->weights = weights;
    impl->options = options;
    impl->n_threads =
        std::min(ResolveThreadCount(options.n_threads), kMaxThreads);
    // oneDNN sizes per-thread scratchpads by the thread count at creation.
    OmpThreadsScope threads(impl->n_threads);
    FFF_RETURN_IF_ERROR(impl->Plan());
    FFF_LOG(kDebug,
            "dense FF d_in={} d_hidden={} d_out={}: {} threads, chunks of <= "
            "{} rows, {} from {} rows, else {} ({} piece sizes, weights {})",
            s.d_in, s.d_hidden, s.d_out, impl->n_threads, impl->chunk_rows,
            impl->gemm_impl, impl->gemm_min_rows, impl->small_impl,
            impl->small.size(),
            impl->w1_packed.size() > 0 ? "repacked" : "viewed");
    return DenseFf(std::move(impl));
  } catch (const dnnl::error& e) {
    return FromDnnlError(e, "planning the dense FF");
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError(
        "fff: dense FF: out of memory while planning");
  } catch (const std::exception& e) {
    return InternalError(fmt::format("fff: dense FF planning: {}", e.what()));
  }
}

const DenseFfShape& DenseFf::shape() const { return impl_->shape; }
int DenseFf::n_threads() const { return impl_->n_threads; }

Status DenseFf::Forward(MatrixView<const float> x, MatrixView<float> y) {
  Impl& im = *impl_;
  const DenseFfShape& s = im.shape;
  FFF_RETURN_IF_ERROR(ValidateMatrix(x, "x", s.d_in, "d_in"));
  FFF_RETURN_IF_ERROR(ValidateMatrix(y, "y", s.d_out, "d_out"));
  if (y.rows != x.rows) {
    return InvalidArgumentError(
        fmt::format("fff: y: expected {} rows (as x), got {}", x.rows, y.rows));
  }
  const size_t y_bytes =
      static_cast<size_t>(y.ExtentElements()) * sizeof(float);
  if (Overlaps(x.data, static_cast<size_t>(x.ExtentElements()) * sizeof(float),
               y.data, y_bytes)) {
    return InvalidArgumentError("fff: x and y overlap");
  }
  const std::pair<const char*, std::span<const float>> weights[] = {
      {"weights.w1", im.weights.w1},
      {"weights.b1", im.weights.b1},
      {"weights.w2", im.weights.w2},
      {"weights.b2", im.weights.b2}};
  for (const auto& [name, w] : weights) {
    if (Overlaps(w.data(), w.size_bytes(), y.data, y_bytes)) {
      return InvalidArgumentError(fmt::format("fff: y and {} overlap", name));
    }
  }
  const int64_t n_rows = x.rows;
  if (n_rows == 0) return Status::Ok();

  try {
    OmpThreadsScope threads(im.n_threads);
    const int64_t n_chunks = (n_rows + im.chunk_rows - 1) / im.chunk_rows;
    const int64_t base = n_rows / n_chunks;
    const int64_t extra = n_rows % n_chunks;  // the first `extra` get +1
    int64_t r0 = 0;
    for (int64_t c = 0; c < n_chunks; ++c) {
      const int64_t m = base + (c < extra ? 1 : 0);
      const float* xc = x.Row(r0);
      float* yc = y.Row(r0);
      if (m >= im.gemm_min_rows) {
        im.RunGemm(xc, x.stride, yc, y.stride, m);
      } else {
        im.RunSmall(xc, x.stride, yc, y.stride, m);
      }
      r0 += m;
    }
    im.stream.wait();
  } catch (const dnnl::error& e) {
    return FromDnnlError(e, "running the dense FF");
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("fff: dense FF: out of memory in oneDNN");
  } catch (const std::exception& e) {
    return InternalError(fmt::format("fff: dense FF: {}", e.what()));
  }
  return Status::Ok();
}

}  // namespace fff
