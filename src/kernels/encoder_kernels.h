// Target-independent declarations of the encoder's SIMD kernels (compiled
// per Highway target in encoder_cpu.cc). The model picks one table at load.
#ifndef FFF_SRC_KERNELS_ENCODER_KERNELS_H_
#define FFF_SRC_KERNELS_ENCODER_KERNELS_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace fff::kernels {

// Floats of scratch AttentionHead needs for a sequence of n_tokens.
int64_t AttentionScratchFloats(int64_t n_tokens, int64_t d_head);

// One head of the attention core for one sequence: same contract as
// AttentionCore (encoder_ops.h) for heads [head, head + 1). `scratch` holds
// AttentionScratchFloats(n_tokens, d_head) floats, 64-byte aligned.
// Per-key scores are summed in a fixed order that does not depend on
// n_tokens, so results depend only on the sequence itself.
using AttentionHeadFn = void (*)(const float* qkv, float* ctx, int64_t n_tokens,
                                 int64_t head, int64_t n_heads, int64_t d_head,
                                 float scale, float* scratch);

// LayerNorm of n_rows rows of width d: same contract and numerics as
// LayerNormRows (encoder_ops.h): statistics and normalisation in double,
// one float rounding of the normalised value. beta may be null.
using LayerNormFn = void (*)(const float* x, float* y, int64_t n_rows,
                             int64_t d, const float* gamma, const float* beta,
                             float eps);

struct EncoderKernelTable {
  int64_t target = 0;     // Highway target bit
  const char* name = "";  // e.g. "AVX3"
  AttentionHeadFn attention_head = nullptr;
  LayerNormFn layer_norm = nullptr;
};

std::vector<const EncoderKernelTable*> CompiledEncoderKernelTables();
std::vector<const EncoderKernelTable*> SupportedEncoderKernelTables();
// Case-insensitive; nullptr when not compiled or not supported.
const EncoderKernelTable* FindEncoderKernelTable(std::string_view name);

}  // namespace fff::kernels

#endif  // FFF_SRC_KERNELS_ENCODER_KERNELS_H_
