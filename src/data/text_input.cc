#include "src/data/text_input.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>

#include "src/io/posix_error.h"

extern char** environ;

namespace fff::data {
namespace {

struct Child {
  pid_t pid = -1;
  int out_fd = -1;
  int err_fd = -1;
};

// Starts argv[0] (looked up in PATH) with stdout and stderr on pipes.
Result<Child> Spawn(const std::vector<std::string>& args) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return internal::ErrnoError(errno, "cannot create a pipe");
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(out[0]);
    ::close(out[1]);
    return internal::ErrnoError(e, "cannot create a pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  std::vector<char*> argv;
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc =
      posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    return internal::ErrnoError(rc, "cannot run " + args[0]);
  }
  return Child{pid, out[0], err[0]};
}

std::string ReadAll(int fd) {
  std::string s;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}

// Exit code of the child, or -1 (-signal) when it did not exit normally.
int Wait(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Status CheckReadable(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return internal::ErrnoError(errno, path + ": cannot open");
  }
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgumentError(path + ": not a regular file");
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return internal::ErrnoError(errno, path + ": cannot open");
  }
  return Status::Ok();
}

}  // namespace

bool IsXzPath(const std::string& path) {
  return path.size() >= 3 && path.compare(path.size() - 3, 3, ".xz") == 0;
}

Result<std::unique_ptr<TextInput>> TextInput::Open(const std::string& path) {
  FFF_RETURN_IF_ERROR(CheckReadable(path));
  if (!IsXzPath(path)) {
    FILE* f = std::fopen(path.c_str(), "rbe");
    if (f == nullptr)
      return internal::ErrnoError(errno, path + ": cannot open");
    return std::unique_ptr<TextInput>(new TextInput(path, f, -1, -1));
  }
  auto child = Spawn({"xz", "-dc", "--", path});
  if (!child.ok()) {
    return Status(child.status().code(),
                  path + ": " + child.status().message() +
                      " (xz-utils is needed for .xz inputs)");
  }
  FILE* f = ::fdopen(child->out_fd, "rb");
  if (f == nullptr) {
    const int e = errno;
    ::close(child->out_fd);
    ::close(child->err_fd);
    Wait(child->pid);
    return internal::ErrnoError(e, path + ": cannot read from xz");
  }
  return std::unique_ptr<TextInput>(
      new TextInput(path, f, child->pid, child->err_fd));
}

TextInput::~TextInput() {
  Close();
  std::free(buf_);
}

void TextInput::Close() {
  // Closing the pipe first makes a still-running xz die of SIGPIPE.
  if (file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
  if (err_fd_ >= 0) ::close(err_fd_);
  err_fd_ = -1;
  if (pid_ > 0) Wait(pid_);
  pid_ = -1;
}

Result<bool> TextInput::ReadLine(std::string* line) {
  errno = 0;
  const ssize_t n = ::getline(&buf_, &cap_, file_);
  if (n < 0) {
    if (std::ferror(file_)) {
      return internal::ErrnoError(errno, path_ + ": cannot read");
    }
    return false;
  }
  offset_ += n;
  size_t len = static_cast<size_t>(n);
  if (len > 0 && buf_[len - 1] == '\n') --len;
  line->assign(buf_, len);
  return true;
}

Status TextInput::Finish() {
  if (pid_ < 0) return Status::Ok();
  std::fclose(file_);
  file_ = nullptr;
  const std::string err = Trim(ReadAll(err_fd_));
  ::close(err_fd_);
  err_fd_ = -1;
  const int code = Wait(pid_);
  pid_ = -1;
  if (code != 0) {
    return Status(StatusCode::kDataLoss, path_ +
                                             ": xz -dc failed (exit status " +
                                             std::to_string(code) + ")" +
                                             (err.empty() ? "" : ": " + err));
  }
  return Status::Ok();
}

Result<int64_t> TextSize(const std::string& path) {
  FFF_RETURN_IF_ERROR(CheckReadable(path));
  if (!IsXzPath(path)) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return internal::ErrnoError(errno, path + ": cannot stat");
    }
    return static_cast<int64_t>(st.st_size);
  }
  auto child = Spawn({"xz", "--robot", "--list", "--", path});
  if (!child.ok()) return int64_t{-1};
  const std::string out = ReadAll(child->out_fd);
  ::close(child->out_fd);
  ReadAll(child->err_fd);
  ::close(child->err_fd);
  if (Wait(child->pid) != 0) return int64_t{-1};
  // "totals <streams> <blocks> <compressed> <uncompressed> ..."
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("totals\t", 0) != 0) continue;
    std::istringstream fields(line);
    std::string f;
    for (int i = 0; i < 5 && std::getline(fields, f, '\t'); ++i) {
    }
    char* end = nullptr;
    const long long v = std::strtoll(f.c_str(), &end, 10);
    if (end != f.c_str() && *end == '\0' && v >= 0) return int64_t{v};
  }
  return int64_t{-1};
}

}  // namespace fff::data
