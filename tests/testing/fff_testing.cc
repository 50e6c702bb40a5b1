#include "tests/testing/fff_testing.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "src/kernels/reference/fff_reference.h"

namespace fff::testing {

FffWeights MakeRandomWeights(const FffShape& shape, uint64_t seed) {
  FffWeights w;
  w.shape = shape;
  const int64_t total = shape.n_total_nodes();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const float in_scale = std::sqrt(3.0f / static_cast<float>(shape.d_in));
  auto nonzero = [&](float scale) {
    float v;
    do v = u(rng) * scale;
    while (v == 0.0f);
    return v;
  };
  w.w_in.resize(static_cast<size_t>(total * shape.d_in));
  for (float& v : w.w_in) v = nonzero(in_scale);
  w.b_in.resize(static_cast<size_t>(total));
  for (float& v : w.b_in) v = nonzero(0.5f);
  w.w_out.resize(static_cast<size_t>(total * shape.d_out));
  for (float& v : w.w_out) v = nonzero(1.0f);
  return w;
}

FffWeights MakeInitWeights(const FffShape& shape, uint64_t seed) {
  FffWeights w;
  w.shape = shape;
  const int64_t total = shape.n_total_nodes();
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.02f);
  w.w_in.resize(static_cast<size_t>(total * shape.d_in));
  for (float& v : w.w_in) v = n(rng);
  w.b_in.resize(static_cast<size_t>(total));
  for (float& v : w.b_in) v = n(rng);
  w.w_out.resize(static_cast<size_t>(total * shape.d_out));
  for (float& v : w.w_out) v = n(rng);
  return w;
}

std::vector<float> MakeNormalRows(int64_t n_rows, int64_t cols, uint64_t seed) {
  std::vector<float> out(static_cast<size_t>(n_rows * cols));
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (float& v : out) v = n(rng);
  return out;
}

std::vector<float> MakeRandomRows(int64_t n_rows, int64_t cols, int64_t stride,
                                  int64_t offset, uint64_t seed) {
  const int64_t extent = n_rows == 0 ? 0 : (n_rows - 1) * stride + cols;
  // Padding between rows holds NaN: a kernel that reads it poisons its output.
  std::vector<float> buf(static_cast<size_t>(offset + extent),
                         std::numeric_limits<float>::quiet_NaN());
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      float v;
      do v = u(rng);
      while (v == 0.0f);
      buf[static_cast<size_t>(offset + r * stride + c)] = v;
    }
  }
  return buf;
}

namespace {

// Reference and bounds for a single row.
void ReferenceRow(const FffWeights& w, const float* x, FffReference& ref,
                  int64_t r) {
  const FffShape& s = w.shape;
  const int64_t n_nodes = s.n_nodes();
  const int64_t nv = s.n_visited();
  std::vector<double> a(static_cast<size_t>(nv));
  std::vector<double> da(static_cast<size_t>(nv));
  std::vector<int64_t> g_of(static_cast<size_t>(nv));
  for (int64_t t = 0; t < s.n_trees; ++t) {
    int64_t node = 0;
    for (int64_t level = 0; level <= s.depth; ++level) {
      const int64_t g = t * n_nodes + node;
      double z = w.b_in[g];
      double mag = std::fabs(static_cast<double>(w.b_in[g]));
      const float* wr = w.w_in.data() + g * s.d_in;
      for (int64_t i = 0; i < s.d_in; ++i) {
        const double p = static_cast<double>(x[i]) * wr[i];
        z += p;
        mag += std::fabs(p);
      }
      const double dz = static_cast<double>(s.d_in + 2) * kFloatU * mag;
      const int64_t k = t * (s.depth + 1) + level;
      const int64_t at = r * nv + k;
      ref.nodes[at] = static_cast<int32_t>(node);
      ref.logits[at] = z;
      ref.logit_bound[at] = dz;
      a[k] = reference::Gelu(z);
      da[k] = kGeluLipschitz * dz + kGeluAbsError + kFloatU * std::fabs(a[k]);
      g_of[k] = g;
      node = 2 * node + 1 + (z > 0.0 ? 1 : 0);
    }
  }
  for (int64_t o = 0; o < s.d_out; ++o) {
    double y = 0, err = 0, mag = 0;
    for (int64_t k = 0; k < nv; ++k) {
      const double wo = w.w_out[g_of[k] * s.d_out + o];
      y += a[k] * wo;
      err += da[k] * std::fabs(wo);
      mag += std::fabs(a[k] * wo);
    }
    ref.y[r * s.d_out + o] = y;
    ref.y_bound[r * s.d_out + o] =
        err + static_cast<double>(nv + 1) * kFloatU * mag;
  }
}

}  // namespace

FffReference ComputeReference(const FffWeights& w, const float* x,
                              int64_t x_stride, int64_t n_rows) {
  const FffShape& s = w.shape;
  FffReference ref;
  ref.shape = s;
  ref.n_rows = n_rows;
  ref.y.resize(static_cast<size_t>(n_rows * s.d_out));
  ref.y_bound.resize(ref.y.size());
  ref.nodes.resize(static_cast<size_t>(n_rows * s.n_visited()));
  ref.logits.resize(ref.nodes.size());
  ref.logit_bound.resize(ref.nodes.size());
  for (int64_t r = 0; r < n_rows; ++r)
    ReferenceRow(w, x + r * x_stride, ref, r);
  return ref;
}

