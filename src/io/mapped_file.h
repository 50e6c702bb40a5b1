// A whole file mapped read-only into memory (RAII over open/fstat/mmap).
#ifndef FFF_SRC_IO_MAPPED_FILE_H_
#define FFF_SRC_IO_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fff/status.h"

namespace fff::internal {

// Owns a private read-only mapping of a regular file; the bytes stay valid
// (and unchanged, unless another process truncates or rewrites the file) until
// the MappedFile is destroyed or moved from. An empty file maps to an empty
// span. Movable, not copyable; const methods are thread-safe.
class MappedFile {
 public:
  // Errors name the path and the errno text: NotFound for a missing file,
  // InvalidArgument for a directory or other non-regular file.
  static Result<MappedFile> Open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  MappedFile(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  void Unmap();

  const uint8_t* data_ = nullptr;  // nullptr when size_ == 0
  size_t size_ = 0;
};

// Tells the kernel that `bytes` (inside a mapping) will be read at random:
// no read-ahead, so a page fault reads that page only (madvise MADV_RANDOM,
// on the whole pages the span touches). Best effort: an error changes
// nothing else and is returned for the caller to log.
Status AdviseRandomAccess(std::span<const uint8_t> bytes);
// Asks the kernel to read `bytes`' pages now, in the background
// (MADV_WILLNEED: read-ahead of exactly that range; the call does not wait
// for the disk). Best effort, as above.
Status AdviseWillNeed(std::span<const uint8_t> bytes);

}  // namespace fff::internal

#endif  // FFF_SRC_IO_MAPPED_FILE_H_
