// The fff torch operators (src/torch) against the masked-dense computation
// the paper trains with, written in plain torch ops and differentiated by
// autograd; finite differences (gradcheck) in double; thread-count
// invariance; the module wrapper; bad arguments. The per-element error
// bounds of the float kernels are tested in tests/unit/fff_backward_test.cc;
// here float results are compared loosely, which still catches any layout,
// transpose or wiring error (those are O(1) wrong).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "src/torch/fff_torch.h"

namespace fff::torch_ext {
namespace {

struct Params {
  torch::Tensor w_in, b_in, w_out, x;
};

// Random parameters as crammedBERT-style layers see them, and inputs whose
// every logit (all nodes) is at least `margin` away from zero so float and
// double route alike.
Params MakeParams(int64_t d_in, int64_t d_out, int64_t depth, int64_t n_trees,
                  int64_t n_rows, torch::Dtype dtype, uint64_t seed,
                  double margin = 1e-3) {
  torch::manual_seed(seed);
  const int64_t total = n_trees * ((int64_t{2} << depth) - 1);
  auto opt = torch::TensorOptions().dtype(torch::kDouble);
  Params p;
  p.w_in = torch::randn({total, d_in}, opt) / std::sqrt(double(d_in));
  p.b_in = torch::randn({total}, opt) * 0.5;
  p.w_out = torch::randn({d_out, total}, opt);
  p.x = torch::randn({n_rows, d_in}, opt);
  for (int it = 0; it < 1000; ++it) {
    auto z = torch::addmm(p.b_in, p.x, p.w_in.t());
    auto bad = (z.abs() < margin).any(1);
    if (!bad.any().item<bool>()) break;
    auto redraw = torch::randn({n_rows, d_in}, opt);
    p.x = torch::where(bad.unsqueeze(1), redraw, p.x);
  }
  p.w_in = p.w_in.to(dtype);
  p.b_in = p.b_in.to(dtype);
  p.w_out = p.w_out.to(dtype);
  p.x = p.x.to(dtype);
  return p;
}

// The paper's training computation: all logits, GELU, a 0/1 mask of the
// visited path built without gradient, one dense product with all of w_out.
torch::Tensor MaskedDense(const torch::Tensor& x, const torch::Tensor& w_in,
                          const torch::Tensor& b_in, const torch::Tensor& w_out,
                          int64_t n_trees) {
  const int64_t total = w_in.size(0);
  const int64_t n_nodes = total / n_trees;
  const int64_t depth = DepthOfNodes(n_nodes);
  auto z = torch::addmm(b_in, x, w_in.t());  // [N, total]
  torch::Tensor mask;
  {
    torch::NoGradGuard no_grad;
    mask = torch::zeros_like(z);
    const int64_t n = x.size(0);
    auto rows = torch::arange(n, torch::kLong);
    for (int64_t t = 0; t < n_trees; ++t) {
      auto node = torch::zeros({n}, torch::kLong);
      for (int64_t level = 0; level <= depth; ++level) {
        auto g = node + t * n_nodes;
        mask.index_put_({rows, g}, 1.0);
        auto zg = z.index({rows, g});
        node = node * 2 + 1 + (zg > 0).to(torch::kLong);
      }
    }
  }
  return torch::mm(torch::gelu(z) * mask, w_out.t());
}

struct Shape {
  int64_t d_in, d_out, depth, n_trees;
};
const Shape kShapes[] = {{5, 3, 0, 1}, {7, 4, 2, 1}, {6, 5, 3, 3},
                         {33, 17, 5, 2}, {64, 48, 8, 1}};

void ExpectClose(const torch::Tensor& got, const torch::Tensor& want,
                 double rtol, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double scale = want.abs().max().item<double>();
  ASSERT_GT(scale, 0.0) << what << ": an all-zero reference proves nothing";
  const double err = (got.to(torch::kDouble) - want.to(torch::kDouble))
                         .abs()
                         .max()
                         .item<double>();
  EXPECT_LE(err, rtol * scale) << what << ": max error " << err
                               << " against max |want| " << scale;
}

TEST(FffTorchOpsTest, ForwardAndGradientsEqualMaskedDenseAutograd) {
  uint64_t seed = 1;
  for (const Shape& s : kShapes) {
    for (torch::Dtype dtype : {torch::kDouble, torch::kFloat}) {
      const std::string name = "d_in=" + std::to_string(s.d_in) +
                               " depth=" + std::to_string(s.depth) +
                               " n_trees=" + std::to_string(s.n_trees) +
                               (dtype == torch::kDouble ? " f64" : " f32");
      const Params p =
          MakeParams(s.d_in, s.d_out, s.depth, s.n_trees, 50, dtype, seed++);
      auto leaf = [](const torch::Tensor& t) {
        return t.detach().clone().requires_grad_(true);
      };
      // Reference in double whatever the op's dtype.
      auto rx = leaf(p.x.to(torch::kDouble)), rwi = leaf(p.w_in.to(torch::kDouble)),
           rbi = leaf(p.b_in.to(torch::kDouble)),
           rwo = leaf(p.w_out.to(torch::kDouble));
      auto x = leaf(p.x), wi = leaf(p.w_in), bi = leaf(p.b_in),
           wo = leaf(p.w_out);
      auto ry = MaskedDense(rx, rwi, rbi, rwo, s.n_trees);
      auto y = Fff(x, wi, bi, wo, s.n_trees);
      auto dy = torch::randn_like(ry);
      (ry * dy).sum().backward();
      (y * dy.to(dtype)).sum().backward();
      const double rtol = dtype == torch::kDouble ? 1e-12 : 2e-5;
      ExpectClose(y, ry, rtol, name + " y");
      ExpectClose(x.grad(), rx.grad(), rtol, name + " dx");
      ExpectClose(wi.grad(), rwi.grad(), rtol, name + " dw_in");
      ExpectClose(bi.grad(), rbi.grad(), rtol, name + " db_in");
      ExpectClose(wo.grad(), rwo.grad(), rtol, name + " dw_out");
      // Unvisited nodes get exactly zero gradient.
      auto unvisited = rbi.grad() == 0;
      EXPECT_TRUE((bi.grad().index({unvisited}) == 0).all().item<bool>())
          << name;
    }
  }
}

// gradcheck: central differences of the op itself in double.
TEST(FffTorchOpsTest, GradcheckDouble) {
  for (const Shape& s : {Shape{4, 3, 0, 1}, Shape{5, 2, 2, 1},
                         Shape{3, 4, 2, 2}}) {
    const Params p = MakeParams(s.d_in, s.d_out, s.depth, s.n_trees, 4,
                                torch::kDouble, 11 + s.depth, 1e-2);
    std::vector<torch::Tensor> in = {p.x.clone(), p.w_in.clone(),
                                     p.b_in.clone(), p.w_out.clone()};
    for (auto& t : in) t.requires_grad_(true);
    auto dy = torch::randn({in[0].size(0), s.d_out}, torch::kDouble);
    auto loss = [&] {
      return (Fff(in[0], in[1], in[2], in[3], s.n_trees) * dy).sum();
    };
    loss().backward();
    const double h = 1e-6;
    for (size_t k = 0; k < in.size(); ++k) {
      auto grad = in[k].grad().contiguous();
      torch::NoGradGuard no_grad;
      auto flat = in[k].view({-1});
      for (int64_t i = 0; i < flat.numel(); ++i) {
        const double keep = flat[i].item<double>();
        flat[i] = keep + h;
        const double lp = loss().item<double>();
        flat[i] = keep - h;
        const double lm = loss().item<double>();
        flat[i] = keep;
        const double num = (lp - lm) / (2 * h);
        const double ana = grad.view({-1})[i].item<double>();
        ASSERT_NEAR(num, ana, 1e-6 * (1 + std::abs(ana)))
            << "input " << k << " element " << i << " depth " << s.depth;
      }
    }
  }
}

TEST(FffTorchOpsTest, GradientsBitwiseIndependentOfThreads) {
  const Params p = MakeParams(48, 40, 6, 2, 700, torch::kFloat, 5);
  auto dy = torch::randn({700, 40});
  std::vector<std::vector<torch::Tensor>> runs;
  const int keep = at::get_num_threads();
  for (int threads : {1, 2, 3}) {
    at::set_num_threads(threads);
    auto x = p.x.clone().requires_grad_(true);
    auto wi = p.w_in.clone().requires_grad_(true);
    auto bi = p.b_in.clone().requires_grad_(true);
    auto wo = p.w_out.clone().requires_grad_(true);
    (Fff(x, wi, bi, wo, 2) * dy).sum().backward();
    runs.push_back({x.grad(), wi.grad(), bi.grad(), wo.grad()});
  }
  at::set_num_threads(keep);
  for (size_t r = 1; r < runs.size(); ++r) {
    for (size_t k = 0; k < 4; ++k) {
      EXPECT_TRUE(torch::equal(runs[r][k], runs[0][k]))
          << "threads run " << r << " gradient " << k;
    }
  }
}

TEST(FffTorchOpsTest, LeadingDimensionsAndNodeMajorGradient) {
  const Params p = MakeParams(8, 6, 3, 1, 12, torch::kFloat, 9);
  auto x = p.x.view({3, 4, 8}).clone().requires_grad_(true);
  auto wo = p.w_out.t().contiguous().t().requires_grad_(true);  // node-major
  auto y = Fff(x, p.w_in, p.b_in, wo, 1);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3, 4, 6}));
  y.sum().backward();
  EXPECT_EQ(x.grad().sizes(), x.sizes());
  EXPECT_EQ(wo.grad().sizes(), wo.sizes());
  EXPECT_TRUE(wo.grad().t().is_contiguous());
  auto flat = Fff(p.x, p.w_in, p.b_in, p.w_out, 1);
  EXPECT_TRUE(torch::equal(y.view({12, 6}), flat));
}

