// Plain scalar references for the leaf FFF (fff/leaf_fff.h), written for
// clarity and templated on the arithmetic type: the hard inference every
// fast path is tested against, and the soft training forward (all leaves
// mixed by router probabilities) that the torch module is tested against.
// Weights are given as T arrays in fff's layouts (leaf_w1 hidden-major).
// Preconditions (unchecked; callers are tests): shape valid, buffers large
// enough; optional outputs may be null.
#ifndef FFF_SRC_KERNELS_REFERENCE_LEAF_FFF_REFERENCE_H_
#define FFF_SRC_KERNELS_REFERENCE_LEAF_FFF_REFERENCE_H_

#include <cmath>
#include <cstdint>
#include <vector>

#include "fff/leaf_fff.h"
#include "src/kernels/reference/fff_reference.h"

namespace fff::reference {

template <class T>
struct LeafFffRefWeights {
  const T* router_w;  // [n_routers, d_in]
  const T* router_b;  // [n_routers]
  const T* w1;        // [n_leaves, leaf_width, d_in]
  const T* b1;        // [n_leaves, leaf_width]
  const T* w2;        // [n_leaves, leaf_width, d_out]
  const T* b2;        // [n_leaves, d_out]
};

template <class T>
T LeafActivate(LeafActivation a, T h) {
  return a == LeafActivation::kGelu ? Gelu(h) : (h > T(0) ? h : T(0));
}

// out[o] = b2[l][o] + sum_k act(x . w1[l][k] + b1[l][k]) w2[l][k][o].
template <class T>
void LeafNetwork(const LeafFffShape& s, const LeafFffRefWeights<T>& w,
                 int64_t leaf, const T* x, T* out) {
  for (int64_t o = 0; o < s.d_out; ++o) out[o] = T(0);
  for (int64_t k = 0; k < s.leaf_width; ++k) {
    const int64_t u = leaf * s.leaf_width + k;
    T h = w.b1[u];
    for (int64_t i = 0; i < s.d_in; ++i) h += x[i] * w.w1[u * s.d_in + i];
    const T a = LeafActivate(s.activation, h);
    for (int64_t o = 0; o < s.d_out; ++o) out[o] += a * w.w2[u * s.d_out + o];
  }
  for (int64_t o = 0; o < s.d_out; ++o) out[o] += w.b2[leaf * s.d_out + o];
}

// Hard inference: route (right iff z >= 0), evaluate the one leaf.
// `logits` [n_rows, depth] receives the router logits along the path.
template <class T>
void LeafFffHard(const LeafFffShape& s, const LeafFffRefWeights<T>& w,
                 const T* x, int64_t x_stride, int64_t n_rows, T* y,
                 int64_t y_stride, int32_t* leaves, T* logits) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const T* xr = x + r * x_stride;
    int64_t node = 0;
    for (int64_t level = 0; level < s.depth; ++level) {
      T z = w.router_b[node];
      for (int64_t i = 0; i < s.d_in; ++i) {
        z += xr[i] * w.router_w[node * s.d_in + i];
      }
      if (logits != nullptr) logits[r * s.depth + level] = z;
      node = 2 * node + 1 + (z >= T(0) ? 1 : 0);
    }
    const int64_t leaf = node - s.n_routers();
    if (leaves != nullptr) leaves[r] = static_cast<int32_t>(leaf);
    LeafNetwork(s, w, leaf, xr, y + r * y_stride);
  }
}

// Soft training forward: router r gives its right child s_r = sigmoid(z_r)
// and its left 1 - s_r; a leaf's mixture weight is the product along its
// path; y = sum over leaves of mixture * leaf network. Optional outputs:
// mixture [n_rows, n_leaves], entropy [n_rows, n_routers] (the Bernoulli
// entropy -s ln s - (1-s) ln(1-s) of every router, in nats).
template <class T>
void LeafFffSoft(const LeafFffShape& s, const LeafFffRefWeights<T>& w,
                 const T* x, int64_t x_stride, int64_t n_rows, T* y,
                 int64_t y_stride, T* mixture, T* entropy) {
  const int64_t n_routers = s.n_routers();
  std::vector<T> node_mix(static_cast<size_t>(n_routers + s.n_leaves()));
  std::vector<T> leaf_out(static_cast<size_t>(s.d_out));
  for (int64_t r = 0; r < n_rows; ++r) {
    const T* xr = x + r * x_stride;
    node_mix[0] = T(1);
    for (int64_t n = 0; n < n_routers; ++n) {
      T z = w.router_b[n];
      for (int64_t i = 0; i < s.d_in; ++i)
        z += xr[i] * w.router_w[n * s.d_in + i];
      const T p = T(1) / (T(1) + std::exp(-z));
      node_mix[2 * n + 1] = node_mix[n] * (T(1) - p);
      node_mix[2 * n + 2] = node_mix[n] * p;
      if (entropy != nullptr) {
        const T e0 = p > T(0) ? -p * std::log(p) : T(0);
        const T e1 = p < T(1) ? -(T(1) - p) * std::log(T(1) - p) : T(0);
        entropy[r * n_routers + n] = e0 + e1;
      }
    }
    T* yr = y + r * y_stride;
    for (int64_t o = 0; o < s.d_out; ++o) yr[o] = T(0);
    for (int64_t l = 0; l < s.n_leaves(); ++l) {
      const T m = node_mix[n_routers + l];
      if (mixture != nullptr) mixture[r * s.n_leaves() + l] = m;
      LeafNetwork(s, w, l, xr, leaf_out.data());
      for (int64_t o = 0; o < s.d_out; ++o) yr[o] += m * leaf_out[o];
    }
  }
}

}  // namespace fff::reference

#endif  // FFF_SRC_KERNELS_REFERENCE_LEAF_FFF_REFERENCE_H_