int64_t ResampleForMargin(const FffWeights& w, float* x, int64_t x_stride,
                          int64_t n_rows, uint64_t seed) {
  const FffShape& s = w.shape;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  FffReference one;
  one.shape = s;
  one.n_rows = 1;
  one.y.resize(static_cast<size_t>(s.d_out));
  one.y_bound.resize(one.y.size());
  one.nodes.resize(static_cast<size_t>(s.n_visited()));
  one.logits.resize(one.nodes.size());
  one.logit_bound.resize(one.nodes.size());
  int64_t redraws = 0;
  for (int64_t r = 0; r < n_rows; ++r) {
    float* xr = x + r * x_stride;
    for (;;) {
      ReferenceRow(w, xr, one, 0);
      bool clear = true;
      for (size_t k = 0; k < one.logits.size() && clear; ++k) {
        clear = std::fabs(one.logits[k]) > 2.0 * one.logit_bound[k];
      }
      if (clear) break;
      ++redraws;
      for (int64_t c = 0; c < s.d_in; ++c) {
        float v;
        do v = u(rng);
        while (v == 0.0f);
        xr[c] = v;
      }
    }
  }
  return redraws;
}

FffBackwardReference ComputeBackwardReference(
    const FffWeights& w, const FffReference& fwd, const float* x,
    int64_t x_stride, const float* dy, int64_t dy_stride,
    const std::vector<float>& dw_in0, const std::vector<float>& db_in0,
    const std::vector<float>& dw_out0) {
  const FffShape& s = w.shape;
  const int64_t n_rows = fwd.n_rows;
  const int64_t n_nodes = s.n_nodes();
  const int64_t total = s.n_total_nodes();
  const int64_t nv = s.n_visited();
  const double u = kFloatU;
  FffBackwardReference ref;
  ref.dx.assign(static_cast<size_t>(n_rows * s.d_in), 0.0);
  ref.dx_bound.assign(ref.dx.size(), 0.0);
  ref.dw_in.assign(dw_in0.begin(), dw_in0.end());
  ref.db_in.assign(db_in0.begin(), db_in0.end());
  ref.dw_out.assign(dw_out0.begin(), dw_out0.end());
  // Magnitude sums first; bounds are assembled at the end.
  std::vector<double> in_err(ref.dw_in.size(), 0.0), in_mag(ref.dw_in.size());
  std::vector<double> b_err(ref.db_in.size(), 0.0), b_mag(ref.db_in.size());
  std::vector<double> out_err(ref.dw_out.size(), 0.0),
      out_mag(ref.dw_out.size());
  for (size_t i = 0; i < in_mag.size(); ++i) in_mag[i] = std::fabs(dw_in0[i]);
  for (size_t i = 0; i < b_mag.size(); ++i) b_mag[i] = std::fabs(db_in0[i]);
  for (size_t i = 0; i < out_mag.size(); ++i) {
    out_mag[i] = std::fabs(dw_out0[i]);
  }
  std::vector<int64_t> count(static_cast<size_t>(total), 0);
  std::vector<double> dx_mag(static_cast<size_t>(s.d_in));
  const double inv_sqrt_2pi = 0.3989422804014327;
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * x_stride;
    const float* dyr = dy + r * dy_stride;
    std::fill(dx_mag.begin(), dx_mag.end(), 0.0);
    for (int64_t k = 0; k < nv; ++k) {
      const int64_t at = r * nv + k;
      const int64_t g = k / (s.depth + 1) * n_nodes + fwd.nodes[at];
      const double z = fwd.logits[at];
      const double zb = fwd.logit_bound[at];
      double da = 0, da_mag = 0;
      for (int64_t o = 0; o < s.d_out; ++o) {
        const double p = static_cast<double>(dyr[o]) * w.w_out[g * s.d_out + o];
        da += p;
        da_mag += std::fabs(p);
      }
      const double dda = static_cast<double>(s.d_out + 1) * u * da_mag;
      const double phi = 0.5 * (1.0 + std::erf(z / std::sqrt(2.0)));
      const double zpdf = z * inv_sqrt_2pi * std::exp(-0.5 * z * z);
      const double gp = phi + zpdf;
      const double dgp = 0.8 * zb + 4 * u * (std::fabs(phi) + std::fabs(zpdf)) +
                         2 * u;
      const double dz = da * gp;
      const double ddz = dda * (std::fabs(gp) + dgp) + std::fabs(da) * dgp +
                         u * std::fabs(dz);
      const double a = reference::Gelu(z);
      const double dact = kGeluLipschitz * zb + kGeluAbsError + u * std::fabs(a);
      ++count[g];
      const float* wr = w.w_in.data() + g * s.d_in;
      for (int64_t i = 0; i < s.d_in; ++i) {
        const size_t xi = static_cast<size_t>(r * s.d_in + i);
        ref.dx[xi] += dz * wr[i];
        ref.dx_bound[xi] += ddz * std::fabs(wr[i]);
        dx_mag[i] += std::fabs(dz * wr[i]);
        const size_t wi = static_cast<size_t>(g * s.d_in + i);
        ref.dw_in[wi] += dz * xr[i];
        in_err[wi] += ddz * std::fabs(xr[i]);
        in_mag[wi] += std::fabs(dz * xr[i]);
      }
      ref.db_in[g] += dz;
      b_err[g] += ddz;
      b_mag[g] += std::fabs(dz);
      for (int64_t o = 0; o < s.d_out; ++o) {
        const size_t wo = static_cast<size_t>(g * s.d_out + o);
        ref.dw_out[wo] += a * dyr[o];
        out_err[wo] += dact * std::fabs(dyr[o]);
        out_mag[wo] += std::fabs(a * dyr[o]);
      }
    }
    for (int64_t i = 0; i < s.d_in; ++i) {
      ref.dx_bound[r * s.d_in + i] +=
          static_cast<double>(nv + 1) * u * dx_mag[i];
    }
  }
  ref.visited.assign(static_cast<size_t>(total), 0);
  ref.dw_in_bound.resize(ref.dw_in.size());
  ref.db_in_bound.resize(ref.db_in.size());
  ref.dw_out_bound.resize(ref.dw_out.size());
  for (int64_t g = 0; g < total; ++g) {
    ref.visited[g] = count[g] > 0;
    const double f = static_cast<double>(count[g] + 1) * u;
    for (int64_t i = 0; i < s.d_in; ++i) {
      const size_t wi = static_cast<size_t>(g * s.d_in + i);
      ref.dw_in_bound[wi] = in_err[wi] + f * in_mag[wi];
    }
    ref.db_in_bound[g] = b_err[g] + f * b_mag[g];
    for (int64_t o = 0; o < s.d_out; ++o) {
      const size_t wo = static_cast<size_t>(g * s.d_out + o);
      ref.dw_out_bound[wo] = out_err[wo] + f * out_mag[wo];
    }
  }
  return ref;
}

