// A whole file mapped read-only into memory (RAII over open/fstat/mmap).
#ifndef FFF_SRC_IO_MAPPED_FILE_H_
#define FFF_SRC_IO_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

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

}  // namespace fff::internal

#endif  // FFF_SRC_IO_MAPPED_FILE_H_
