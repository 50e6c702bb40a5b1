// fff-bench train-layer (train_bench.h).
#include "tools/bench/train_bench.h"

#include <dnnl.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <dnnl.hpp>
#include <nlohmann/json.hpp>
#include <vector>

#include "build_info.h"
#include "tools/bench/report.h"
#include "fff/fff.h"
#include "src/kernels/fff_kernels.h"
#include "tests/testing/fff_testing.h"

namespace fff::bench {
namespace {

// Row-major C[m, n] = op(A) op(B) (beta 0) on oneDNN's sgemm.
void Gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const float* a,
          int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc) {
  dnnl_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

// GELU forward / backward on oneDNN's eltwise primitives (exact erf form),
// the fastest elementwise GELU on this machine.
class GeluOps {
 public:
  GeluOps(int64_t n) : eng_(dnnl::engine::kind::cpu, 0), strm_(eng_) {
    md_ = dnnl::memory::desc({n}, dnnl::memory::data_type::f32,
                             dnnl::memory::format_tag::a);
    auto fwd_pd = dnnl::eltwise_forward::primitive_desc(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training,
                                    dnnl::algorithm::eltwise_gelu_erf, md_,
                                    0.f, 0.f),
        eng_);
    fwd_ = dnnl::eltwise_forward(fwd_pd);
    auto bwd_pd = dnnl::eltwise_backward::primitive_desc(
        dnnl::eltwise_backward::desc(dnnl::algorithm::eltwise_gelu_erf, md_,
                                     md_, 0.f, 0.f),
        eng_, fwd_pd);
    bwd_ = dnnl::eltwise_backward(bwd_pd);
  }
  void Forward(const float* src, float* dst) {
    fwd_.execute(strm_, {{DNNL_ARG_SRC, Mem(src)}, {DNNL_ARG_DST, Mem(dst)}});
    strm_.wait();
  }
  // diff_src = diff_dst * GELU'(src)
  void Backward(const float* src, const float* diff_dst, float* diff_src) {
    bwd_.execute(strm_, {{DNNL_ARG_SRC, Mem(src)},
                         {DNNL_ARG_DIFF_DST, Mem(diff_dst)},
                         {DNNL_ARG_DIFF_SRC, Mem(diff_src)}});
    strm_.wait();
  }

 private:
  dnnl::memory Mem(const float* p) {
    return dnnl::memory(md_, eng_, const_cast<float*>(p));
  }
  dnnl::engine eng_;
  dnnl::stream strm_;
  dnnl::memory::desc md_;
  dnnl::eltwise_forward fwd_;
  dnnl::eltwise_backward bwd_;
};

// The dense and masked-dense training step over width W (buffers sized once).
struct DenseStep {
  int64_t b, d, w;
  bool masked;
  int64_t n_trees = 1, depth = 0;
  const float *x, *dy, *w_in, *b_in, *w_out;  // w_out: torch [d, W]
  std::vector<float> z, h, dh, mask, y, dx, dw_in, db_in, dw_out;
  GeluOps gelu;

  DenseStep(int64_t b_, int64_t d_, int64_t w_, bool masked_)
      : b(b_), d(d_), w(w_), masked(masked_), gelu(b_ * w_) {
    const size_t bw = static_cast<size_t>(b * w);
    z.resize(bw);
    h.resize(bw);
    dh.resize(bw);
    if (masked) mask.resize(bw);
    y.resize(b * d);
    dx.resize(b * d);
    dw_in.resize(w * d);
    db_in.resize(w);
    dw_out.resize(d * w);
  }

