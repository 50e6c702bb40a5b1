// libFuzzer: the server's request parsers (tools/server/api.h) on arbitrary
// bodies. Every parser must return a request or an ApiError, never crash,
// throw or hang, and an accepted request must respect the limits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tools/server/api.h"

namespace {

template <class T>
size_t CountInputs(const T& r) {
  return r.inputs.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fff::server;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  ParseLimits limits;
  limits.max_inputs = 8;
  auto check = [&](const auto& r) {
    if (r.ok() && CountInputs(r.value()) > limits.max_inputs) std::abort();
  };
  check(ParseEmbedRequest(body, limits));
  check(ParseOpenAiEmbedRequest(body, limits));
  check(ParsePredictRequest(body, limits));
  check(ParseFillMaskRequest(body, limits));
  check(ParseTokenizeRequest(body, limits));
  auto d = ParseDecodeRequest(body, limits);
  if (d.ok() && d->ids.size() > limits.max_inputs) std::abort();
  return 0;
}
