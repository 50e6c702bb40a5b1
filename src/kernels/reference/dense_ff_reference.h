// Plain scalar reference for the dense feedforward block of fff/dense_ff.h,
// written for clarity and templated on the arithmetic type (float or double).
// Tests compare fff::DenseFf against DenseFfForward<double>, with a tolerance
// from DenseFfErrorBound.
//
// Layouts are those of fff/dense_ff.h (PyTorch nn.Linear). Preconditions
// (unchecked: the callers are tests): shape valid, buffers large enough.
#ifndef FFF_SRC_KERNELS_REFERENCE_DENSE_FF_REFERENCE_H_
#define FFF_SRC_KERNELS_REFERENCE_DENSE_FF_REFERENCE_H_

#include <cmath>
#include <cstdint>
#include <vector>

#include "fff/dense_ff.h"

namespace fff::reference {

// Exact GELU: 0.5 z (1 + erf(z / sqrt 2)).
template <class T>
T DenseFfGelu(T z) {
  return T(0.5) * z * (T(1) + std::erf(z / std::sqrt(T(2))));
}

// y[r] = GELU(x[r] W1^T + b1) W2^T + b2 for r in [0, n_rows), accumulating
// in T. `hidden_out` ([n_rows, d_hidden], may be null) receives the
// pre-activations z = x W1^T + b1.
template <class T, class In>
void DenseFfForward(const DenseFfShape& s, const In* w1, const In* b1,
                    const In* w2, const In* b2, const In* x, int64_t x_stride,
                    int64_t n_rows, T* y, int64_t y_stride,
                    T* hidden_out = nullptr) {
  std::vector<T> a(static_cast<size_t>(s.d_hidden));
  for (int64_t r = 0; r < n_rows; ++r) {
    const In* xr = x + r * x_stride;
    for (int64_t j = 0; j < s.d_hidden; ++j) {
      T z = T(b1[j]);
      for (int64_t i = 0; i < s.d_in; ++i) {
        z += T(xr[i]) * T(w1[j * s.d_in + i]);
      }
      if (hidden_out != nullptr) hidden_out[r * s.d_hidden + j] = z;
      a[j] = DenseFfGelu(z);
    }
    T* yr = y + r * y_stride;
    for (int64_t o = 0; o < s.d_out; ++o) {
      T acc = T(b2[o]);
      for (int64_t j = 0; j < s.d_hidden; ++j) {
        acc += a[j] * T(w2[o * s.d_hidden + j]);
      }
      yr[o] = acc;
    }
  }
}

// A rigorous bound on |y_float - y_exact| for one row of a float32
// implementation that sums in any order and evaluates GELU to within
// 16 u (|GELU(z)| + |z|) (oneDNN's erf polynomial is accurate to ~2.5 u):
//   e_z[j] = g(d_in + 1) (|b1_j| + sum_i |x_i w1_ji|)         first layer
//   e_a[j] = 1.13 e_z[j] + 16 u (|a_j| + |z_j|)                GELU,
//   Lipschitz 1.13 bound[o] = sum_j |w2_oj| e_a[j] propagated
//            + g(d_hidden + 1) (|b2_o| + sum_j (|a_j| + e_a[j]) |w2_oj|)
// with u = 2^-24 and g(n) = n u / (1 - n u) (Higham's gamma_n). `z` are the
// exact pre-activations of the row (from DenseFfForward<double>).
inline void DenseFfErrorBound(const DenseFfShape& s, const float* w1,
                              const float* b1, const float* w2, const float* b2,
                              const float* x, const double* z, double* bound) {
  const double u = std::ldexp(1.0, -24);
  auto gamma = [u](int64_t n) {
    return static_cast<double>(n) * u / (1.0 - static_cast<double>(n) * u);
  };
  std::vector<double> e_a(static_cast<size_t>(s.d_hidden));
  std::vector<double> abs_a(static_cast<size_t>(s.d_hidden));
  for (int64_t j = 0; j < s.d_hidden; ++j) {
    double s1 = std::fabs(double(b1[j]));
    for (int64_t i = 0; i < s.d_in; ++i) {
      s1 += std::fabs(double(x[i]) * double(w1[j * s.d_in + i]));
    }
    const double a = DenseFfGelu(z[j]);
    abs_a[j] = std::fabs(a);
    e_a[j] =
        1.13 * gamma(s.d_in + 1) * s1 + 16 * u * (abs_a[j] + std::fabs(z[j]));
  }
  for (int64_t o = 0; o < s.d_out; ++o) {
    double propagated = 0;
    double s2 = std::fabs(double(b2[o]));
    for (int64_t j = 0; j < s.d_hidden; ++j) {
      const double w = std::fabs(double(w2[o * s.d_hidden + j]));
      propagated += w * e_a[j];
      s2 += (abs_a[j] + e_a[j]) * w;
    }
    bound[o] = propagated + gamma(s.d_hidden + 1) * s2;
  }
}

}  // namespace fff::reference

#endif  // FFF_SRC_KERNELS_REFERENCE_DENSE_FF_REFERENCE_H_
