// MappedFile: maps whole regular files read-only; errors name the path and
// the errno text.
#include "src/io/mapped_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

namespace fff::internal {
namespace {

namespace fs = std::filesystem;

class MappedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("fff_mapped_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  fs::path dir_;
};

TEST_F(MappedFileTest, MapsTheWholeFile) {
  const std::string content =
      std::string("abc\0def", 7) + std::string(9000, 'z');
  auto file = MappedFile::Open(Write("f.bin", content));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const std::span<const uint8_t> b = file->bytes();
  ASSERT_EQ(b.size(), content.size());
  EXPECT_EQ(std::string(b.begin(), b.end()), content);
}

TEST_F(MappedFileTest, EmptyFileIsAnEmptySpan) {
  auto file = MappedFile::Open(Write("empty.bin", ""));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_TRUE(file->bytes().empty());
}

TEST_F(MappedFileTest, MoveTransfersTheMapping) {
  auto file = MappedFile::Open(Write("m.bin", "hello"));
  ASSERT_TRUE(file.ok());
  MappedFile a = std::move(file).value();
  MappedFile b = std::move(a);
  EXPECT_TRUE(a.bytes().empty());  // NOLINT(bugprone-use-after-move)
  ASSERT_EQ(b.bytes().size(), 5u);
  EXPECT_EQ(b.bytes()[4], 'o');
  a = std::move(b);
  EXPECT_EQ(a.bytes().size(), 5u);
}

TEST_F(MappedFileTest, Errors) {
  const std::string missing = (dir_ / "missing.bin").string();
  Status s = MappedFile::Open(missing).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find(missing + ": cannot open: No such file"),
            std::string::npos)
      << s.message();
  s = MappedFile::Open(dir_.string()).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(dir_.string() + ": not a regular file"),
            std::string::npos)
      << s.message();
  const std::string in_file = Write("plain", "x") + "/child";
  s = MappedFile::Open(in_file).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find(in_file), std::string::npos);
}

}  // namespace
}  // namespace fff::internal
