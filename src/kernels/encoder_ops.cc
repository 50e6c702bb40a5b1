#include "src/kernels/encoder_ops.h"

#include <algorithm>
#include <cmath>

namespace fff {

void LayerNormRows(const float* x, float* y, int64_t n_rows, int64_t d,
                   std::span<const float> gamma, std::span<const float> beta,
                   float eps) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    // Two passes in double: the row statistics are exact to float precision
    // whatever the row's offset (LayerNorm inputs are residual streams that
    // can drift far from zero).
    double sum = 0.0;
    for (int64_t i = 0; i < d; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(d);
    double sq = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      const double c = xr[i] - mean;
      sq += c * c;
    }
    const double inv = 1.0 / std::sqrt(sq / static_cast<double>(d) + eps);
    // Normalise in double, so the result carries one float rounding of the
    // normalised value whatever the row's offset from zero.
    for (int64_t i = 0; i < d; ++i) {
      const float z = static_cast<float>((xr[i] - mean) * inv);
      yr[i] = beta.empty() ? z * gamma[i] : z * gamma[i] + beta[i];
    }
  }
}

void AddInPlace(float* y, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += b[i];
}

void AttentionCore(const float* qkv, float* ctx, int64_t n_tokens,
                   int64_t head_begin, int64_t head_end, int64_t n_heads,
                   int64_t d_head, float scale, float* scores) {
  const int64_t d_model = n_heads * d_head;
  const int64_t qkv_stride = 3 * d_model;
  for (int64_t h = head_begin; h < head_end; ++h) {
    const int64_t q_off = h * 3 * d_head;
    const int64_t k_off = q_off + d_head;
    const int64_t v_off = q_off + 2 * d_head;
    for (int64_t i = 0; i < n_tokens; ++i) {
      const float* q = qkv + i * qkv_stride + q_off;
      float max_score = -INFINITY;
      for (int64_t j = 0; j < n_tokens; ++j) {
        const float* k = qkv + j * qkv_stride + k_off;
        float dot = 0.0f;
        for (int64_t c = 0; c < d_head; ++c) dot += q[c] * k[c];
        scores[j] = dot * scale;
        max_score = std::max(max_score, scores[j]);
      }
      float denom = 0.0f;
      for (int64_t j = 0; j < n_tokens; ++j) {
        scores[j] = std::exp(scores[j] - max_score);
        denom += scores[j];
      }
      const float inv = 1.0f / denom;
      float* out = ctx + i * d_model + h * d_head;
      std::fill(out, out + d_head, 0.0f);
      for (int64_t j = 0; j < n_tokens; ++j) {
        const float p = scores[j] * inv;
        const float* v = qkv + j * qkv_stride + v_off;
        for (int64_t c = 0; c < d_head; ++c) out[c] += p * v[c];
      }
    }
  }
}

void GeluGluRows(const float* in, float* out, int64_t n_rows, int64_t half) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* x = in + r * 2 * half;
    const float* gate = x + half;
    float* o = out + r * half;
    for (int64_t i = 0; i < half; ++i) {
      const float g = gate[i];
      o[i] = 0.5f * g * (1.0f + std::erf(g * 0.70710678118654752f)) * x[i];
    }
  }
}

void SinusoidalTable(float* table, int64_t n_positions, int64_t d) {
  // -ln(10000)/d is a Python float (double) rounded to float32 when it
  // multiplies the float32 arange.
  const float coef =
      static_cast<float>(-std::log(10000.0) / static_cast<double>(d));
  for (int64_t i = 0; i < d / 2; ++i) {
    const float freq = std::exp(static_cast<float>(2 * i) * coef);
    for (int64_t p = 0; p < n_positions; ++p) {
      const float angle = static_cast<float>(p) * freq;
      table[p * d + 2 * i] = std::sin(angle);
      table[p * d + 2 * i + 1] = std::cos(angle);
    }
  }
}

}  // namespace fff
