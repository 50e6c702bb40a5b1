// The server's one error table: every way a request can fail is an
// ErrorKind, and each kind has exactly one HTTP status and one `error_type`
// string (docs/server-api.md lists them). Handlers never pick a status code
// themselves; they return an ApiError and the table renders it.
#ifndef FFF_TOOLS_SERVER_ERRORS_H_
#define FFF_TOOLS_SERVER_ERRORS_H_

#include <string>
#include <utility>
#include <variant>

namespace fff::server {

enum class ErrorKind {
  kValidation,        // 422: malformed JSON, wrong field type/value, input
                      //      longer than the model's maximum without truncate
  kTokenizer,         // 422: the tokenizer rejected the text
  kEmpty,             // 400: no inputs
  kPayloadTooLarge,   // 413: body over --max-body-bytes, or more inputs than
                      //      --max-client-batch-size
  kOverloaded,        // 429: --max-concurrent-requests reached
  kUnavailable,       // 503: the server is shutting down
  kTimeout,           // 504: not served within --request-timeout-ms
  kUnsupported,       // 424: the loaded model has no head for this route
  kNotFound,          // 404: no such route
  kMethodNotAllowed,  // 405: the route exists for another method
  kInternal,          // 500: a bug or an engine failure
};

// The row of the table for one kind.
struct ErrorInfo {
  int http_status;
  const char* error_type;  // the JSON body's "error_type"
};
ErrorInfo GetErrorInfo(ErrorKind kind);

// Every kind, in table order (tests and docs iterate over it).
inline constexpr ErrorKind kAllErrorKinds[] = {
    ErrorKind::kValidation, ErrorKind::kTokenizer,
    ErrorKind::kEmpty,      ErrorKind::kPayloadTooLarge,
    ErrorKind::kOverloaded, ErrorKind::kUnavailable,
    ErrorKind::kTimeout,    ErrorKind::kUnsupported,
    ErrorKind::kNotFound,   ErrorKind::kMethodNotAllowed,
    ErrorKind::kInternal};

struct ApiError {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
};

// {"error": message, "error_type": type} — text-embeddings-inference's shape.
std::string RenderError(const ApiError& error);
// {"error": {"message", "type", "code"}} — OpenAI's shape, for /v1/ routes.
std::string RenderOpenAiError(const ApiError& error);

// The kind for a status code a layer below HTTP produced (httplib answers
// oversized bodies with 413, unknown routes with 404, ...).
ErrorKind ErrorKindForHttpStatus(int http_status);

// A value or the ApiError explaining why there is none.
template <class T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : v_(std::move(value)) {}         // NOLINT: implicit
  ApiResult(ApiError error) : v_(std::move(error)) {}  // NOLINT: implicit
  bool ok() const { return std::holds_alternative<T>(v_); }
  const ApiError& error() const { return std::get<ApiError>(v_); }
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, ApiError> v_;
};

}  // namespace fff::server

#endif  // FFF_TOOLS_SERVER_ERRORS_H_
