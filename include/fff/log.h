// Logging: the library prints nothing by itself. Messages (the chosen SIMD
// target, plan decisions, warnings) go to one process-wide callback that the
// application installs; with no callback installed they are dropped.
#ifndef FFF_LOG_H_
#define FFF_LOG_H_

namespace fff {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// `message` is valid only during the call. May be called from any thread
// (never concurrently with itself: fff serialises calls).
using LogCallback = void (*)(LogLevel level, const char* message,
                             void* user_data);

// Installs `callback` (nullptr to silence) for messages at `min_level` or
// above. Thread-safe.
void SetLogCallback(LogCallback callback, void* user_data,
                    LogLevel min_level = LogLevel::kInfo);

// A ready callback that writes "[fff level] message" lines to stderr; the
// CLI tools install it.
void StderrLogCallback(LogLevel level, const char* message, void* user_data);

const char* LogLevelName(LogLevel level);

}  // namespace fff

#endif  // FFF_LOG_H_