  void Run() {
    Gemm('N', 'T', b, w, d, x, d, w_in, d, z.data(), w);  // logits
    if (masked) {
      const int64_t n_nodes = w / n_trees;
      for (int64_t r = 0; r < b; ++r) {
        float* zr = z.data() + r * w;
        for (int64_t g = 0; g < w; ++g) zr[g] += b_in[g];
        float* mr = mask.data() + r * w;
        std::fill(mr, mr + w, 0.0f);
        for (int64_t t = 0; t < n_trees; ++t) {
          int64_t node = 0;
          for (int64_t l = 0; l <= depth; ++l) {
            mr[t * n_nodes + node] = 1.0f;
            node = 2 * node + 1 + (zr[t * n_nodes + node] > 0.0f);
          }
        }
      }
    }
    gelu.Forward(z.data(), h.data());
    const size_t bw = h.size();
    if (masked) {
      for (size_t i = 0; i < bw; ++i) h[i] *= mask[i];
    }
    Gemm('N', 'T', b, d, w, h.data(), w, w_out, w, y.data(), d);  // y
    // Backward from dy.
    Gemm('N', 'N', b, w, d, dy, d, w_out, w, dh.data(), w);  // dH
    Gemm('T', 'N', d, w, b, dy, d, h.data(), w, dw_out.data(), w);
    if (masked) {
      for (size_t i = 0; i < bw; ++i) dh[i] *= mask[i];
    }
    gelu.Backward(z.data(), dh.data(), dh.data());  // dZ in place
    if (masked) {
      std::fill(db_in.begin(), db_in.end(), 0.0f);
      for (int64_t r = 0; r < b; ++r) {
        const float* dzr = dh.data() + r * w;
        for (int64_t g = 0; g < w; ++g) db_in[g] += dzr[g];
      }
    }
    Gemm('T', 'N', w, d, b, dh.data(), w, x, d, dw_in.data(), d);
    Gemm('N', 'N', b, d, w, dh.data(), w, w_in, d, dx.data(), d);
  }
};

}  // namespace

Result<TrainBenchReport> RunTrainBench(const TrainBenchOptions& o) {
  TrainBenchReport rep;
  rep.options = o;
  rep.machine = ReadMachineInfo();
  const double t_start = Now();
  const int64_t b = o.rows, d = o.d_model;
  const std::vector<float> x = testing::MakeNormalRows(b, d, o.seed);
  const std::vector<float> dy = testing::MakeNormalRows(b, d, o.seed + 1);
  for (const auto& [n_trees, depth] : o.variants) {
    const FffShape s{d, d, depth, n_trees};
    FFF_RETURN_IF_ERROR(ValidateFffShape(s));
    const testing::FffWeights wts =
        testing::MakeInitWeights(s, o.seed + 7 * n_trees + depth);
    const int64_t total = s.n_total_nodes();
    // torch layout of w_out for the dense computations
    std::vector<float> w_out_torch(static_cast<size_t>(d * total));
    for (int64_t g = 0; g < total; ++g) {
      for (int64_t c = 0; c < d; ++c) {
        w_out_torch[c * total + g] = wts.w_out[g * d + c];
      }
    }
    for (int threads : o.threads) {
      TrainResult r;
      r.model = fmt::format("fff-{}x{}", n_trees, depth);
      r.n_trees = n_trees;
      r.depth = depth;
      r.width = total;
      r.threads = threads;
      omp_set_num_threads(threads);
      FffOptions fo;
      fo.n_threads = threads;
      Result<FffLayer> layer = FffLayer::Create(s, wts.view(), fo);
      FFF_RETURN_IF_ERROR(layer.status());
      rep.target = layer->target_name();
      const int64_t nv = s.n_visited();
      std::vector<float> y(b * d), dx(b * d), dwi(total * d), dbi(total),
          dwo(total * d), logits(b * nv);
      std::vector<int32_t> nodes(b * nv);
      Status st;
      r.conditional = TimeCalls(
          [&] {
            Status f = layer->Forward(MatrixView<const float>(x, b, d),
                                      MatrixView<float>(y, b, d),
                                      {nodes, logits});
            std::fill(dwi.begin(), dwi.end(), 0.0f);
            std::fill(dbi.begin(), dbi.end(), 0.0f);
            std::fill(dwo.begin(), dwo.end(), 0.0f);
            Status g = layer->Backward(
                MatrixView<const float>(x, b, d),
                MatrixView<const float>(dy, b, d), {nodes, logits},
                {MatrixView<float>(dx, b, d), dwi, dbi, dwo});
            if (st.ok()) st = f.ok() ? g : f;
          },
          o.reps, 0.2);
      FFF_RETURN_IF_ERROR(st);
      for (bool masked : {true, false}) {
        DenseStep step(b, d, total, masked);
        step.n_trees = n_trees;
        step.depth = depth;
        step.x = x.data();
        step.dy = dy.data();
        step.w_in = wts.w_in.data();
        step.b_in = wts.b_in.data();
        step.w_out = w_out_torch.data();
        (masked ? r.masked_dense : r.dense) =
            TimeCalls([&] { step.Run(); }, o.reps, 0.2);
      }
      r.speedup_vs_masked = r.masked_dense.median_s / r.conditional.median_s;
      r.speedup_vs_dense = r.dense.median_s / r.conditional.median_s;
      // FLOPs: conditional per visit 2 d (logit) + 2 d (output) forward,
      // 4 x 2 d backward; dense: 6 products of b x W x d.
      r.conditional_gflop = 12.0 * d * static_cast<double>(b * nv) / 1e9;
      r.dense_gflop = 12.0 * d * static_cast<double>(b * total) / 1e9;
      rep.results.push_back(r);
    }
  }
  rep.wall_s = Now() - t_start;
  return rep;
}

