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
// Reads the byte ranges [first, second) of the file at `path` into the page
// cache now, exactly (posix_fadvise RANDOM on its own descriptor, so no
// read-ahead runs past a range; pread in 4 MiB chunks, last first). For mapped files
// whose faults must not read ahead (madvise RANDOM) but whose other parts
// are read in full: they are then read at full speed.
Status ReadIntoPageCache(
    const std::string& path,
    const std::vector<std::pair<uint64_t, uint64_t>>& ranges);
// Drops `bytes`' pages from this mapping (MADV_DONTNEED on a read-only
// private file mapping: the data stays in the file and the page cache, and
// a later read faults it back in; RSS no longer counts it).
Status AdviseDontNeed(std::span<const uint8_t> bytes);
// Asks the kernel to read `bytes`' pages now (MADV_WILLNEED: read-ahead of
// exactly that range). Best effort, as above.
Status AdviseWillNeed(std::span<const uint8_t> bytes);

}  // namespace fff::internal

#endif  // FFF_SRC_IO_MAPPED_FILE_H_