double WorstRatio(const float* got, const std::vector<double>& want,
                  const std::vector<double>& bound, int64_t* at) {
  double worst = 0;
  *at = -1;
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    // A zero bound (an element no term reaches) demands exact equality.
    const double ratio = std::isnan(err)          ? 1e300
                         : err == 0.0             ? 0.0
                         : bound[i] == 0.0        ? 1e300
                                                  : err / bound[i];
    if (ratio > worst) {
      worst = ratio;
      *at = static_cast<int64_t>(i);
    }
  }
  return worst;
}

std::string FffComparison::Describe() const {
  std::string out;
  if (n_flips > 0) {
    out += fmt::format(
        "{} routing flip(s); first at row {} tree {} level {} (reference "
        "logit {:.3e}). ",
        n_flips, flip_row, flip_tree, flip_level, flip_logit);
  }
  out += fmt::format(
      "worst numeric error at row {} col {}: got {:.9g}, want {:.9g}, |err| "
      "{:.3e}, bound {:.3e} (ratio {:.3f})",
      worst_row, worst_col, worst_got, worst_want, worst_err, worst_bound,
      worst_ratio);
  return out;
}

FffComparison Compare(const FffReference& ref, const float* y, int64_t y_stride,
                      const int32_t* nodes) {
  const FffShape& s = ref.shape;
  const int64_t nv = s.n_visited();
  FffComparison c;
  for (int64_t r = 0; r < ref.n_rows; ++r) {
    bool flipped = false;
    if (nodes != nullptr) {
      for (int64_t k = 0; k < nv; ++k) {
        if (nodes[r * nv + k] != ref.nodes[r * nv + k]) {
          if (c.n_flips == 0) {
            // The flip happened at the level before the first wrong node.
            c.flip_row = r;
            c.flip_tree = k / (s.depth + 1);
            c.flip_level = k % (s.depth + 1) - 1;  // -1: wrong root
            c.flip_logit = c.flip_level < 0
                               ? std::numeric_limits<double>::quiet_NaN()
                               : ref.logits[r * nv + k - 1];
          }
          ++c.n_flips;
          flipped = true;
          break;
        }
      }
    }
    if (flipped) continue;
    for (int64_t o = 0; o < s.d_out; ++o) {
      const double want = ref.y[r * s.d_out + o];
      const double got = y[r * y_stride + o];
      const double err = std::fabs(got - want);
      const double bound = ref.y_bound[r * s.d_out + o];
      // NaN compares false: force a failure for it.
      const double ratio = std::isnan(err) ? 1e300 : err / bound;
      if (ratio > c.worst_ratio || c.worst_row < 0) {
        c.worst_ratio = ratio;
        c.worst_row = r;
        c.worst_col = o;
        c.worst_got = got;
        c.worst_want = want;
        c.worst_err = err;
        c.worst_bound = bound;
      }
    }
  }
  c.ok = c.n_flips == 0 && c.worst_ratio <= 1.0;
  return c;
}

}  // namespace fff::testing
