#include "src/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "src/io/posix_error.h"

namespace fff::internal {

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (created_) ::unlink(tmp_path_.c_str());
}

Status AtomicFile::Create() {
  do {
    fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                 0644);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) return ErrnoError(errno, tmp_path_ + ": cannot create");
  created_ = true;
  return Status::Ok();
}

Status AtomicFile::Write(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, tmp_path_ + ": cannot write");
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status AtomicFile::Commit() {
  if (::fsync(fd_) != 0) {
    return ErrnoError(errno, tmp_path_ + ": cannot sync");
  }
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    return ErrnoError(errno, tmp_path_ + ": cannot close");
  }
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    return ErrnoError(errno, path_ + ": cannot rename " + tmp_path_ + " to it");
  }
  created_ = false;
  // Make the rename itself durable.
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path_.substr(0, slash);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, std::string_view content) {
  AtomicFile file(path);
  FFF_RETURN_IF_ERROR(file.Create());
  FFF_RETURN_IF_ERROR(file.Write(content.data(), content.size()));
  return file.Commit();
}

}  // namespace fff::internal
