// CUDA kernels of the fff torch operators (fff_torch.h): fff_forward and
// fff_backward for tensors on a CUDA device, through src/cuda. Registered
// for the CUDA dispatch key, so FffFunction's autograd (and fff-train with
// --device cuda) runs the conditional GPU kernels with no other change.
//
// float32 only (float64 — the gradcheck path — runs on the CPU); x in a
// reduced precision (bf16 / fp16 under autocast) is computed in float32
// like the weights. Gradients come back float32.
//
// Stream: the kernels are enqueued on the device's default stream, which
// is PyTorch's current stream unless the caller set another one; a
// non-default current stream is an error rather than a silent race (this
// file uses c10's device-generic stream API so that it also compiles
// against libtorch builds without CUDA, as in CI).
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/library.h>

#include <cstdint>
#include <tuple>

#include "fff/fff.h"
#include "src/cuda/fff_cuda.h"
#include "src/torch/fff_ops_internal.h"

namespace fff::torch_ext {
namespace {

cudaStream_t CurrentStream(const at::Tensor& t) {
  const c10::Stream s = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)
                            ->getStream(t.device());
  TORCH_CHECK(s.id() == 0, "fff (CUDA): expected PyTorch's default stream on ",
              t.device(), ", got stream ", s.id(),
              "; run the op on the default stream");
  return nullptr;  // the legacy default stream (PyTorch's default)
}

at::Tensor AsFloat(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat ? t : t.to(at::kFloat);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> ForwardCuda(
    const at::Tensor& x_in, const at::Tensor& w_in_in,
    const at::Tensor& b_in_in, const at::Tensor& w_out_in, int64_t n_trees) {
  const at::Tensor x_f = AsFloat(x_in);
  const Dims d = CheckArgs(x_f, w_in_in, b_in_in, w_out_in, n_trees);
  TORCH_CHECK(x_f.scalar_type() == at::kFloat,
              "fff (CUDA): expected float32 weights, got ",
              w_in_in.scalar_type(), " (float64 runs on the CPU)");
  const c10::DeviceGuard guard(x_in.device());
  const FffShape& s = d.shape;
  const at::Tensor x = x_f.reshape({d.n_rows, s.d_in}).contiguous();
  const Weights w = KernelLayout(w_in_in, b_in_in, w_out_in);
  auto [y, nodes, logits] = EmptyForwardOutputs(d, x);
  CheckStatus(cuda::FffForward<float>(
      s,
      {w.w_in.data_ptr<float>(), w.b_in.data_ptr<float>(),
       w.w_out.data_ptr<float>()},
      x.data_ptr<float>(), d.n_rows, y.data_ptr<float>(),
      nodes.data_ptr<int32_t>(), logits.data_ptr<float>(), CurrentStream(x)));
  return {y.reshape(OutShape(x_in, s.d_out)), nodes, logits};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> BackwardCuda(
    const at::Tensor& dy_in, const at::Tensor& x_in, const at::Tensor& w_in_in,
    const at::Tensor& b_in_in, const at::Tensor& w_out_in,
    const at::Tensor& nodes_in, const at::Tensor& logits_in, int64_t n_trees) {
  const at::Tensor x_f = AsFloat(x_in);
  const Dims d = CheckArgs(x_f, w_in_in, b_in_in, w_out_in, n_trees);
  const FffShape& s = d.shape;
  TORCH_CHECK(x_f.scalar_type() == at::kFloat,
              "fff (CUDA): expected float32 weights, got ",
              w_in_in.scalar_type(), " (float64 runs on the CPU)");
  const at::Tensor dy_f = AsFloat(dy_in);
  CheckBackwardArgs(dy_f, nodes_in, logits_in, x_f, d);
  const c10::DeviceGuard guard(x_in.device());
  const at::Tensor x = x_f.reshape({d.n_rows, s.d_in}).contiguous();
  const at::Tensor dy = dy_f.reshape({d.n_rows, s.d_out}).contiguous();
  const at::Tensor nodes = nodes_in.contiguous();
  const at::Tensor logits = logits_in.contiguous();
  const Weights w = KernelLayout(w_in_in, b_in_in, w_out_in);
  const int64_t total = s.n_total_nodes();
  at::Tensor dx = at::empty({d.n_rows, s.d_in}, x.options());
  at::Tensor dw_in = at::empty({total, s.d_in}, x.options());
  at::Tensor db_in = at::empty({total}, x.options());
  at::Tensor dw_out = at::empty({total, s.d_out}, x.options());  // node-major
  const size_t ws_bytes = cuda::FffBackwardWorkspaceBytes(s, d.n_rows);
  TORCH_CHECK(ws_bytes > 0 || d.n_rows == 0,
              "fff (CUDA): cannot size the backward's workspace for ", d.n_rows,
              " rows");
  // PyTorch's caching allocator: blocks are at least 512-byte aligned.
  at::Tensor ws =
      at::empty({static_cast<int64_t>(ws_bytes)}, x.options().dtype(at::kByte));
  CheckStatus(cuda::FffBackward<float>(
      s,
      {w.w_in.data_ptr<float>(), w.b_in.data_ptr<float>(),
       w.w_out.data_ptr<float>()},
      x.data_ptr<float>(), dy.data_ptr<float>(), d.n_rows,
      nodes.data_ptr<int32_t>(), logits.data_ptr<float>(), dx.data_ptr<float>(),
      dw_in.data_ptr<float>(), db_in.data_ptr<float>(),
      dw_out.data_ptr<float>(), ws_bytes > 0 ? ws.data_ptr() : nullptr,
      ws_bytes, CurrentStream(x)));
  return {dx.reshape(x_in.sizes()), dw_in, db_in, dw_out.t()};
}

}  // namespace
}  // namespace fff::torch_ext

TORCH_LIBRARY_IMPL(fff, CUDA, m) {
  m.impl("fff_forward", &fff::torch_ext::ForwardCuda);
  m.impl("fff_backward", &fff::torch_ext::BackwardCuda);
}