TEST(FffTorchOpsTest, BadArgumentsNameTheArgument) {
  const Params p = MakeParams(8, 6, 2, 1, 4, torch::kFloat, 3);
  auto expect_error = [](auto&& call, const std::string& part) {
    try {
      call();
      ADD_FAILURE() << "no error; wanted one naming " << part;
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << e.what();
    }
  };
  expect_error([&] { Fff(p.x.narrow(1, 0, 7), p.w_in, p.b_in, p.w_out, 1); },
               "expected last dimension 8 (d_in), got 7");
  expect_error([&] { Fff(p.x, p.w_in, p.b_in.narrow(0, 0, 6), p.w_out, 1); },
               "b_in (linear_in.bias): expected [7]");
  expect_error([&] { Fff(p.x, p.w_in.narrow(0, 0, 6), p.b_in.narrow(0, 0, 6),
                         p.w_out.narrow(1, 0, 6), 1); },
               "expected n_trees * (2^(depth+1) - 1) rows, got 6");
  expect_error([&] { Fff(p.x.narrow(1, 0, 0), p.w_in.narrow(1, 0, 0), p.b_in,
                         p.w_out, 1); },
               "expected d_in >= 1 and d_out >= 1");
  expect_error([&] { Fff(p.x, p.w_in, p.b_in, p.w_out, 2); },
               "n_trees: expected a divisor");
  expect_error([&] { Fff(p.x.to(torch::kDouble), p.w_in, p.b_in, p.w_out, 1); },
               "expected Double like x, got Float");
  expect_error([&] { Fff(p.x.to(torch::kHalf), p.w_in.to(torch::kHalf),
                         p.b_in.to(torch::kHalf), p.w_out.to(torch::kHalf), 1); },
               "expected float32 or float64");
}

