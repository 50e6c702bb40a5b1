// Plain scalar references for the FFF layer, written for clarity, templated
// on the arithmetic type (float or double). Tests compare every fast path
// against FffForwardReference<double>; FffForwardMaskedDense is the paper's
// training-time computation (all logits, masked activations, one dense
// product) and must agree with the conditional one.
//
// Shapes and layouts are those of fff/fff.h. Preconditions (unchecked: the
// callers are tests and the planned layer): shape valid, buffers large
// enough. `nodes` and `logits` ([n_rows, n_trees, depth+1]) may be null.
#ifndef FFF_SRC_KERNELS_REFERENCE_FFF_REFERENCE_H_
#define FFF_SRC_KERNELS_REFERENCE_FFF_REFERENCE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fff/fff.h"

namespace fff::reference {

// Exact GELU: 0.5 z (1 + erf(z / sqrt 2)).
template <class T>
T Gelu(T z) {
  return T(0.5) * z * (T(1) + std::erf(z / std::sqrt(T(2))));
}

// Conditional forward: walks each tree, touching only visited nodes.
template <class T>
void FffForward(const FffShape& s, const T* w_in, const T* b_in, const T* w_out,
                const T* x, int64_t x_stride, int64_t n_rows, T* y,
                int64_t y_stride, int32_t* nodes, T* logits) {
  const int64_t n_nodes = s.n_nodes();
  for (int64_t r = 0; r < n_rows; ++r) {
    const T* xr = x + r * x_stride;
    T* yr = y + r * y_stride;
    for (int64_t o = 0; o < s.d_out; ++o) yr[o] = T(0);
    for (int64_t t = 0; t < s.n_trees; ++t) {
      int64_t node = 0;
      for (int64_t level = 0; level <= s.depth; ++level) {
        const int64_t g = t * n_nodes + node;  // global node index
        T z = b_in[g];
        for (int64_t i = 0; i < s.d_in; ++i) z += xr[i] * w_in[g * s.d_in + i];
        const T a = Gelu(z);
        for (int64_t o = 0; o < s.d_out; ++o)
          yr[o] += a * w_out[g * s.d_out + o];
        const int64_t at = (r * s.n_trees + t) * (s.depth + 1) + level;
        if (nodes != nullptr) nodes[at] = static_cast<int32_t>(node);
        if (logits != nullptr) logits[at] = z;
        node = 2 * node + 1 + (z > T(0) ? 1 : 0);
      }
    }
  }
}

// Masked-dense forward, as UltraFastBERT trains: every logit of every node is
// computed (a dense [n_rows, n_total] product), activations are multiplied by
// a 0/1 mask of the visited path, and the output is one dense product with
// all of w_out. Same outputs as FffForward.
template <class T>
void FffForwardMaskedDense(const FffShape& s, const T* w_in, const T* b_in,
                           const T* w_out, const T* x, int64_t x_stride,
                           int64_t n_rows, T* y, int64_t y_stride,
                           int32_t* nodes, T* logits) {
  const int64_t n_nodes = s.n_nodes();
  const int64_t n_total = s.n_total_nodes();
  std::vector<T> z(static_cast<size_t>(n_total));
  std::vector<T> mask(static_cast<size_t>(n_total));
  for (int64_t r = 0; r < n_rows; ++r) {
    const T* xr = x + r * x_stride;
    for (int64_t g = 0; g < n_total; ++g) {  // all logits, densely
      T acc = b_in[g];
      for (int64_t i = 0; i < s.d_in; ++i) acc += xr[i] * w_in[g * s.d_in + i];
      z[g] = acc;
    }
    std::fill(mask.begin(), mask.end(), T(0));
    for (int64_t t = 0; t < s.n_trees; ++t) {  // the hard path, no gradient
      int64_t node = 0;
      for (int64_t level = 0; level <= s.depth; ++level) {
        const int64_t g = t * n_nodes + node;
        mask[g] = T(1);
        const int64_t at = (r * s.n_trees + t) * (s.depth + 1) + level;
        if (nodes != nullptr) nodes[at] = static_cast<int32_t>(node);
        if (logits != nullptr) logits[at] = z[g];
        node = 2 * node + 1 + (z[g] > T(0) ? 1 : 0);
      }
    }
    T* yr = y + r * y_stride;
    for (int64_t o = 0; o < s.d_out; ++o) {  // dense product with all of w_out
      T acc = T(0);
      for (int64_t g = 0; g < n_total; ++g) {
        acc += Gelu(z[g]) * mask[g] * w_out[g * s.d_out + o];
      }
      yr[o] = acc;
    }
  }
}

// d GELU(z) / dz = Phi(z) + z phi(z).
template <class T>
T GeluGrad(T z) {
  const T inv_sqrt2 = T(1) / std::sqrt(T(2));
  const T inv_sqrt_2pi = T(1) / std::sqrt(T(2) * T(3.14159265358979323846));
  return T(0.5) * (T(1) + std::erf(z * inv_sqrt2)) +
         z * inv_sqrt_2pi * std::exp(T(-0.5) * z * z);
}

// Conditional backward (fff/fff.h, Gradients): from dy [n_rows, d_out] and the
// routing FffForward recorded (nodes within their tree, logits), writes dx
// [n_rows, d_in] and ADDS the weight gradients into dw_in, db_in and dw_out
// (node-major), touching only visited nodes.
template <class T>
void FffBackward(const FffShape& s, const T* w_in, const T* w_out, const T* x,
                 int64_t x_stride, const T* dy, int64_t dy_stride,
                 int64_t n_rows, const int32_t* nodes, const T* logits, T* dx,
                 int64_t dx_stride, T* dw_in, T* db_in, T* dw_out) {
  const int64_t n_nodes = s.n_nodes();
  for (int64_t r = 0; r < n_rows; ++r) {
    const T* xr = x + r * x_stride;
    const T* dyr = dy + r * dy_stride;
    T* dxr = dx + r * dx_stride;
    for (int64_t i = 0; i < s.d_in; ++i) dxr[i] = T(0);
    for (int64_t t = 0; t < s.n_trees; ++t) {
      for (int64_t level = 0; level <= s.depth; ++level) {
        const int64_t at = (r * s.n_trees + t) * (s.depth + 1) + level;
        const int64_t g = t * n_nodes + nodes[at];
        const T z = logits[at];
        T da = T(0);
        for (int64_t o = 0; o < s.d_out; ++o) da += dyr[o] * w_out[g * s.d_out + o];
        const T dz = da * GeluGrad(z);
        const T a = Gelu(z);
        for (int64_t i = 0; i < s.d_in; ++i) {
          dxr[i] += dz * w_in[g * s.d_in + i];
          dw_in[g * s.d_in + i] += dz * xr[i];
        }
        db_in[g] += dz;
        for (int64_t o = 0; o < s.d_out; ++o) dw_out[g * s.d_out + o] += a * dyr[o];
      }
    }
  }
}

// The gradients of FffForwardMaskedDense as autograd computes them: dense
// products over every node with the activations' gradient multiplied by the
// path mask (no gradient through the mask). Same contract as FffBackward
// (recomputes the logits and the mask from x).
template <class T>
void FffBackwardMaskedDense(const FffShape& s, const T* w_in, const T* b_in,
                            const T* w_out, const T* x, int64_t x_stride,
                            const T* dy, int64_t dy_stride, int64_t n_rows,
                            T* dx, int64_t dx_stride, T* dw_in, T* db_in,
                            T* dw_out) {
  const int64_t n_nodes = s.n_nodes();
  const int64_t n_total = s.n_total_nodes();
  std::vector<T> z(static_cast<size_t>(n_total));
  std::vector<T> mask(static_cast<size_t>(n_total));
  std::vector<T> dz(static_cast<size_t>(n_total));
  for (int64_t r = 0; r < n_rows; ++r) {
    const T* xr = x + r * x_stride;
    const T* dyr = dy + r * dy_stride;
    for (int64_t g = 0; g < n_total; ++g) {
      T acc = b_in[g];
      for (int64_t i = 0; i < s.d_in; ++i) acc += xr[i] * w_in[g * s.d_in + i];
      z[g] = acc;
    }
    std::fill(mask.begin(), mask.end(), T(0));
    for (int64_t t = 0; t < s.n_trees; ++t) {
      int64_t node = 0;
      for (int64_t level = 0; level <= s.depth; ++level) {
        mask[t * n_nodes + node] = T(1);
        node = 2 * node + 1 + (z[t * n_nodes + node] > T(0) ? 1 : 0);
      }
    }
    // y = (GELU(z) * mask) W_out^T: d(masked act) = dy W_out, then through
    // the mask and GELU; dW_out += dy^T (GELU(z) * mask).
    for (int64_t g = 0; g < n_total; ++g) {
      T dmasked = T(0);
      for (int64_t o = 0; o < s.d_out; ++o) dmasked += dyr[o] * w_out[g * s.d_out + o];
      dz[g] = dmasked * mask[g] * GeluGrad(z[g]);
      const T am = Gelu(z[g]) * mask[g];
      for (int64_t o = 0; o < s.d_out; ++o) dw_out[g * s.d_out + o] += am * dyr[o];
      db_in[g] += dz[g];
      for (int64_t i = 0; i < s.d_in; ++i) dw_in[g * s.d_in + i] += dz[g] * xr[i];
    }
    T* dxr = dx + r * dx_stride;
    for (int64_t i = 0; i < s.d_in; ++i) {
      T acc = T(0);
      for (int64_t g = 0; g < n_total; ++g) acc += dz[g] * w_in[g * s.d_in + i];
      dxr[i] = acc;
    }
  }
}

}  // namespace fff::reference

#endif  // FFF_SRC_KERNELS_REFERENCE_FFF_REFERENCE_H_
