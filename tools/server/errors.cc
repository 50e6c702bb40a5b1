#include "tools/server/errors.h"

#include <nlohmann/json.hpp>

namespace fff::server {

ErrorInfo GetErrorInfo(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kValidation:
      return {422, "validation"};
    case ErrorKind::kTokenizer:
      return {422, "tokenizer"};
    case ErrorKind::kEmpty:
      return {400, "empty"};
    case ErrorKind::kPayloadTooLarge:
      return {413, "payload_too_large"};
    case ErrorKind::kOverloaded:
      return {429, "overloaded"};
    case ErrorKind::kUnavailable:
      return {503, "unhealthy"};
    case ErrorKind::kTimeout:
      return {504, "timeout"};
    case ErrorKind::kUnsupported:
      return {424, "unsupported"};
    case ErrorKind::kNotFound:
      return {404, "not_found"};
    case ErrorKind::kMethodNotAllowed:
      return {405, "method_not_allowed"};
    case ErrorKind::kInternal:
      return {500, "backend"};
  }
  return {500, "backend"};
}

std::string RenderError(const ApiError& error) {
  nlohmann::ordered_json j = {
      {"error", error.message},
      {"error_type", GetErrorInfo(error.kind).error_type}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string RenderOpenAiError(const ApiError& error) {
  const ErrorInfo info = GetErrorInfo(error.kind);
  nlohmann::ordered_json j = {{"error",
                               {{"message", error.message},
                                {"type", info.error_type},
                                {"code", info.http_status}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ErrorKind ErrorKindForHttpStatus(int http_status) {
  switch (http_status) {
    case 400:
      return ErrorKind::kValidation;  // a request httplib could not parse
    case 404:
      return ErrorKind::kNotFound;
    case 405:
      return ErrorKind::kMethodNotAllowed;
    case 413:
    case 414:
    case 431:
      return ErrorKind::kPayloadTooLarge;
    case 429:
      return ErrorKind::kOverloaded;
    case 503:
      return ErrorKind::kUnavailable;
    default:
      return http_status >= 500 ? ErrorKind::kInternal : ErrorKind::kValidation;
  }
}

}  // namespace fff::server
