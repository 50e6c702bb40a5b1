// Status from a failed POSIX call: the errno mapped to a StatusCode and its
// text appended to the message, e.g. "x.safetensors: cannot open: No such
// file or directory".
#ifndef FFF_SRC_IO_POSIX_ERROR_H_
#define FFF_SRC_IO_POSIX_ERROR_H_

#include <cerrno>
#include <string>
#include <system_error>

#include "fff/status.h"

namespace fff::internal {

inline StatusCode ErrnoStatusCode(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return StatusCode::kNotFound;
    case EACCES:
    case EPERM:
    case EROFS:
      return StatusCode::kFailedPrecondition;
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return StatusCode::kResourceExhausted;
    case EINVAL:
    case EISDIR:
    case ENAMETOOLONG:
      return StatusCode::kInvalidArgument;
    default:
      return StatusCode::kDataLoss;
  }
}

// `what` is the failed action with its subject ("x.bin: cannot open").
// std::generic_category().message is thread-safe, unlike strerror.
inline Status ErrnoError(int err, const std::string& what) {
  return Status(ErrnoStatusCode(err),
                what + ": " + std::generic_category().message(err));
}

}  // namespace fff::internal

#endif  // FFF_SRC_IO_POSIX_ERROR_H_
