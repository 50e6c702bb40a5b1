// Internal logging: FFF_LOG(kInfo, "format {}", args...) formats with fmt and
// forwards to the callback installed through fff/log.h. Formatting happens
// only when a callback wants the level. Never use in a hot path.
#ifndef FFF_SRC_BASE_LOG_INTERNAL_H_
#define FFF_SRC_BASE_LOG_INTERNAL_H_

#include <fmt/format.h>

#include <string>

#include "fff/log.h"

namespace fff::internal {

bool LogEnabled(LogLevel level);
void LogMessage(LogLevel level, const std::string& message);

}  // namespace fff::internal

#define FFF_LOG(level, ...)                                    \
  do {                                                         \
    if (::fff::internal::LogEnabled(::fff::LogLevel::level)) { \
      ::fff::internal::LogMessage(::fff::LogLevel::level,      \
                                  ::fmt::format(__VA_ARGS__)); \
    }                                                          \
  } while (0)

#endif  // FFF_SRC_BASE_LOG_INTERNAL_H_
