// Registration and CPU kernels of the fff torch operators (fff_torch.h).
// Errors are reported the torch way, with TORCH_CHECK (a c10::Error the
// caller or Python sees), naming the argument with expected vs got.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#include <cstdint>
#include <span>
#include <tuple>

#include "fff/fff.h"
#include "src/kernels/reference/fff_reference.h"
#include "src/torch/fff_ops_internal.h"
#include "src/torch/fff_torch.h"

namespace fff::torch_ext {

int64_t DepthOfNodes(int64_t n_nodes) {
  for (int64_t depth = 0; depth <= kFffMaxDepth; ++depth) {
    if ((int64_t{2} << depth) - 1 == n_nodes) return depth;
  }
  return -1;
}

// Shared with the CUDA kernels of the ops (fff_ops_internal.h).
Dims CheckArgs(const at::Tensor& x, const at::Tensor& w_in,
               const at::Tensor& b_in, const at::Tensor& w_out,
               int64_t n_trees) {
  TORCH_CHECK(x.dim() >= 1, "fff: x: expected at least 1 dimension, got 0");
  TORCH_CHECK(w_in.dim() == 2, "fff: w_in (linear_in.weight): expected 2 ",
              "dimensions [n_trees*n_nodes, d_in], got ", w_in.sizes());
  TORCH_CHECK(w_out.dim() == 2, "fff: w_out (linear_out.weight): expected 2 ",
              "dimensions [d_out, n_trees*n_nodes], got ", w_out.sizes());
  TORCH_CHECK(w_in.size(1) >= 1 && w_out.size(0) >= 1,
              "fff: expected d_in >= 1 and d_out >= 1, got linear_in.weight ",
              w_in.sizes(), " and linear_out.weight ", w_out.sizes());
  const int64_t total = w_in.size(0);
  TORCH_CHECK(n_trees >= 1 && total % n_trees == 0,
              "fff: n_trees: expected a divisor of linear_in.weight's ", total,
              " rows, got ", n_trees);
  const int64_t depth = DepthOfNodes(total / n_trees);
  TORCH_CHECK(depth >= 0, "fff: linear_in.weight: expected n_trees * (2^(",
              "depth+1) - 1) rows, got ", total, " for ", n_trees, " trees");
  TORCH_CHECK(b_in.dim() == 1 && b_in.size(0) == total,
              "fff: b_in (linear_in.bias): expected [", total, "], got ",
              b_in.sizes());
  TORCH_CHECK(w_out.size(1) == total,
              "fff: w_out (linear_out.weight): ", "expected ", total,
              " columns (n_trees*n_nodes), got ", w_out.size(1));
  TORCH_CHECK(x.size(-1) == w_in.size(1), "fff: x: expected last dimension ",
              w_in.size(1), " (d_in), got ", x.size(-1));
  const auto dtype = x.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble,
              "fff: x: expected float32 or float64, got ", dtype);
  for (const auto* t : {&w_in, &b_in, &w_out}) {
    TORCH_CHECK(t->scalar_type() == dtype, "fff: weights: expected ", dtype,
                " like x, got ", t->scalar_type());
    TORCH_CHECK(t->device() == x.device(), "fff: weights: expected device ",
                x.device(), " like x, got ", t->device());
  }
  Dims d;
  d.shape = FffShape{w_in.size(1), w_out.size(0), depth, n_trees};
  d.n_rows = x.numel() / d.shape.d_in;
  return d;
}

void CheckBackwardArgs(const at::Tensor& dy, const at::Tensor& nodes,
                       const at::Tensor& logits, const at::Tensor& x,
                       const Dims& d) {
  const FffShape& s = d.shape;
  TORCH_CHECK(dy.scalar_type() == x.scalar_type() &&
                  dy.numel() == d.n_rows * s.d_out && dy.size(-1) == s.d_out,
              "fff: dy: expected ", x.scalar_type(), " [", d.n_rows, ", ",
              s.d_out, "] (as y), got ", dy.scalar_type(), " ", dy.sizes());
  const int64_t nv = s.n_visited();
  TORCH_CHECK(nodes.scalar_type() == at::kInt && nodes.numel() == d.n_rows * nv,
              "fff: nodes: expected int32 with ", d.n_rows * nv,
              " elements (N x n_trees x (depth+1)), got ", nodes.scalar_type(),
              " ", nodes.sizes());
  TORCH_CHECK(logits.scalar_type() == x.scalar_type() &&
                  logits.numel() == d.n_rows * nv,
              "fff: logits: expected ", x.scalar_type(), " with ",
              d.n_rows * nv, " elements, got ", logits.scalar_type(), " ",
              logits.sizes());
  for (const at::Tensor* t : {&dy, &nodes, &logits}) {
    TORCH_CHECK(t->device() == x.device(), "fff: expected every tensor on ",
                x.device(), ", got one on ", t->device());
  }
}

