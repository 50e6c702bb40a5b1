// Linear (src/kernels/linear.h) on a fixed-M oneDNN matmul per block.
#include "src/kernels/linear.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <dnnl.hpp>
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

// 32 rows: measured (docs/model.md) within a few percent of 64 for the
// encoder's shapes while wasting less on short inputs.
constexpr int64_t kDefaultBlockRows = 32;
constexpr int kMaxThreads = 1024;
constexpr size_t kScratchpadAlignment = 64;

// Per-thread execution state: oneDNN memory objects are not safe to
// re-point from two threads, and a user scratchpad must not be shared.
struct ThreadState {
  dnnl::stream stream;
  memory x, y, scratch;
  AlignedBuffer<float> x_stage, y_stage;
  AlignedBuffer<char> scratch_storage;
};

}  // namespace

struct Linear::Impl {
  int64_t d_in = 0, d_out = 0, block_rows = 0;
  std::string name, impl_name;
  dnnl::engine engine;
  dnnl::matmul matmul;
  memory w, b;  // repacked weights, bias (empty when none)
  AlignedBuffer<char> w_storage;
  AlignedBuffer<float> b_storage;
  mutable std::vector<ThreadState> threads;

  void RunBlock(ThreadState& t, const float* x, float* y, int64_t rows) const;
};

Linear::Linear(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Linear::Linear(Linear&&) noexcept = default;
Linear& Linear::operator=(Linear&&) noexcept = default;
Linear::~Linear() = default;
int64_t Linear::d_in() const { return impl_->d_in; }
int64_t Linear::d_out() const { return impl_->d_out; }
int64_t Linear::block_rows() const { return impl_->block_rows; }
const std::string& Linear::impl_name() const { return impl_->impl_name; }

Result<Linear> Linear::Create(int64_t d_in, int64_t d_out,
                              std::span<const float> w,
                              std::span<const float> b,
                              const LinearOptions& options, std::string name) {
  if (d_in < 1 || d_out < 1 || d_in > (int64_t{1} << 24) ||
      d_out > (int64_t{1} << 24)) {
    return InvalidArgumentError(
        fmt::format("fff: {}: expected 1 <= d_in, d_out <= 2^24, got d_in {} "
                    "d_out {}",
                    name, d_in, d_out));
  }
  if (static_cast<int64_t>(w.size()) != d_in * d_out) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: weight: expected {} x {} = {} elements, got {}", name, d_out,
        d_in, d_in * d_out, w.size()));
  }
  if (!b.empty() && static_cast<int64_t>(b.size()) != d_out) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: bias: expected {} elements, got {}", name, d_out, b.size()));
  }
  if (options.n_threads < 1 || options.n_threads > kMaxThreads) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: n_threads: expected 1..{}, got {}", name, kMaxThreads,
        options.n_threads));
  }
  if (options.block_rows < 0 || options.block_rows > 4096) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: block_rows: expected 0..4096, got {}", name,
        options.block_rows));
  }
  auto impl = std::make_unique<Impl>();
  Impl& im = *impl;
  im.d_in = d_in;
  im.d_out = d_out;
  im.block_rows = options.block_rows > 0 ? options.block_rows
                                         : kDefaultBlockRows;
  im.name = std::move(name);
  try {
    im.engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
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
    const memory::desc x_md({m, d_in}, Dt::f32, Tag::ab);
    const memory::desc y_md({m, d_out}, Dt::f32, Tag::ab);
    const memory::desc w_any({d_in, d_out}, Dt::f32, Tag::any);
    const memory::desc w_user({d_in, d_out}, Dt::f32, Tag::ba);
    memory::desc b_md;
    if (!b.empty()) b_md = memory::desc({1, d_out}, Dt::f32, Tag::ab);
    dnnl::matmul::primitive_desc pd(
        dnnl::matmul::desc(x_md, w_any, b_md, y_md), attr, im.engine);
    im.matmul = dnnl::matmul(pd);
    im.impl_name = pd.impl_info_str();

    // Repack the weights once into the layout the primitive chose.
    dnnl::stream stream(im.engine);
    FFF_RETURN_IF_ERROR(
        im.w_storage.Allocate(pd.weights_desc().get_size(), "linear weights"));
    im.w = memory(pd.weights_desc(), im.engine, im.w_storage.data());
    memory user(w_user, im.engine, const_cast<float*>(w.data()));
    dnnl::reorder(user, im.w).execute(stream, user, im.w);
    stream.wait();
    if (!b.empty()) {
      FFF_RETURN_IF_ERROR(im.b_storage.Allocate(b.size(), "linear bias"));
      std::memcpy(im.b_storage.data(), b.data(), b.size() * sizeof(float));
      im.b = memory(b_md, im.engine, im.b_storage.data());
    }

    const size_t scratch_bytes = pd.scratchpad_desc().get_size();
    im.threads.resize(static_cast<size_t>(options.n_threads));
    for (ThreadState& t : im.threads) {
      t.stream = dnnl::stream(im.engine);
      FFF_RETURN_IF_ERROR(t.x_stage.Allocate(
          static_cast<size_t>(m * d_in), "linear input staging"));
      FFF_RETURN_IF_ERROR(t.y_stage.Allocate(
          static_cast<size_t>(m * d_out), "linear output staging"));
      FFF_RETURN_IF_ERROR(t.scratch_storage.Allocate(
          scratch_bytes + kScratchpadAlignment, "linear scratchpad"));
      t.x = memory(x_md, im.engine, DNNL_MEMORY_NONE);
      t.y = memory(y_md, im.engine, DNNL_MEMORY_NONE);
      t.scratch = memory(pd.scratchpad_desc(), im.engine,
                         t.scratch_storage.data());
    }
  } catch (const dnnl::error& e) {
    return InternalError(fmt::format("fff: {}: oneDNN: {} (status {})",
                                      im.name, e.what(),
                                      static_cast<int>(e.status)));
  }
  FFF_LOG(kDebug, "{}: linear {} -> {}, blocks of {} rows, {}", im.name, d_in,
          d_out, im.block_rows, im.impl_name);
  return Linear(std::move(impl));
}

