#include <cstdio>
#include <mutex>

#include "src/base/log_internal.h"

namespace fff {
namespace {

struct LogState {
  std::mutex mu;
  LogCallback callback = nullptr;
  void* user_data = nullptr;
  LogLevel min_level = LogLevel::kInfo;
};

LogState& State() {
  static LogState state;
  return state;
}

}  // namespace

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

void SetLogCallback(LogCallback callback, void* user_data, LogLevel min_level) {
  LogState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  s.callback = callback;
  s.user_data = user_data;
  s.min_level = min_level;
}

void StderrLogCallback(LogLevel level, const char* message, void*) {
  std::fprintf(stderr, "[fff %s] %s\n", LogLevelName(level), message);
}

namespace internal {

bool LogEnabled(LogLevel level) {
  LogState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.callback != nullptr && level >= s.min_level;
}

void LogMessage(LogLevel level, const std::string& message) {
  LogState& s = State();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.callback != nullptr && level >= s.min_level) {
    s.callback(level, message.c_str(), s.user_data);
  }
}

}  // namespace internal
}  // namespace fff
