// Request parsing for the server's routes (docs/server-api.md): the body of
// each POST route becomes a typed request or an ApiError (422 for malformed
// JSON or fields, 400 for no inputs, 413 for too many). The request shapes
// are text-embeddings-inference's (/embed, /predict, /tokenize, /decode),
// OpenAI's (/v1/embeddings) and the HF Inference API's fill-mask.
//
// Parsers are pure functions of the body: they allocate, never throw, never
// touch the model (vocabulary and length checks happen in the handlers) and
// are fuzzed (tests/fuzz/server_request_fuzz.cc). Unknown fields are ignored,
// as TEI and OpenAI do.
#ifndef FFF_TOOLS_SERVER_API_H_
#define FFF_TOOLS_SERVER_API_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/server/errors.h"

namespace fff::server {

struct ParseLimits {
  // Most inputs in one request (--max-client-batch-size); more is 413.
  size_t max_inputs = 32;
  // Deepest JSON nesting accepted (arrays and objects); deeper is 422. The
  // legitimate shapes need 3.
  int max_json_depth = 8;
};

// One input as the client sent it: a text (or, for /predict, a pair of
// texts) or pre-tokenized ids (TEI's `inputs: [101, 2023, 102]`), used as
// given (no special tokens added).
struct TextInput {
  std::string text;
  std::optional<std::string> pair;  // /predict: the second text of a pair
  bool is_ids = false;
  std::vector<int32_t> ids;  // when is_ids: each in [0, 2^31)
};

// POST /embed
struct EmbedRequest {
  std::vector<TextInput> inputs;
  bool single = false;  // `inputs` was one input, not a list: the response
                        // is still a list of embeddings (TEI)
  bool normalize = true;
  std::optional<bool> truncate;  // unset: the server's --auto-truncate
  std::optional<int64_t> dimensions;
};

// POST /v1/embeddings (OpenAI)
struct OpenAiEmbedRequest {
  std::vector<TextInput> inputs;
  bool single = false;
  std::string model;    // echoed back; any value accepted
  bool base64 = false;  // encoding_format "base64": little-endian float32
  std::optional<int64_t> dimensions;
};

// POST /predict
struct PredictRequest {
  std::vector<TextInput> inputs;  // texts or pairs
  bool single = false;  // one sequence (or pair): the response is one list
  std::optional<bool> truncate;
  bool raw_scores = false;
};

// POST /fill-mask (HF Inference API: {"inputs", "parameters": {"top_k"}})
struct FillMaskRequest {
  std::vector<TextInput> inputs;
  bool single = false;
  int top_k = 5;  // 1..1000 (and at most the vocabulary)
  std::optional<bool> truncate;
};

// POST /tokenize
struct TokenizeRequest {
  std::vector<std::string> inputs;
  bool add_special_tokens = true;
};

// POST /decode
struct DecodeRequest {
  std::vector<std::vector<int32_t>> ids;
  bool skip_special_tokens = true;
};

ApiResult<EmbedRequest> ParseEmbedRequest(std::string_view body,
                                          const ParseLimits& limits);
ApiResult<OpenAiEmbedRequest> ParseOpenAiEmbedRequest(
    std::string_view body, const ParseLimits& limits);
ApiResult<PredictRequest> ParsePredictRequest(std::string_view body,
                                              const ParseLimits& limits);
ApiResult<FillMaskRequest> ParseFillMaskRequest(std::string_view body,
                                                const ParseLimits& limits);
ApiResult<TokenizeRequest> ParseTokenizeRequest(std::string_view body,
                                                const ParseLimits& limits);
ApiResult<DecodeRequest> ParseDecodeRequest(std::string_view body,
                                            const ParseLimits& limits);

// Deepest nesting of arrays/objects in `body` (strings skipped), counted
// without parsing so that hostile depth is rejected before a parser sees it.
int JsonNestingDepth(std::string_view body);

// Standard base64 (RFC 4648, with padding) of `n_bytes` bytes.
std::string Base64Encode(const void* data, size_t n_bytes);

}  // namespace fff::server

#endif  // FFF_TOOLS_SERVER_API_H_