void CheckStatus(const Status& st) { TORCH_CHECK(st.ok(), st.ToString()); }

Weights KernelLayout(const at::Tensor& w_in, const at::Tensor& b_in,
                     const at::Tensor& w_out) {
  return {w_in.contiguous(), b_in.contiguous(), w_out.t().contiguous()};
}

ForwardOutputs EmptyForwardOutputs(const Dims& d, const at::Tensor& x) {
  const FffShape& s = d.shape;
  return {at::empty({d.n_rows, s.d_out}, x.options()),
          at::empty({d.n_rows, s.n_trees, s.depth + 1},
                    x.options().dtype(at::kInt)),
          at::empty({d.n_rows, s.n_trees, s.depth + 1}, x.options())};
}

std::vector<int64_t> OutShape(const at::Tensor& x, int64_t last) {
  std::vector<int64_t> s(x.sizes().begin(), x.sizes().end());
  s.back() = last;
  return s;
}

namespace {

template <class T>
std::span<T> Span(const at::Tensor& t) {
  return {t.data_ptr<std::remove_const_t<T>>(), static_cast<size_t>(t.numel())};
}

// A planned float32 layer over those weights, on libtorch's thread count.
FffLayer MakeLayer(const FffShape& s, const Weights& w) {
  FffOptions opt;
  opt.n_threads = at::get_num_threads();
  Result<FffLayer> layer =
      FffLayer::Create(s,
                       {Span<const float>(w.w_in), Span<const float>(w.b_in),
                        Span<const float>(w.w_out)},
                       opt);
  CheckStatus(layer.status());
  return std::move(*layer);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> ForwardCpu(
    const at::Tensor& x_in, const at::Tensor& w_in_in,
    const at::Tensor& b_in_in, const at::Tensor& w_out_in, int64_t n_trees) {
  const Dims d = CheckArgs(x_in, w_in_in, b_in_in, w_out_in, n_trees);
  const FffShape& s = d.shape;
  const at::Tensor x = x_in.reshape({d.n_rows, s.d_in}).contiguous();
  const Weights w = KernelLayout(w_in_in, b_in_in, w_out_in);
  auto [y, nodes, logits] = EmptyForwardOutputs(d, x);
  if (x.scalar_type() == at::kDouble) {
    reference::FffForward<double>(
        s, w.w_in.data_ptr<double>(), w.b_in.data_ptr<double>(),
        w.w_out.data_ptr<double>(), x.data_ptr<double>(), s.d_in, d.n_rows,
        y.data_ptr<double>(), s.d_out, nodes.data_ptr<int32_t>(),
        logits.data_ptr<double>());
  } else {
    FffLayer layer = MakeLayer(s, w);
    CheckStatus(layer.Forward(
        MatrixView<const float>(Span<const float>(x), d.n_rows, s.d_in),
        MatrixView<float>(Span<float>(y), d.n_rows, s.d_out),
        {Span<int32_t>(nodes), Span<float>(logits)}));
  }
  return {y.reshape(OutShape(x_in, s.d_out)), nodes, logits};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> BackwardCpu(
    const at::Tensor& dy_in, const at::Tensor& x_in, const at::Tensor& w_in_in,
    const at::Tensor& b_in_in, const at::Tensor& w_out_in,
    const at::Tensor& nodes_in, const at::Tensor& logits_in, int64_t n_trees) {
  const Dims d = CheckArgs(x_in, w_in_in, b_in_in, w_out_in, n_trees);
  const FffShape& s = d.shape;
  CheckBackwardArgs(dy_in, nodes_in, logits_in, x_in, d);
  const at::Tensor x = x_in.reshape({d.n_rows, s.d_in}).contiguous();
  const at::Tensor dy = dy_in.reshape({d.n_rows, s.d_out}).contiguous();
  const Weights w = KernelLayout(w_in_in, b_in_in, w_out_in);
  const at::Tensor nodes = nodes_in.contiguous();
  const at::Tensor logits = logits_in.contiguous();
  const int64_t total = s.n_total_nodes();
  at::Tensor dx = at::empty({d.n_rows, s.d_in}, x.options());
  at::Tensor dw_in = at::zeros({total, s.d_in}, x.options());
  at::Tensor db_in = at::zeros({total}, x.options());
  at::Tensor dw_out = at::zeros({total, s.d_out}, x.options());  // node-major
  if (x.scalar_type() == at::kDouble) {
    reference::FffBackward<double>(
        s, w.w_in.data_ptr<double>(), w.w_out.data_ptr<double>(),
        x.data_ptr<double>(), s.d_in, dy.data_ptr<double>(), s.d_out, d.n_rows,
        nodes.data_ptr<int32_t>(), logits.data_ptr<double>(),
        dx.data_ptr<double>(), s.d_in, dw_in.data_ptr<double>(),
        db_in.data_ptr<double>(), dw_out.data_ptr<double>());
  } else {
    FffLayer layer = MakeLayer(s, w);
    CheckStatus(layer.Backward(
        MatrixView<const float>(Span<const float>(x), d.n_rows, s.d_in),
        MatrixView<const float>(Span<const float>(dy), d.n_rows, s.d_out),
        {Span<const int32_t>(nodes), Span<const float>(logits)},
        {MatrixView<float>(Span<float>(dx), d.n_rows, s.d_in),
         Span<float>(dw_in), Span<float>(db_in), Span<float>(dw_out)}));
  }
  return {dx.reshape(x_in.sizes()), dw_in, db_in, dw_out.t()};
}

// Autograd: the forward saves the routing; the backward replays it.
struct FffFunction : torch::autograd::Function<FffFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx,
                            const at::Tensor& x, const at::Tensor& w_in,
                            const at::Tensor& b_in, const at::Tensor& w_out,
                            int64_t n_trees) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("fff::fff_forward", "")
                         .typed<decltype(ForwardCpu)>();
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [y, nodes, logits] = op.call(x, w_in, b_in, w_out, n_trees);
    ctx->save_for_backward({x, w_in, b_in, w_out, nodes, logits});
    ctx->saved_data["n_trees"] = n_trees;
    return y;
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grad_outputs) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("fff::fff_backward", "")
                         .typed<decltype(BackwardCpu)>();
    const auto saved = ctx->get_saved_variables();
    auto [dx, dw_in, db_in, dw_out] =
        op.call(grad_outputs[0], saved[0], saved[1], saved[2], saved[3],
                saved[4], saved[5], ctx->saved_data["n_trees"].toInt());
    return {dx, dw_in, db_in, dw_out, at::Tensor()};
  }
};

