// fff-cuda-bench's correctness checks (checks.cuh).
#include "tools/bench/cuda/checks.cuh"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "fff/fff.h"
#include "src/cuda/fff_cuda.h"
#include "tools/bench/cuda/bench_util.cuh"
#include "tools/bench/cuda/config.h"
#include "tools/bench/cuda/inputs.cuh"
#include "tools/bench/cuda/reference.h"
#include "tools/bench/cuda/report.h"

namespace fff::cuda_bench {
namespace {

// flags[t*n_nodes + node] = 1 for every routing entry; entries out of range
// set flags[n_total] instead (a routing bug the caller reports).
__global__ void MarkVisitedKernel(const int32_t* nodes, int64_t n_entries,
                                  int n_trees, int levels, int64_t n_nodes,
                                  uint8_t* flags) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
       i < n_entries; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t t = (i / levels) % n_trees;
    const int32_t node = nodes[i];
    if (node < 0 || node >= n_nodes) {
      flags[n_trees * n_nodes] = 1;
    } else {
      flags[t * n_nodes + node] = 1;
    }
  }
}

template <class T>
HostWeights WeightsToHost(const FffWeightSet& w, int64_t n_total) {
  const size_t n = static_cast<size_t>(n_total * kDModel);
  const fff::cuda::FffDeviceWeights<T> dw = DeviceWeights<T>(w);
  HostWeights h;
  h.w_in = ToHostFloat<T>(dw.w_in, n);
  h.w_out = ToHostFloat<T>(dw.w_out, n);
  h.b_in = CopyToHost<float>(w.b_in.get(), static_cast<size_t>(n_total));
  return h;
}

}  // namespace

template <class T>
int64_t CheckForward(Ctx& ctx, const fff::FffShape& shape,
                     const FffWeightSet& w, const TokenInputs& in,
                     const std::string& label, HostShape* host) {
  const int64_t n_rows = in.n_rows;
  const int64_t rows = std::min<int64_t>(n_rows, g_opt.check_rows);
  const int64_t n_visited = shape.n_visited();
  const int64_t n_total = shape.n_total_nodes();
  const bool fp32 = std::is_same_v<T, float>;
  const double tol_y = fp32 ? 1e-5 : 1e-2;
  const double tol_z = fp32 ? 1e-5 : 1e-3;
  const std::string name =
      std::string("forward ") + TypeName<T>() + " " + label;
  DevBuf y_trace(static_cast<size_t>(n_rows * kDModel) * sizeof(T));
  DevBuf y_plain(static_cast<size_t>(n_rows * kDModel) * sizeof(T));
  DevBuf nodes(static_cast<size_t>(n_rows * n_visited) * 4);
  DevBuf logits(static_cast<size_t>(n_rows * n_visited) * 4);
  CUDA_CHECK(cudaMemsetAsync(y_trace.get(), 0xff, y_trace.bytes(), ctx.stream));
  CUDA_CHECK(cudaMemsetAsync(y_plain.get(), 0xff, y_plain.bytes(), ctx.stream));
  CUDA_CHECK(cudaMemsetAsync(nodes.get(), 0xff, nodes.bytes(), ctx.stream));
  CUDA_CHECK(cudaMemsetAsync(logits.get(), 0xff, logits.bytes(), ctx.stream));
  const fff::cuda::FffDeviceWeights<T> dw = DeviceWeights<T>(w);
  const T* x = Rows<T>(fp32 ? in.x32 : in.x16, 0);
  std::string err = StatusText(fff::cuda::FffForward<T>(
      shape, dw, x, n_rows, y_trace.as<T>(), nodes.as<int32_t>(),
      logits.as<float>(), ctx.stream));
  if (err.empty()) {
    err = StatusText(fff::cuda::FffForward<T>(
        shape, dw, x, n_rows, y_plain.as<T>(), nullptr, nullptr, ctx.stream));
  }
  CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  if (!err.empty()) {
    AddCheck({name, NAN, tol_y, false, fp32, "FffForward returned: " + err});
    return -1;
  }
  int64_t distinct = -1;
  if (fp32) {
    DevBuf flags(static_cast<size_t>(n_total) + 1);
    CUDA_CHECK(cudaMemsetAsync(flags.get(), 0, flags.bytes(), ctx.stream));
    const int64_t entries = n_rows * n_visited;
    MarkVisitedKernel<<<GridFor(entries), 256, 0, ctx.stream>>>(
        nodes.as<int32_t>(), entries, static_cast<int>(shape.n_trees),
        static_cast<int>(shape.depth + 1), shape.n_nodes(),
        flags.as<uint8_t>());
    CUDA_CHECK(cudaGetLastError());
    const std::vector<uint8_t> f =
        CopyToHost<uint8_t>(flags.get(), flags.bytes());
    distinct = 0;
    for (int64_t g = 0; g < n_total; ++g) distinct += f[g];
    if (f[n_total] != 0) {
      AddCheck({name + " routing nodes in range", 1, 0, false, true,
                "a recorded node lies outside its tree"});
    }
  }
  const HostWeights hw = WeightsToHost<T>(w, n_total);
  const std::vector<float> hx =
      ToHostFloat<T>(x, static_cast<size_t>(rows * kDModel));
  const std::vector<float> yt =
      ToHostFloat<T>(y_trace.get(), static_cast<size_t>(rows * kDModel));
  const std::vector<float> yp =
      ToHostFloat<T>(y_plain.get(), static_cast<size_t>(rows * kDModel));
  const std::vector<int32_t> hn =
      CopyToHost<int32_t>(nodes.get(), static_cast<size_t>(rows * n_visited));
  const std::vector<float> hz =
      CopyToHost<float>(logits.get(), static_cast<size_t>(rows * n_visited));
  std::vector<double> ref_y, ref_z;
  int ties = 0, mismatches = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const RefRow ref =
        ReferenceRow(shape, hw, &hx[r * kDModel], &hn[r * n_visited]);
    ref_y.insert(ref_y.end(), ref.y.begin(), ref.y.end());
    ref_z.insert(ref_z.end(), ref.logits.begin(), ref.logits.end());
    ties += ref.ties;
    mismatches += ref.mismatches;
  }
  const std::string rows_text = std::to_string(rows) + " rows";
  const std::string tie_text = std::to_string(ties) + " near-zero decisions";
  double e = RelErr(ref_y, yt);
  AddCheck({name + " y (with routing)", e, tol_y, e < tol_y, fp32,
            rows_text + ", " + tie_text});
  e = RelErr(ref_y, yp);
  AddCheck({name + " y (no routing)", e, tol_y, e < tol_y, fp32, rows_text});
  e = RelErr(ref_z, hz);
  AddCheck({name + " logits", e, tol_z, e < tol_z, fp32, rows_text});
  AddCheck({name + " routing decisions off the reference",
            static_cast<double>(mismatches), 0, mismatches == 0, fp32,
            rows_text});
  if (host != nullptr) {
    host->w = hw;
    host->x = hx;
    host->y = ref_y;
    host->rows = rows;
  }
  return distinct;
}
template int64_t CheckForward<float>(Ctx&, const fff::FffShape&,
                                     const FffWeightSet&, const TokenInputs&,
                                     const std::string&, HostShape*);
