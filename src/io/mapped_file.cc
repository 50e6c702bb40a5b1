#include "src/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "src/io/posix_error.h"

namespace fff::internal {
namespace {

// Closes the descriptor on every path out of Open (the mapping does not need
// it once made).
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

}  // namespace

Result<MappedFile> MappedFile::Open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO passed as a "file" must not hang; it has no
  // effect on regular files, and anything else is rejected below.
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoError(errno, path + ": cannot open");
  FdCloser closer(fd);

  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError(errno, path + ": cannot stat");
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgumentError(path + ": not a regular file");
  }
  if (st.st_size < 0 ||
      static_cast<uint64_t>(st.st_size) > std::numeric_limits<size_t>::max()) {
    return OutOfRangeError(path + ": file size " + std::to_string(st.st_size) +
                           " cannot be mapped on this platform");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) return MappedFile();

  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (addr == MAP_FAILED) {
    return ErrnoError(errno,
                      path + ": cannot map " + std::to_string(size) + " bytes");
  }
  return MappedFile(static_cast<const uint8_t*>(addr), size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    Unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() { Unmap(); }

void MappedFile::Unmap() {
  if (data_ != nullptr) {
    ::munmap(const_cast<uint8_t*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }
}

namespace {
Status Advise(std::span<const uint8_t> bytes, int advice, const char* name) {
  if (bytes.empty()) return Status::Ok();
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin =
      reinterpret_cast<uintptr_t>(bytes.data()) / page * page;
  const uintptr_t end =
      reinterpret_cast<uintptr_t>(bytes.data()) + bytes.size();
  if (::madvise(reinterpret_cast<void*>(begin), end - begin, advice) != 0) {
    return ErrnoError(errno, std::string("madvise(") + name + ")");
  }
  return Status::Ok();
}
}  // namespace

Status AdviseRandomAccess(std::span<const uint8_t> bytes) {
  return Advise(bytes, MADV_RANDOM, "MADV_RANDOM");
}
Status AdviseWillNeed(std::span<const uint8_t> bytes) {
  return Advise(bytes, MADV_WILLNEED, "MADV_WILLNEED");
}

}  // namespace fff::internal
