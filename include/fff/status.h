// Status and Result<T>: how every fallible fff call reports failure.
//
// The library never throws across its API and never aborts on user input:
// a function that can fail on input returns Status (or Result<T> when it
// also produces a value). Messages name the file, tensor or field at fault
// and give the expected against the received value, e.g.
//   "fff: x: expected 768 columns (d_in), got 512".
#ifndef FFF_STATUS_H_
#define FFF_STATUS_H_

#include <string>
#include <utility>
#include <variant>

namespace fff {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // a shape, pointer or option the caller passed is wrong
  kOutOfRange,          // a size/index beyond a supported limit
  kNotFound,            // a named file, tensor or target does not exist
  kFailedPrecondition,  // call order / state problem
  kResourceExhausted,   // allocation failed or a request exceeds a limit
  kDataLoss,            // a file is malformed or truncated
  kUnimplemented,
  kInternal,  // a bug in fff: please report
};

// Human-readable name of a code, e.g. "InvalidArgument".
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: <message>" or "OK".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
inline Status OutOfRangeError(std::string m) {
  return Status(StatusCode::kOutOfRange, std::move(m));
}
inline Status NotFoundError(std::string m) {
  return Status(StatusCode::kNotFound, std::move(m));
}
inline Status ResourceExhaustedError(std::string m) {
  return Status(StatusCode::kResourceExhausted, std::move(m));
}
inline Status DataLossError(std::string m) {
  return Status(StatusCode::kDataLoss, std::move(m));
}
inline Status InternalError(std::string m) {
  return Status(StatusCode::kInternal, std::move(m));
}

// A value or the Status explaining why there is none. Constructing a Result
// from an OK Status is a bug and yields an Internal error instead.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) {
      v_ = InternalError("Result constructed from an OK Status");
    }
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // Preconditions: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace fff

#define FFF_STATUS_CONCAT_INNER_(a, b) a##b
#define FFF_STATUS_CONCAT_(a, b) FFF_STATUS_CONCAT_INNER_(a, b)

// Returns from the calling function when `expr` (a Status) is not OK.
#define FFF_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::fff::Status fff_status_ = (expr);        \
    if (!fff_status_.ok()) return fff_status_; \
  } while (0)

// `lhs = value of expr` (a Result<T>), or returns its Status from the caller.
#define FFF_ASSIGN_OR_RETURN(lhs, expr)                        \
  auto FFF_STATUS_CONCAT_(fff_result_, __LINE__) = (expr);     \
  if (!FFF_STATUS_CONCAT_(fff_result_, __LINE__).ok())         \
    return FFF_STATUS_CONCAT_(fff_result_, __LINE__).status(); \
  lhs = std::move(FFF_STATUS_CONCAT_(fff_result_, __LINE__)).value()

#endif  // FFF_STATUS_H_