template int64_t CheckForward<Bf16>(Ctx&, const fff::FffShape&,
                                    const FffWeightSet&, const TokenInputs&,
                                    const std::string&, HostShape*);

template <class T>
void CheckBackward(Ctx& ctx, const fff::FffShape& shape, int64_t n_rows) {
  const bool fp32 = std::is_same_v<T, float>;
  const double tol = fp32 ? 1e-4 : 1e-2;
  const int64_t n_total = shape.n_total_nodes();
  const int64_t n_visited = shape.n_visited();
  const std::string name = std::string("backward ") + TypeName<T>() + " " +
                           std::to_string(shape.n_trees) + "x" +
                           std::to_string(shape.depth) + " @" +
                           std::to_string(n_rows);
  FffWeightSet w;
  MakeWeights(ctx, n_total, 900 + shape.depth, 0, &w);
  TokenInputs in;
  MakeInputs(ctx, n_rows, 1, &in);
  const size_t act = static_cast<size_t>(n_rows * kDModel);
  DevBuf y(act * sizeof(T));
  DevBuf nodes(static_cast<size_t>(n_rows * n_visited) * 4);
  DevBuf logits(static_cast<size_t>(n_rows * n_visited) * 4);
  DevBuf dx(act * 4);
  DevBuf dw_in(static_cast<size_t>(n_total * kDModel) * 4);
  DevBuf db_in(static_cast<size_t>(n_total) * 4);
  DevBuf dw_out(static_cast<size_t>(n_total * kDModel) * 4);
  const size_t ws_bytes = fff::cuda::FffBackwardWorkspaceBytes(shape, n_rows);
  DevBuf ws(std::max<size_t>(ws_bytes, 256));
  for (DevBuf* b : {&dx, &dw_in, &db_in, &dw_out, &ws}) {
    CUDA_CHECK(cudaMemsetAsync(b->get(), 0xff, b->bytes(), ctx.stream));
  }
  const fff::cuda::FffDeviceWeights<T> dw = DeviceWeights<T>(w);
  const T* x = Rows<T>(fp32 ? in.x32 : in.x16, 0);
  const T* dy = Rows<T>(fp32 ? in.dy32 : in.dy16, 0);
  std::string err = StatusText(fff::cuda::FffForward<T>(
      shape, dw, x, n_rows, y.as<T>(), nodes.as<int32_t>(), logits.as<float>(),
      ctx.stream));
  if (err.empty()) {
    err = StatusText(fff::cuda::FffBackward<T>(
        shape, dw, x, dy, n_rows, nodes.as<int32_t>(), logits.as<float>(),
        dx.as<float>(), dw_in.as<float>(), db_in.as<float>(),
        dw_out.as<float>(), ws.get(), ws_bytes, ctx.stream));
  }
  CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  if (!err.empty()) {
    AddCheck({name, NAN, tol, false, fp32, "returned: " + err});
    return;
  }
  const HostWeights hw = WeightsToHost<T>(w, n_total);
  const std::vector<float> hx = ToHostFloat<T>(x, act);
  const std::vector<float> hdy = ToHostFloat<T>(dy, act);
  const std::vector<int32_t> hn =
      CopyToHost<int32_t>(nodes.get(), static_cast<size_t>(n_rows * n_visited));
  RefGrads ref;
  const int bad_paths = ReferenceBackward(shape, hw, hx, hdy, hn, n_rows, &ref);
  AddCheck({name + " routing is a root-to-leaf path",
            static_cast<double>(bad_paths), 0, bad_paths == 0, fp32, ""});
  struct Output {
    const char* label;
    const std::vector<double>* ref;
    const DevBuf* got;
  };
  for (const Output& o :
       {Output{"dx", &ref.dx, &dx}, Output{"dw_in", &ref.dw_in, &dw_in},
        Output{"db_in", &ref.db_in, &db_in},
        Output{"dw_out", &ref.dw_out, &dw_out}}) {
    const std::vector<float> got =
        CopyToHost<float>(o.got->get(), o.ref->size());
    const double e = RelErr(*o.ref, got);
    AddCheck({name + " " + o.label, e, tol, e < tol, fp32,
              std::to_string(n_rows) + " rows"});
  }
}
template void CheckBackward<float>(Ctx&, const fff::FffShape&, int64_t);
template void CheckBackward<Bf16>(Ctx&, const fff::FffShape&, int64_t);

