// The encoder's small ops besides the matrix products: LayerNorm, the
// attention core of one sequence, GELU-gated units, positional tables.
// Plain C++ over contiguous row-major buffers; each output row is computed by
// one call in a fixed order, so results do not depend on threads or batching.
#ifndef FFF_SRC_KERNELS_ENCODER_OPS_H_
#define FFF_SRC_KERNELS_ENCODER_OPS_H_

#include <cstdint>
#include <span>

namespace fff {

// y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta for n_rows rows of
// width d (biased variance, as torch.nn.LayerNorm). beta may be empty. x and y
// may be the same buffer.
void LayerNormRows(const float* x, float* y, int64_t n_rows, int64_t d,
                   std::span<const float> gamma, std::span<const float> beta,
                   float eps);

// y[r] = a[r] + b[r] elementwise over n elements (a or b may alias y).
void AddInPlace(float* y, const float* b, int64_t n);

// Multi-head self-attention core for ONE sequence of `n_tokens` tokens.
// qkv [n_tokens, 3*d_model]: per token, head h owns the 3*d_head values
//   starting at h*3*d_head: q (d_head), then k, then v — the Megatron layout
//   of crammedBERT's query_key_value output.
// ctx [n_tokens, d_model]: head h's context at columns h*d_head.
// Computes heads [head_begin, head_end) only (callers split heads across
// threads). scores: scratch of >= n_tokens floats.
// scores = (q . k) * scale, softmax over keys (all keys: no padding exists in
// a packed sequence), ctx = sum_j p_j v_j.
void AttentionCore(const float* qkv, float* ctx, int64_t n_tokens,
                   int64_t head_begin, int64_t head_end, int64_t n_heads,
                   int64_t d_head, float scale, float* scores);

// GELU-gated unit of crammedBERT's GELUglu feedforward, per row:
// out[i] = GELU(in[half + i]) * in[i] for i < half, in = [n_rows, 2*half].
void GeluGluRows(const float* in, float* out, int64_t n_rows, int64_t half);

// The sinusoidal position table [n_positions, d] built in float32 the way
// crammedBERT does (pos and frequency in float32, their product rounded to
// float32, then sin/cos): even columns sin, odd columns cos. d must be even.
void SinusoidalTable(float* table, int64_t n_positions, int64_t d);

}  // namespace fff

#endif  // FFF_SRC_KERNELS_ENCODER_OPS_H_
