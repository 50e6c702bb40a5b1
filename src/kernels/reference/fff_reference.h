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

}  // namespace fff::reference

#endif  // FFF_SRC_KERNELS_REFERENCE_FFF_REFERENCE_H_