double BaselineTolerance(Prec p) {
  return p == Prec::kFp32 ? 1e-4 : p == Prec::kTf32 ? 5e-3 : 2e-2;
}

void CheckMaskedForward(const fff::FffShape& shape, const HostShape& host,
                        const std::vector<float>& y,
                        const std::vector<int32_t>& nodes, Prec p,
                        const std::string& label) {
  // 16 rows: three precisions per shape, and 3072x0 visits 3072 nodes a row.
  const int64_t rows = std::min<int64_t>(host.rows, 16);
  std::vector<double> ref;
  int off_path = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const RefRow row = ReferenceRow(shape, host.w, &host.x[r * kDModel],
                                    &nodes[r * shape.n_visited()]);
    ref.insert(ref.end(), row.y.begin(), row.y.end());
    off_path += row.mismatches;
  }
  const double e = RelErr(ref, y);
  const double tol = BaselineTolerance(p);
  AddCheck(
      {std::string("masked-dense forward ") + PrecName(p) + " " + label + " y",
       e, tol, e < tol, false,
       std::to_string(rows) + " rows on its own routing; " +
           std::to_string(off_path) +
           " decisions differ from the fp32 reference's"});
}

void CheckDenseForward(const HostDense& h, const std::vector<float>& y,
                       bool tanh_gelu, Prec p, int64_t n_rows) {
  // ref[0]: with the GELU form the path uses; ref[1]: with the other one
  // (tells which GELU cuBLASLt's epilogue computes).
  const std::vector<double> ref[2] = {DenseForwardReference(h, tanh_gelu),
                                      DenseForwardReference(h, !tanh_gelu)};
  const double e = RelErr(ref[0], y);
  const double e_other = RelErr(ref[1], y);
  const double tol = BaselineTolerance(p);
  char other[96];
  std::snprintf(other, sizeof other, "; against the %s form: %.3g",
                tanh_gelu ? "erf" : "tanh", e_other);
  AddCheck({std::string("dense FF forward ") + PrecName(p) + " @" +
                std::to_string(n_rows) + " y",
            e, tol, e < tol, false,
            std::to_string(h.rows) + " rows, " +
                (tanh_gelu ? "tanh-form" : "erf") + " GELU reference" + other});
}

}  // namespace fff::cuda_bench
