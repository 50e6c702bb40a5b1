// AlignedBuffer<T>: an owning, fixed-size, 64-byte aligned array for
// workspaces and repacked weights. Allocation failure is reported, not thrown:
// check ok() (or use Allocate, which returns a Status).
// AlignedVector<T>: a std::vector whose data is 64-byte aligned, for
// growable workspaces (a plain std::vector's large blocks start 16 bytes into
// a cache line, so every 64-byte vector load of them spans two lines).
#ifndef FFF_SRC_BASE_ALIGNED_BUFFER_H_
#define FFF_SRC_BASE_ALIGNED_BUFFER_H_

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fff/status.h"

namespace fff {

inline constexpr size_t kCacheLineBytes = 64;

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}  // NOLINT
  T* allocate(size_t n) {
    return static_cast<T*>(
        ::operator new (n * sizeof(T), std::align_val_t{kCacheLineBytes}));
  }
  void deallocate(T* p, size_t) noexcept {
    ::operator delete (p, std::align_val_t{kCacheLineBytes});
  }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~AlignedBuffer() { std::free(data_); }

  // Replaces the contents with `n` zero-initialised elements. `what` names the
  // buffer in the error message.
  Status Allocate(size_t n, const char* what) {
    return AllocateImpl(n, what, /*zero=*/true);
  }
  // As Allocate, but the contents are indeterminate (T must be trivial):
  // for workspaces always written before they are read, whose pages then
  // cost nothing until first used.
  Status AllocateUninitialized(size_t n, const char* what) {
    static_assert(std::is_trivially_copyable_v<T>);
    return AllocateImpl(n, what, /*zero=*/false);
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  std::span<T> span() { return {data_, size_}; }
  std::span<const T> span() const { return {data_, size_}; }

 private:
  Status AllocateImpl(size_t n, const char* what, bool zero) {
    std::free(data_);
    data_ = nullptr;
    size_ = 0;
    if (n == 0) return Status::Ok();
    if (n > std::numeric_limits<size_t>::max() / sizeof(T) - kCacheLineBytes) {
      return ResourceExhaustedError(std::string("fff: ") + what +
                                    ": size overflows size_t");
    }
    size_t bytes = (n * sizeof(T) + kCacheLineBytes - 1) / kCacheLineBytes *
                   kCacheLineBytes;
    void* p = std::aligned_alloc(kCacheLineBytes, bytes);
    if (p == nullptr) {
      return ResourceExhaustedError(std::string("fff: ") + what +
                                    ": cannot allocate " +
                                    std::to_string(bytes) + " bytes");
    }
    if (zero) std::memset(p, 0, bytes);
    data_ = static_cast<T*>(p);
    size_ = n;
    return Status::Ok();
  }

  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace fff

#endif  // FFF_SRC_BASE_ALIGNED_BUFFER_H_