at::Tensor FffComposite(const at::Tensor& x, const at::Tensor& w_in,
                        const at::Tensor& b_in, const at::Tensor& w_out,
                        int64_t n_trees) {
  return FffFunction::apply(x, w_in, b_in, w_out, n_trees);
}

}  // namespace

at::Tensor Fff(const at::Tensor& x, const at::Tensor& w_in,
               const at::Tensor& b_in, const at::Tensor& w_out,
               int64_t n_trees) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fff::fff", "")
                       .typed<decltype(FffComposite)>();
  return op.call(x, w_in, b_in, w_out, n_trees);
}

}  // namespace fff::torch_ext

TORCH_LIBRARY(fff, m) {
  m.def(
      "fff_forward(Tensor x, Tensor w_in, Tensor b_in, Tensor w_out, "
      "int n_trees) -> (Tensor, Tensor, Tensor)");
  m.def(
      "fff_backward(Tensor dy, Tensor x, Tensor w_in, Tensor b_in, "
      "Tensor w_out, Tensor nodes, Tensor logits, int n_trees) -> "
      "(Tensor, Tensor, Tensor, Tensor)");
  m.def(
      "fff(Tensor x, Tensor w_in, Tensor b_in, Tensor w_out, int n_trees) "
      "-> Tensor");
}

TORCH_LIBRARY_IMPL(fff, CPU, m) {
  m.impl("fff_forward", &fff::torch_ext::ForwardCpu);
  m.impl("fff_backward", &fff::torch_ext::BackwardCpu);
}

TORCH_LIBRARY_IMPL(fff, CompositeImplicitAutograd, m) {
  m.impl("fff", &fff::torch_ext::FffComposite);
}