void Linear::Impl::RunBlock(ThreadState& t, const float* x, float* y,
                            int64_t rows) const {
  const bool padded = rows < block_rows;
  if (padded) {
    std::memcpy(t.x_stage.data(), x,
                static_cast<size_t>(rows * d_in) * sizeof(float));
    t.x.set_data_handle(t.x_stage.data());
    t.y.set_data_handle(t.y_stage.data());
  } else {
    t.x.set_data_handle(const_cast<float*>(x));
    t.y.set_data_handle(y);
  }
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, t.x},
                                          {DNNL_ARG_WEIGHTS, w},
                                          {DNNL_ARG_DST, t.y},
                                          {DNNL_ARG_SCRATCHPAD, t.scratch}};
  if (b) args.emplace(DNNL_ARG_BIAS, b);
  matmul.execute(t.stream, args);
  t.stream.wait();
  if (padded) {
    std::memcpy(y, t.y_stage.data(),
                static_cast<size_t>(rows * d_out) * sizeof(float));
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
  if ((x.rows > 1 && x.stride != x.cols) || (y.rows > 1 && y.stride != y.cols)) {
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
  const int threads = std::clamp(n_threads, 1,
                                 static_cast<int>(im.threads.size()));
  const int64_t n_blocks = (x.rows + im.block_rows - 1) / im.block_rows;
  std::atomic<bool> failed{false};
  ParallelFor(n_blocks, threads, [&](int64_t blk) {
    const int64_t r0 = blk * im.block_rows;
    const int64_t rows = std::min(im.block_rows, x.rows - r0);
    ThreadState& t = im.threads[static_cast<size_t>(CurrentThreadIndex())];
    try {
      im.RunBlock(t, x.data + r0 * im.d_in, y.data + r0 * im.d_out, rows);
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
