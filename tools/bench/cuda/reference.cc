// fff-cuda-bench's CPU references in double precision (reference.h).
#include "tools/bench/cuda/reference.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fff/fff.h"
#include "tools/bench/cuda/config.h"

namespace fff::cuda_bench {

double GeluRef(double z) {
  return 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
}
double GeluGradRef(double z) {
  return 0.5 * (1.0 + std::erf(z / std::sqrt(2.0))) +
         z * std::exp(-0.5 * z * z) * 0.39894228040143267794;
}

double GeluTanhRef(double z) {
  return 0.5 * z *
         (1.0 + std::tanh(0.79788456080286535588 * (z + 0.044715 * z * z * z)));
}

double RelErr(const std::vector<double>& ref, const std::vector<float>& got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(got[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

RefRow ReferenceRow(const fff::FffShape& s, const HostWeights& w,
                    const float* x, const int32_t* follow) {
  const int64_t d_in = s.d_in, d_out = s.d_out, levels = s.depth + 1;
  const int64_t n_nodes = s.n_nodes();
  RefRow out;
  out.y.assign(d_out, 0.0);
  out.nodes.resize(s.n_trees * levels);
  out.logits.resize(s.n_trees * levels);
  for (int64_t t = 0; t < s.n_trees; ++t) {
    int64_t node = 0;
    for (int64_t level = 0; level < levels; ++level) {
      const int64_t k_idx = t * levels + level;
      if (follow != nullptr && follow[k_idx] != node) {
        ++out.mismatches;
        if (follow[k_idx] >= 0 && follow[k_idx] < n_nodes) node = follow[k_idx];
      }
      const int64_t g = t * n_nodes + node;
      const float* wi = &w.w_in[g * d_in];
      double z = w.b_in[g];
      double mag = std::abs(static_cast<double>(w.b_in[g]));
      for (int64_t k = 0; k < d_in; ++k) {
        const double p = static_cast<double>(x[k]) * wi[k];
        z += p;
        mag += std::abs(p);
      }
      const double a = GeluRef(z);
      const float* wo = &w.w_out[g * d_out];
      for (int64_t k = 0; k < d_out; ++k) out.y[k] += a * wo[k];
      out.nodes[k_idx] = static_cast<int32_t>(node);
      out.logits[k_idx] = z;
      int64_t next = 2 * node + 1 + (z > 0.0 ? 1 : 0);
      if (follow != nullptr && level + 1 < levels &&
          std::abs(z) <= 1e-4 * mag) {
        const int32_t dev_next = follow[k_idx + 1];
        if (dev_next == 2 * node + 1 || dev_next == 2 * node + 2) {
          if (dev_next != next) ++out.ties;
          next = dev_next;
        }
      }
      node = next;
    }
  }
  return out;
}

int ReferenceBackward(const fff::FffShape& shape, const HostWeights& hw,
                      const std::vector<float>& hx,
                      const std::vector<float>& hdy,
                      const std::vector<int32_t>& hn, int64_t n_rows,
                      RefGrads* out) {
  const int64_t n_total = shape.n_total_nodes();
  const int64_t n_nodes = shape.n_nodes();
  const int64_t levels = shape.depth + 1;
  out->dx.assign(static_cast<size_t>(n_rows * kDModel), 0.0);
  out->dw_in.assign(static_cast<size_t>(n_total * kDModel), 0.0);
  out->db_in.assign(static_cast<size_t>(n_total), 0.0);
  out->dw_out.assign(static_cast<size_t>(n_total * kDModel), 0.0);
  int bad_paths = 0;
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = &hx[r * kDModel];
    const float* dyr = &hdy[r * kDModel];
    for (int64_t t = 0; t < shape.n_trees; ++t) {
      int64_t parent = -1;
      for (int64_t level = 0; level < levels; ++level) {
        const int32_t node = hn[(r * shape.n_trees + t) * levels + level];
        const bool on_path =
            node >= 0 && node < n_nodes &&
            (level == 0 ? node == 0 : (node - 1) / 2 == parent);
        if (!on_path) {
          ++bad_paths;
          break;
        }
        parent = node;
        const int64_t g = t * n_nodes + node;
        const float* wi = &hw.w_in[g * kDModel];
        const float* wo = &hw.w_out[g * kDModel];
        double z = hw.b_in[g], da = 0.0;
        for (int64_t k = 0; k < kDModel; ++k) {
          z += static_cast<double>(xr[k]) * wi[k];
          da += static_cast<double>(dyr[k]) * wo[k];
        }
        const double a = GeluRef(z);
        const double dz = da * GeluGradRef(z);
        for (int64_t k = 0; k < kDModel; ++k) {
          out->dx[r * kDModel + k] += dz * wi[k];
          out->dw_in[g * kDModel + k] += dz * xr[k];
          out->dw_out[g * kDModel + k] += a * dyr[k];
        }
        out->db_in[g] += dz;
      }
    }
  }
  return bad_paths;
}

std::vector<double> DenseForwardReference(const HostDense& h, bool tanh_gelu) {
  const int64_t f = kDenseHidden, d = kDModel;
  std::vector<double> ref(static_cast<size_t>(h.rows * d), 0.0);
  std::vector<double> hidden(static_cast<size_t>(f));
  for (int64_t r = 0; r < h.rows; ++r) {
    const float* x = &h.x[r * d];
    for (int64_t j = 0; j < f; ++j) {
      double z = h.b1[j];
      for (int64_t k = 0; k < d; ++k) {
        z += static_cast<double>(h.w1[j * d + k]) * x[k];
      }
      hidden[j] = tanh_gelu ? GeluTanhRef(z) : GeluRef(z);
    }
    for (int64_t i = 0; i < d; ++i) {
      double acc = h.b2[i];
      for (int64_t j = 0; j < f; ++j) acc += h.w2[i * f + j] * hidden[j];
      ref[r * d + i] = acc;
    }
  }
  return ref;
}

}  // namespace fff::cuda_bench
