// Writing a file atomically: the bytes go to `path`.tmp, which is flushed to
// disk (fsync), closed and renamed over `path`, so readers see the old file
// or the complete new one, never a partial one.
#ifndef FFF_SRC_IO_ATOMIC_FILE_H_
#define FFF_SRC_IO_ATOMIC_FILE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "fff/status.h"

namespace fff::internal {

// One file being written; the temporary file is removed unless Commit
// succeeds. Not copyable or movable; one owner.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path)
      : path_(std::move(path)), tmp_path_(path_ + ".tmp") {}
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Creates (truncates) `path`.tmp. Errors name it and the errno text.
  Status Create();
  Status Write(const void* data, size_t size);
  // fsync, close, rename over `path`, then fsync the directory (best effort:
  // a file system that cannot sync directories is not an error).
  Status Commit();

 private:
  std::string path_, tmp_path_;
  int fd_ = -1;
  bool created_ = false;
};

// `content` written to `path` through an AtomicFile.
Status WriteFileAtomically(const std::string& path, std::string_view content);

}  // namespace fff::internal

#endif  // FFF_SRC_IO_ATOMIC_FILE_H_