std::string TrainReportJson(const TrainBenchReport& rep,
                            const std::string& command) {
  using nlohmann::json;
  json j = ReportHeader("train-layer", command, rep.machine);
  j["options"] = {{"d_model", rep.options.d_model},
                  {"rows", rep.options.rows},
                  {"reps", rep.options.reps}};
  j["target"] = rep.target;
  auto timing = [](const Timing& t) {
    return json{{"median_s", t.median_s},
                {"min_s", t.min_s},
                {"max_s", t.max_s},
                {"reps", t.reps},
                {"calls_per_rep", t.calls_per_rep}};
  };
  for (const TrainResult& r : rep.results) {
    j["results"].push_back({{"model", r.model},
                            {"n_trees", r.n_trees},
                            {"depth", r.depth},
                            {"width", r.width},
                            {"threads", r.threads},
                            {"conditional", timing(r.conditional)},
                            {"masked_dense", timing(r.masked_dense)},
                            {"dense", timing(r.dense)},
                            {"speedup_vs_masked_dense", r.speedup_vs_masked},
                            {"speedup_vs_dense", r.speedup_vs_dense},
                            {"conditional_gflop", r.conditional_gflop},
                            {"dense_gflop", r.dense_gflop}});
  }
  j["wall_s"] = rep.wall_s;
  return j.dump(2);
}

std::string TrainReportMarkdown(const TrainBenchReport& rep,
                                const std::string& command) {
  std::string out = fmt::format(
      "`{}` (commit {}), {} tokens x d_model {}, FFF target {}, medians of "
      "{} repetitions\n\n",
      command, FFF_GIT_COMMIT, rep.options.rows, rep.options.d_model,
      rep.target, rep.options.reps);
  out +=
      "| variant | width | threads | conditional ms | masked-dense ms | "
      "dense ms | vs masked-dense | vs dense | conditional GFLOP/s | dense "
      "GFLOP/s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const TrainResult& r : rep.results) {
    out += fmt::format(
        "| {} | {} | {} | {:.2f} | {:.1f} | {:.1f} | {:.1f}x | {:.1f}x | "
        "{:.1f} | {:.1f} |\n",
        r.model, r.width, r.threads, 1e3 * r.conditional.median_s,
        1e3 * r.masked_dense.median_s, 1e3 * r.dense.median_s,
        r.speedup_vs_masked, r.speedup_vs_dense,
        r.conditional_gflop / r.conditional.median_s,
        r.dense_gflop / r.dense.median_s);
  }
  out += fmt::format("\nwall {:.0f} s\n", rep.wall_s);
  return out;
}

}  // namespace fff::bench