TEST(FffFeedForwardTest, CheckpointNamesShapesAndSparseUpdates) {
  FffFeedForward ff(FffFeedForwardOptions{16, 12, 4, 2, 0.02});
  auto params = ff->named_parameters();
  ASSERT_EQ(params.size(), 3u);
  EXPECT_EQ(params["linear_in.weight"].sizes(),
            (std::vector<int64_t>{62, 16}));
  EXPECT_EQ(params["linear_in.bias"].sizes(), (std::vector<int64_t>{62}));
  EXPECT_EQ(params["linear_out.weight"].sizes(),
            (std::vector<int64_t>{12, 62}));
  EXPECT_TRUE(params["linear_out.weight"].t().is_contiguous());
  EXPECT_NEAR(params["linear_in.weight"].std().item<double>(), 0.02, 0.004);
  EXPECT_EQ(params["linear_in.bias"].abs().max().item<float>(), 0.0f);

  // One SGD step on a few rows changes only the visited nodes' rows.
  torch::manual_seed(4);
  auto x = torch::randn({3, 16});
  auto before_in = ff->linear_in->weight.clone();
  auto before_out = ff->linear_out->weight.clone();
  torch::optim::SGD sgd(ff->parameters(), 0.1);
  sgd.zero_grad();
  ff->forward(x).pow(2).sum().backward();
  sgd.step();
  auto changed_in = (ff->linear_in->weight != before_in).any(1);
  auto changed_out = (ff->linear_out->weight != before_out).any(0);
  const int64_t max_visited = 3 * 2 * 5;  // rows x trees x levels
  EXPECT_GT(changed_in.sum().item<int64_t>(), 0);
  EXPECT_LE(changed_in.sum().item<int64_t>(), max_visited);
  EXPECT_TRUE(torch::equal(changed_in, changed_out));
  EXPECT_TRUE(ff->linear_out->weight.t().is_contiguous());
}

}  // namespace
}  // namespace fff::torch_ext
