// Reading a corpus text file line by line: plain files directly, ".xz" files
// through a child `xz -dc` process (no shell; its stderr is captured for the
// error message).
#ifndef FFF_SRC_DATA_TEXT_INPUT_H_
#define FFF_SRC_DATA_TEXT_INPUT_H_

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "fff/status.h"

namespace fff::data {

// One owner; not copyable. Destroying it early stops the child process.
class TextInput {
 public:
  static Result<std::unique_ptr<TextInput>> Open(const std::string& path);
  ~TextInput();
  TextInput(const TextInput&) = delete;
  TextInput& operator=(const TextInput&) = delete;

  // The next line, without its '\n', in *line; false at the end of the text
  // (then call Finish). A last line without '\n' is still a line.
  Result<bool> ReadLine(std::string* line);
  // Text bytes consumed so far (line contents and their '\n's).
  int64_t offset() const { return offset_; }
  // At the end: for an .xz input, waits for xz and turns a failure
  // (corrupt or truncated file) into a DataLoss error with xz's message.
  Status Finish();

 private:
  TextInput(std::string path, FILE* file, pid_t pid, int err_fd)
      : path_(std::move(path)), file_(file), pid_(pid), err_fd_(err_fd) {}
  void Close();

  std::string path_;
  FILE* file_ = nullptr;
  pid_t pid_ = -1;   // the xz child, -1 for a plain file
  int err_fd_ = -1;  // its stderr
  char* buf_ = nullptr;
  size_t cap_ = 0;
  int64_t offset_ = 0;
};

// The size of the text in `path`: the file size, or for ".xz" the
// uncompressed size `xz --robot --list` reports (-1 if it cannot tell).
// NotFound / errno errors for a missing or unreadable file.
Result<int64_t> TextSize(const std::string& path);

bool IsXzPath(const std::string& path);

}  // namespace fff::data

#endif  // FFF_SRC_DATA_TEXT_INPUT_H_
