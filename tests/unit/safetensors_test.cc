// Safetensors reader/writer: round trips for every dtype, exact F16/BF16
// conversion, and hostile input (every validation rule, every truncation,
// systematically garbled headers) giving a Status that names the file, the
// tensor and expected vs got, never a crash.
#include "tests/testing/expect_status.h"
#include "fff/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "src/io/convert.h"
#include "src/io/text.h"

namespace fff {
namespace {

using ::fff::testing::ExpectError;

namespace fs = std::filesystem;

// A fresh path in the test temp dir; the fixture removes it (and its .tmp).
class SafetensorsTest : public ::testing::Test {
 protected:
  std::string TempPath(const std::string& stem) {
    static std::atomic<int> counter{0};
    const fs::path p = fs::path(::testing::TempDir()) /
                       ("fff_st_" + std::to_string(::getpid()) + "_" +
                        std::to_string(counter++) + "_" + stem);
    paths_.push_back(p);
    return p.string();
  }
  void TearDown() override {
    std::error_code ec;
    for (const fs::path& p : paths_) {
      fs::remove_all(p, ec);
      fs::remove(p.string() + ".tmp", ec);
    }
  }

 private:
  std::vector<fs::path> paths_;
};

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A file image: the 8-byte length of `header`, `header`, `data_bytes` bytes.
std::vector<uint8_t> Image(const std::string& header, size_t data_bytes = 0,
                           uint64_t length_field = UINT64_MAX) {
  const uint64_t n = length_field == UINT64_MAX ? header.size() : length_field;
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0x5a);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

Result<SafetensorsReader> Parse(const std::vector<uint8_t>& image) {
  return SafetensorsReader::FromBuffer(image, "bad.safetensors");
}

template <class T>
std::vector<uint8_t> AsBytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// ---------------------------------------------------------------- round trip

TEST_F(SafetensorsTest, RoundTripEveryDtype) {
  struct Case {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  // I8 first with 7 bytes, so every later tensor starts misaligned.
  std::vector<Case> cases = {
      {"i8",
       DType::kI8,
       {7},
       AsBytes(std::vector<int8_t>{-128, -1, 0, 1, 2, 3, 127})},
      {"f32",
       DType::kF32,
       {2, 3},
       AsBytes(std::vector<float>{1, -2, 3.5f, 0, -0.0f, 1e-30f})},
      {"f64.scalar", DType::kF64, {}, AsBytes(std::vector<double>{0.25})},
      {"f16.empty", DType::kF16, {0, 4}, {}},
      {"bf16",
       DType::kBF16,
       {3},
       AsBytes(std::vector<uint16_t>{0x3f80, 0xc020, 0x0000})},
      {"f16", DType::kF16, {2}, AsBytes(std::vector<uint16_t>{0x3c00, 0xc100})},
      {"i64", DType::kI64, {2}, AsBytes(std::vector<int64_t>{INT64_MIN, 42})},
      {"i32", DType::kI32, {2, 1}, AsBytes(std::vector<int32_t>{-7, 1 << 30})},
      {"i16", DType::kI16, {3}, AsBytes(std::vector<int16_t>{-300, 0, 300})},
      {"u8", DType::kU8, {1, 1, 1}, {255}},
      {"bool", DType::kBool, {3}, {1, 0, 1}},
      {"u8.empty", DType::kU8, {3, 0}, {}},
  };
  std::vector<TensorToWrite> to_write;
  for (const Case& c : cases) {
    to_write.push_back(
        {c.name, c.dtype, c.shape, c.bytes.empty() ? nullptr : c.bytes.data()});
  }
  const std::string path = TempPath("all.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, to_write).ok());
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  auto reader = SafetensorsReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(reader->path(), path);
  EXPECT_TRUE(reader->metadata().empty());
  ASSERT_EQ(reader->tensors().size(), cases.size());
  uint64_t offset = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const TensorInfo* info = reader->Find(c.name);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->dtype, c.dtype);
    EXPECT_EQ(info->shape, c.shape);
    EXPECT_EQ(info->size_bytes, c.bytes.size());
    EXPECT_EQ(info->n_elements * static_cast<int64_t>(DTypeSize(c.dtype)),
              static_cast<int64_t>(c.bytes.size()));
    EXPECT_EQ(info->offset_bytes, offset);  // data in the given order
    offset += c.bytes.size();
    const std::span<const uint8_t> got = reader->Bytes(*info);
    EXPECT_TRUE(
        std::equal(got.begin(), got.end(), c.bytes.begin(), c.bytes.end()));
  }
  EXPECT_EQ(reader->Find("f64.scalar")->n_elements, 1);
  EXPECT_EQ(reader->Find("f16.empty")->n_elements, 0);
  EXPECT_EQ(reader->Find("missing"), nullptr);

  std::vector<float> f32(6);
  ASSERT_TRUE(reader->ReadF32("f32", std::vector<int64_t>{2, 3}, f32).ok());
  EXPECT_EQ(f32, (std::vector<float>{1, -2, 3.5f, 0, -0.0f, 1e-30f}));
  EXPECT_TRUE(std::signbit(f32[4]));
  float scalar = 0;
  ASSERT_TRUE(reader->ReadF32("f64.scalar", {}, {&scalar, 1}).ok());
  EXPECT_EQ(scalar, 0.25f);
  std::vector<float> bf16(3), f16(2);
  ASSERT_TRUE(reader->ReadF32("bf16", std::vector<int64_t>{3}, bf16).ok());
  EXPECT_EQ(bf16, (std::vector<float>{1.0f, -2.5f, 0.0f}));
  ASSERT_TRUE(reader->ReadF32("f16", std::vector<int64_t>{2}, f16).ok());
  EXPECT_EQ(f16, (std::vector<float>{1.0f, -2.5f}));
  EXPECT_TRUE(
      reader->ReadF32("f16.empty", std::vector<int64_t>{0, 4}, {}).ok());
}

TEST_F(SafetensorsTest, HeaderSortedPaddedAndDataAligned) {
  const std::vector<float> a = {1, 2, 3}, b = {4};
  for (const std::string name : {"x", "a_longer_name", "abc.def.ghi.jkl"}) {
    const std::string path = TempPath("align.safetensors");
    const std::vector<TensorToWrite> ts = {{name, DType::kF32, {3}, a.data()},
                                           {"b", DType::kF32, {1}, b.data()}};
    ASSERT_TRUE(WriteSafetensors(path, ts).ok());
    const std::vector<uint8_t> file = ReadAll(path);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | file[i];
    EXPECT_EQ((8 + n) % 8, 0u) << "data must start 8-byte aligned";
    ASSERT_EQ(file.size(), 8 + n + 16);
    const std::string header(file.begin() + 8, file.begin() + 8 + n);
    EXPECT_EQ(header.find("__metadata__"), std::string::npos);
    const size_t close = header.rfind('}');
    EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos);
    EXPECT_LT(n - (close + 1), 8u);
    EXPECT_EQ(header.find('"' + name + '"') < header.find("\"b\""), name < "b")
        << "keys must be sorted: " << header;
    float got[4];
    std::memcpy(got, file.data() + 8 + n, sizeof(got));
    EXPECT_EQ(got[0], 1.0f);
    EXPECT_EQ(got[3], 4.0f);
  }
}

TEST_F(SafetensorsTest, MetadataRoundTrip) {
  const std::string path = TempPath("meta.safetensors");
  const std::map<std::string, std::string> meta = {
      {"format", "pt"}, {"note", "ünï\"code\n"}, {"empty", ""}};
  const float x = 3.0f;
  const std::vector<TensorToWrite> ts = {{"x", DType::kF32, {}, &x}};
  ASSERT_TRUE(WriteSafetensors(path, ts, meta).ok());
  auto reader = SafetensorsReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(reader->metadata(), meta);
  ASSERT_EQ(reader->tensors().size(), 1u);
}

TEST_F(SafetensorsTest, EmptyCheckpointAndOverwrite) {
  const std::string path = TempPath("empty.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, {}).ok());
  auto reader = SafetensorsReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_TRUE(reader->tensors().empty());
  const double d = 2.0;
  const std::vector<TensorToWrite> ts = {{"d", DType::kF64, {1}, &d}};
  ASSERT_TRUE(WriteSafetensors(path, ts).ok());
  auto again = SafetensorsReader::Open(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->tensors().size(), 1u);
}

// ---------------------------------------------------------------- conversion

// Reference: the value of a half computed from its fields in double.
double HalfReference(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double v;
  if (exp == 0x1f) {
    v = mant == 0 ? INFINITY : NAN;
  } else if (exp == 0) {
    v = std::ldexp(mant, -24);
  } else {
    v = std::ldexp(1024 + mant, exp - 25);
  }
  return sign ? -v : v;
}

TEST(SafetensorsConvertTest, HalfHandPickedBits) {
  using internal::HalfBitsToFloat;
  EXPECT_EQ(HalfBitsToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfBitsToFloat(0xc100), -2.5f);
  EXPECT_EQ(HalfBitsToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(HalfBitsToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfBitsToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(HalfBitsToFloat(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(HalfBitsToFloat(0x7c00), INFINITY);
  EXPECT_EQ(HalfBitsToFloat(0xfc00), -INFINITY);
  EXPECT_TRUE(std::isnan(HalfBitsToFloat(0x7e00)));
  EXPECT_TRUE(std::isnan(HalfBitsToFloat(0x7c01)));  // signalling NaN stays NaN
  EXPECT_TRUE(std::isnan(HalfBitsToFloat(0xfe00)));
  EXPECT_EQ(std::bit_cast<uint32_t>(HalfBitsToFloat(0x8000)), 0x80000000u);
  EXPECT_EQ(std::bit_cast<uint32_t>(HalfBitsToFloat(0x0000)), 0u);
}

TEST(SafetensorsConvertTest, HalfEveryBitPatternMatchesReference) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float got = internal::HalfBitsToFloat(static_cast<uint16_t>(h));
    const double want = HalfReference(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << h;
    } else {
      ASSERT_EQ(static_cast<double>(got), want) << std::hex << h;
      ASSERT_EQ(std::signbit(got), std::signbit(want)) << std::hex << h;
    }
  }
}

TEST(SafetensorsConvertTest, Bf16HandPickedBits) {
  using internal::Bf16BitsToFloat;
  EXPECT_EQ(Bf16BitsToFloat(0x3f80), 1.0f);
  EXPECT_EQ(Bf16BitsToFloat(0xc020), -2.5f);
  EXPECT_EQ(Bf16BitsToFloat(0x7f7f), std::ldexp(255.0f, 120));  // max bf16
  EXPECT_EQ(Bf16BitsToFloat(0x0001), std::ldexp(1.0f, -133));   // min subnormal
  EXPECT_EQ(Bf16BitsToFloat(0x7f80), INFINITY);
  EXPECT_EQ(Bf16BitsToFloat(0xff80), -INFINITY);
  EXPECT_TRUE(std::isnan(Bf16BitsToFloat(0x7fc0)));
  EXPECT_EQ(std::bit_cast<uint32_t>(Bf16BitsToFloat(0x8000)), 0x80000000u);
}

TEST_F(SafetensorsTest, ReadF32ConvertsThroughTheFile) {
  const std::vector<uint16_t> half = {0x3c00, 0xc100, 0x7bff, 0x0001,
                                      0x7c00, 0xfc00, 0x7e00, 0x8000};
  const std::vector<uint16_t> bf16 = {0x3f80, 0xc020, 0x7f7f, 0x0001, 0x7fc0};
  const std::vector<double> f64 = {0.1, 1e300, -1e-300, 1.0 + 0x1p-30, NAN};
  const uint8_t pad = 0;  // one byte first: every tensor below is misaligned
  const std::vector<TensorToWrite> ts = {
      {"pad", DType::kU8, {1}, &pad},
      {"half", DType::kF16, {8}, half.data()},
      {"bf16", DType::kBF16, {5}, bf16.data()},
      {"f64", DType::kF64, {5}, f64.data()}};
  const std::string path = TempPath("convert.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, ts).ok());
  auto reader = SafetensorsReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();

  std::vector<float> h(8);
  ASSERT_TRUE(reader->ReadF32(*reader->Find("half"), h).ok());
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.5f);
  EXPECT_EQ(h[2], 65504.0f);
  EXPECT_EQ(h[3], std::ldexp(1.0f, -24));
  EXPECT_EQ(h[4], INFINITY);
  EXPECT_EQ(h[5], -INFINITY);
  EXPECT_TRUE(std::isnan(h[6]));
  EXPECT_TRUE(h[7] == 0.0f && std::signbit(h[7]));
  std::vector<float> b(5);
  ASSERT_TRUE(reader->ReadF32(*reader->Find("bf16"), b).ok());
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], -2.5f);
  EXPECT_EQ(b[2], std::ldexp(255.0f, 120));
  EXPECT_EQ(b[3], std::ldexp(1.0f, -133));
  EXPECT_TRUE(std::isnan(b[4]));
  std::vector<float> d(5);
  ASSERT_TRUE(reader->ReadF32(*reader->Find("f64"), d).ok());
  EXPECT_EQ(d[0], 0.1f);
  EXPECT_EQ(d[1], INFINITY);
  EXPECT_TRUE(d[2] == 0.0f && std::signbit(d[2]));
  EXPECT_EQ(d[3], 1.0f);
  EXPECT_TRUE(std::isnan(d[4]));
}

// ------------------------------------------------------------ reader errors

TEST_F(SafetensorsTest, ReadF32ArgumentErrors) {
  const std::vector<float> w(6, 1.0f);
  const std::vector<int64_t> ids = {1, 2};
  const std::vector<TensorToWrite> ts = {
      {"encoder.w", DType::kF32, {2, 3}, w.data()},
      {"ids", DType::kI64, {2}, ids.data()}};
  const std::string path = TempPath("args.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, ts).ok());
  auto r = SafetensorsReader::Open(path);
  ASSERT_TRUE(r.ok());
  std::vector<float> dst(6);
  ExpectError(r->ReadF32("encoder.x", std::vector<int64_t>{2, 3}, dst),
              StatusCode::kNotFound,
              {"missing tensor \"encoder.x\" in " + path});
  ExpectError(r->ReadF32("encoder.w", std::vector<int64_t>{3, 2}, dst),
              StatusCode::kInvalidArgument,
              {"tensor \"encoder.w\" in " + path +
               ": expected shape [3, 2], got [2, 3]"});
  ExpectError(r->ReadF32("encoder.w", std::vector<int64_t>{2, 3},
                         std::span<float>(dst).first(5)),
              StatusCode::kInvalidArgument,
              {"encoder.w", path, "dst holds 5 floats, expected 6"});
  ExpectError(r->ReadF32("ids", std::vector<int64_t>{2},
                         std::span<float>(dst).first(2)),
              StatusCode::kInvalidArgument, {"ids", path, "dtype I64"});
  TensorInfo forged = *r->Find("encoder.w");
  forged.offset_bytes = 1000;
  ExpectError(r->ReadF32(forged, dst), StatusCode::kInvalidArgument,
              {"encoder.w", path, "does not describe"});
  EXPECT_TRUE(r->Bytes(forged).empty());
}

TEST_F(SafetensorsTest, OpenErrors) {
  const std::string missing = TempPath("missing.safetensors");
  ExpectError(SafetensorsReader::Open(missing).status(), StatusCode::kNotFound,
              {missing, "No such file"});
  const std::string dir = TempPath("dir.safetensors");
  fs::create_directory(dir);
  ExpectError(SafetensorsReader::Open(dir).status(),
              StatusCode::kInvalidArgument, {dir, "not a regular file"});
  const std::string empty = TempPath("empty.safetensors");
  std::ofstream(empty).close();
  ExpectError(SafetensorsReader::Open(empty).status(), StatusCode::kDataLoss,
              {empty, "file is 0 bytes, expected at least 8"});
}

// One malformed file and what its error must say.
struct BadCase {
  const char* what;
  std::string header;
  size_t data_bytes;
  StatusCode code;
  std::vector<std::string> parts;
};

TEST(SafetensorsBadInputTest, EveryRule) {
  const std::string w = R"("encoder.layers.0.ffn.linear_in.weight")";
  const std::string t = "tensor " + w;
  const auto entry = [](const std::string& dtype, const std::string& shape,
                        const std::string& offsets) {
    return R"({"dtype":)" + dtype + R"(,"shape":)" + shape +
           R"(,"data_offsets":)" + offsets + "}";
  };
  const std::string ok8 = entry(R"("F32")", "[2]", "[0,8]");
  std::string rank65 = "[1";
  for (int i = 0; i < 64; ++i) rank65 += ",1";
  rank65 += "]";
  const StatusCode kLoss = StatusCode::kDataLoss;
  const StatusCode kRange = StatusCode::kOutOfRange;
  const std::vector<BadCase> cases = {
      {"empty header", "", 0, kLoss, {"got an empty header"}},
      {"not an object", "[1,2]", 0, kLoss, {"starting with '{'", "\"[\""}},
      {"leading space", " {}", 0, kLoss, {"starting with '{'"}},
      {"truncated JSON", R"({"a":)", 0, kLoss, {"not valid JSON"}},
      {"trailing garbage", "{} x", 0, kLoss, {"not valid JSON"}},
      {"NUL padding",
       std::string("{}\0x", 4),
       0,
       kLoss,
       {"not valid JSON", "NUL byte at byte 2"}},
      {"invalid UTF-8", "{\"\xff\":1}", 0, kLoss, {"not valid JSON"}},
      {"entry not object",
       "{" + w + ":5}",
       0,
       kLoss,
       {t, "expected an object, got a number 5"}},
      {"entry is array",
       "{" + w + ":[]}",
       0,
       kLoss,
       {t, "expected an object, got an array"}},
      {"missing field",
       "{" + w + R"(:{"dtype":"F32","shape":[2]}})",
       8,
       kLoss,
       {t, "missing field \"data_offsets\""}},
      {"unknown field",
       "{" + w + R"(:{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})",
       8,
       kLoss,
       {t, "unknown field \"x\""}},
      {"duplicate field",
       "{" + w + R"(:{"dtype":"F32","dtype":"F32","shape":[2],)" +
           R"("data_offsets":[0,8]}})",
       8,
       kLoss,
       {t, "field \"dtype\" appears twice"}},
      {"duplicate tensor",
       "{" + w + ":" + ok8 + "," + w + ":" + ok8 + "}",
       8,
       kLoss,
       {t, "appears twice"}},
      {"dtype not string",
       "{" + w + ":" + entry("5", "[2]", "[0,8]") + "}",
       8,
       kLoss,
       {t, "\"dtype\": expected a string, got a number 5"}},
      {"unknown dtype",
       "{" + w + ":" + entry(R"("F8_E4M3")", "[2]", "[0,8]") + "}",
       8,
       kLoss,
       {t, "unknown dtype \"F8_E4M3\"", "F32"}},
      {"shape not array",
       "{" + w + ":" + entry(R"("F32")", "2", "[0,8]") + "}",
       8,
       kLoss,
       {t, "\"shape\": expected an array, got a number 2"}},
      {"negative dim",
       "{" + w + ":" + entry(R"("F32")", "[2,-3]", "[0,8]") + "}",
       8,
       kLoss,
       {t, "shape[1]: expected an integer >= 0, got a number -3"}},
      {"float dim",
       "{" + w + ":" + entry(R"("F32")", "[2.0]", "[0,8]") + "}",
       8,
       kLoss,
       {t, "shape[0]: expected an integer >= 0, got a number 2.0"}},
      {"string dim",
       "{" + w + ":" + entry(R"("F32")", R"(["2"])", "[0,8]") + "}",
       8,
       kLoss,
       {t, "shape[0]: expected an integer >= 0, got a string \"2\""}},
      {"dim over int64",
       "{" + w + ":" + entry(R"("F32")", "[9223372036854775808]", "[0,8]") +
           "}",
       8,
       kLoss,
       {t, "shape[0]: expected at most 2^63-1, got 9223372036854775808"}},
      {"rank over limit",
       "{" + w + ":" + entry(R"("F32")", rank65, "[0,4]") + "}",
       4,
       kRange,
       {t, "more than 64 dimensions"}},
      {"elements overflow",
       "{" + w + ":" + entry(R"("F32")", "[4294967296,4294967296]", "[0,0]") +
           "}",
       0,
       kRange,
       {t, "[4294967296, 4294967296]", "int64"}},
      {"bytes overflow",
       "{" + w + ":" + entry(R"("F64")", "[4611686018427387904]", "[0,0]") +
           "}",
       0,
       kRange,
       {t, "F64", "2^64"}},
      {"offsets not array",
       "{" + w + ":" + entry(R"("F32")", "[2]", R"("0-8")") + "}",
       8,
       kLoss,
       {t, "\"data_offsets\": expected an array, got a string"}},
      {"one offset",
       "{" + w + ":" + entry(R"("F32")", "[2]", "[0]") + "}",
       8,
       kLoss,
       {t, "expected 2 integers [begin, end], got 1"}},
      {"three offsets",
       "{" + w + ":" + entry(R"("F32")", "[2]", "[0,8,8]") + "}",
       8,
       kLoss,
       {t, "expected 2 integers [begin, end], got more"}},
      {"negative offset",
       "{" + w + ":" + entry(R"("F32")", "[2]", "[-8,0]") + "}",
       8,
       kLoss,
       {t, "data_offsets[0]: expected an integer >= 0, got a number -8"}},
      {"begin after end",
       "{" + w + ":" + entry(R"("F32")", "[0]", "[8,0]") + "}",
       8,
       kLoss,
       {t, "data_offsets [8, 0]: expected begin <= end"}},
      {"end past data",
       "{" + w + ":" + entry(R"("F32")", "[4]", "[0,16]") + "}",
       8,
       kLoss,
       {t,
        "data_offsets [0, 16]: end is past the data section, "
        "expected <= 8"}},
      {"span mismatch",
       "{" + w + ":" + entry(R"("F32")", "[4,5]", "[0,100]") + "}",
       100,
       kLoss,
       {"bad.safetensors: " + t +
        ": data_offsets span 100 bytes, expected 4 x 5 F32 = 80"}},
      {"scalar span",
       "{" + w + ":" + entry(R"("F16")", "[]", "[0,4]") + "}",
       4,
       kLoss,
       {t, "span 4 bytes, expected a scalar F16 = 2"}},
      {"overlap",
       R"({"a":)" + ok8 + R"(,"b":)" + entry(R"("F32")", "[2]", "[4,12]") + "}",
       12,
       kLoss,
       {"tensor \"b\"", "begin 4, expected 8", "end of tensor \"a\"",
        "overlap"}},
      {"gap",
       R"({"a":)" + ok8 + R"(,"b":)" + entry(R"("F32")", "[2]", "[12,20]") +
           "}",
       20,
       kLoss,
       {"tensor \"b\"", "begin 12, expected 8", "gaps"}},
      {"not from zero",
       "{" + w + ":" + entry(R"("F32")", "[2]", "[4,12]") + "}",
       12,
       kLoss,
       {t, "begin 4, expected 0", "start of the data section"}},
      {"empty tensor inside another",
       R"({"a":)" + ok8 + R"(,"z":)" + entry(R"("F32")", "[0]", "[4,4]") + "}",
       8,
       kLoss,
       {"tensor \"z\"", "begin 4, expected 8"}},
      {"bytes after tensors",
       "{" + w + ":" + ok8 + "}",
       12,
       kLoss,
       {"data section is 12 bytes, but the tensors cover 8", t}},
      {"bytes without tensors",
       "{}",
       4,
       kLoss,
       {"data section is 4 bytes, but the tensors cover 0"}},
      {"metadata not object",
       R"({"__metadata__":[]})",
       0,
       kLoss,
       {"\"__metadata__\": expected an object, got an array"}},
      {"metadata value not string",
       R"({"__metadata__":{"k":1}})",
       0,
       kLoss,
       {"\"__metadata__\" key \"k\": expected a string value, got a number 1"}},
      {"metadata nested",
       R"({"__metadata__":{"k":{}}})",
       0,
       kLoss,
       {"key \"k\"", "got an object"}},
      {"metadata duplicate key",
       R"({"__metadata__":{"k":"a","k":"b"}})",
       0,
       kLoss,
       {"\"__metadata__\" key \"k\" appears twice"}},
      {"metadata twice",
       R"({"__metadata__":{},"__metadata__":{}})",
       0,
       kLoss,
       {"\"__metadata__\" appears twice"}},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.what);
    const Status s = Parse(Image(c.header, c.data_bytes)).status();
    ExpectError(s, c.code, {"bad.safetensors: "});
    for (const std::string& p : c.parts) ExpectError(s, c.code, {p});
    EXPECT_TRUE(internal::IsValidUtf8(s.message())) << s.message();
  }
}

TEST(SafetensorsBadInputTest, LengthField) {
  ExpectError(Parse(std::vector<uint8_t>(5, 0)).status(), StatusCode::kDataLoss,
              {"bad.safetensors: ", "file is 5 bytes, expected at least 8"});
  ExpectError(
      Parse(Image("{}", 0, SafetensorsReader::kMaxHeaderBytes + 1)).status(),
      StatusCode::kOutOfRange,
      {"bad.safetensors: ", "header length 104857601", "limit of 104857600"});
  ExpectError(Parse(Image("{}", 0, UINT64_MAX - 1)).status(),
              StatusCode::kOutOfRange, {"bad.safetensors"});
  ExpectError(Parse(Image("{}  ", 14, 100)).status(), StatusCode::kDataLoss,
              {"bad.safetensors: ",
               "header length 100 exceeds the 18 bytes after the length"});
  // Valid edge cases: trailing spaces, a zero-size tensor between others.
  EXPECT_TRUE(Parse(Image("{}      ")).ok());
  const auto ok =
      Parse(Image(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("z":{"dtype":"U8","shape":[0,7],"data_offsets":[4,4]},)"
                  R"("b":{"dtype":"I16","shape":[],"data_offsets":[4,6]}})",
                  6));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->tensors().size(), 3u);
  EXPECT_EQ(ok->tensors()[1].name, "z");  // header order kept
}

TEST(SafetensorsBadInputTest, HostileNamesStayReadableInMessages) {
  const std::string header =
      R"({"a\"b\n\u0001\u00e9":{"dtype":"F32","shape":[1],"data_offsets":[0,5]}})";
  const Status s = Parse(Image(header, 5)).status();
  ExpectError(s, StatusCode::kDataLoss, {R"(tensor "a\"b\x0A\x01é")"});
  EXPECT_EQ(internal::Escaped("ab\xff"
                              "c"),
            "ab\\xFFc");
  EXPECT_EQ(internal::Escaped(std::string(300, 'x')).size(), 203u);
  EXPECT_EQ(internal::Escaped("ééé", 5), "éé...");  // cut between characters
  const std::string bad_dtype = R"({"t":{"dtype":")" + std::string(5000, 'Q') +
                                R"(","shape":[],"data_offsets":[0,4]}})";
  const Status d = Parse(Image(bad_dtype, 4)).status();
  ExpectError(d, StatusCode::kDataLoss, {"tensor \"t\"", "unknown dtype"});
  EXPECT_LT(d.message().size(), 400u);
}

// A small valid image with a few dtypes, each tensor non-empty.
std::vector<uint8_t> SmallValidImage() {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"F32","shape":[1,2],"data_offsets":[4,12]},)"
      R"("c":{"dtype":"BF16","shape":[],"data_offsets":[12,14]}})";
  return Image(header, 14);
}

// Every successful parse must describe bytes inside the image and convert.
void CheckReaderInvariants(const SafetensorsReader& r, size_t image_bytes) {
  for (const TensorInfo& t : r.tensors()) {
    const std::span<const uint8_t> b = r.Bytes(t);
    EXPECT_EQ(b.size(), t.size_bytes);
    EXPECT_LE(t.offset_bytes + t.size_bytes, image_bytes);
    if (t.n_elements <= (1 << 20)) {
      std::vector<float> dst(static_cast<size_t>(t.n_elements));
      const Status s = r.ReadF32(t, dst);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
      }
    }
  }
}

TEST(SafetensorsBadInputTest, EveryTruncationIsAnError) {
  const std::vector<uint8_t> image = SmallValidImage();
  ASSERT_TRUE(Parse(image).ok()) << Parse(image).status().ToString();
  for (size_t n = 0; n < image.size(); ++n) {
    // An exact-size heap copy, so a read past the end is caught by ASan.
    const std::vector<uint8_t> prefix(image.begin(), image.begin() + n);
    const auto r = Parse(prefix);
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_NE(r.status().message().find("bad.safetensors"), std::string::npos);
  }
}

TEST(SafetensorsBadInputTest, GarbledHeaderBytesNeverCrash) {
  const std::vector<uint8_t> image = SmallValidImage();
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = header_bytes << 8 | image[i];
  const uint8_t replacements[] = {0x00, ' ',  '"',  '{',  '}', '[', ']',
                                  ',',  ':',  '0',  '9',  '-', '.', 'e',
                                  'x',  0x80, 0xc3, 0xff, '\\'};
  int n_ok = 0, n_error = 0;
  for (size_t pos = 0; pos < 8 + header_bytes; ++pos) {
    std::vector<uint8_t> variants;
    for (uint8_t r : replacements) variants.push_back(r);
    for (int bit = 0; bit < 8; ++bit)
      variants.push_back(image[pos] ^ (1 << bit));
    for (uint8_t v : variants) {
      std::vector<uint8_t> garbled = image;
      garbled[pos] = v;
      const auto r = Parse(garbled);
      if (r.ok()) {
        ++n_ok;
        CheckReaderInvariants(*r, garbled.size());
      } else {
        ++n_error;
        EXPECT_NE(r.status().message().find("bad.safetensors"),
                  std::string::npos);
        EXPECT_TRUE(internal::IsValidUtf8(r.status().message()));
      }
    }
  }
  EXPECT_GT(n_error, 0);
  EXPECT_GT(n_ok, 0);  // e.g. a changed letter in a tensor name
}

// ------------------------------------------------------------ writer errors

TEST_F(SafetensorsTest, WriterErrorsLeaveNoFile) {
  const std::string path = TempPath("w.safetensors");
  const float x[2] = {1, 2};
  const auto write = [&](std::vector<TensorToWrite> ts) {
    return WriteSafetensors(path, ts);
  };
  ExpectError(write({{"", DType::kF32, {2}, x}}), StatusCode::kInvalidArgument,
              {path, "tensor #0 has an empty name"});
  ExpectError(write({{"a", DType::kF32, {2}, x}, {"a", DType::kF32, {1}, x}}),
              StatusCode::kInvalidArgument,
              {path, "tensor \"a\" appears twice (#0 and #1)"});
  ExpectError(write({{"a", DType::kF32, {2}, nullptr}}),
              StatusCode::kInvalidArgument,
              {path, "tensor \"a\"", "data is null, expected 8 bytes"});
  ExpectError(write({{"a", DType::kF32, {2, -1}, x}}),
              StatusCode::kInvalidArgument,
              {path, "tensor \"a\"", "shape[1] is -1, expected >= 0"});
  ExpectError(write({{"a", DType::kF32, {int64_t{1} << 62, 4}, x}}),
              StatusCode::kOutOfRange, {path, "tensor \"a\"", "overflow"});
  ExpectError(write({{"__metadata__", DType::kF32, {2}, x}}),
              StatusCode::kInvalidArgument, {path, "reserved"});
  ExpectError(write({{"a\xff", DType::kF32, {2}, x}}),
              StatusCode::kInvalidArgument, {path, "not valid UTF-8"});
  ExpectError(write({{"a", static_cast<DType>(99), {2}, x}}),
              StatusCode::kInvalidArgument, {path, "unknown dtype value 99"});
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_TRUE(write({{"a", DType::kF32, {0}, nullptr}}).ok());  // no bytes

  const std::string in_missing_dir = TempPath("no_dir") + "/x.safetensors";
  ExpectError(
      WriteSafetensors(in_missing_dir,
                       std::vector<TensorToWrite>{{"a", DType::kF32, {2}, x}}),
      StatusCode::kNotFound, {in_missing_dir, "No such file"});

  const std::string dir = TempPath("is_dir");
  fs::create_directories(dir + "/child");
  const Status s = WriteSafetensors(
      dir, std::vector<TensorToWrite>{{"a", DType::kF32, {2}, x}});
  ExpectError(s, s.code(), {dir, "cannot rename"});
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(fs::exists(dir + ".tmp"));
  EXPECT_TRUE(fs::is_directory(dir + "/child"));
}

// ------------------------------------------------------- move and threads

TEST_F(SafetensorsTest, MovableAndConcurrentReads) {
  std::vector<float> w(4096);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i) * 0.5f;
  const std::string path = TempPath("mt.safetensors");
  ASSERT_TRUE(WriteSafetensors(path,
                               std::vector<TensorToWrite>{
                                   {"w", DType::kF32, {64, 64}, w.data()}})
                  .ok());
  auto opened = SafetensorsReader::Open(path);
  ASSERT_TRUE(opened.ok());
  SafetensorsReader reader = std::move(opened).value();
  SafetensorsReader moved = std::move(reader);
  reader = std::move(moved);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      std::vector<float> dst(4096);
      for (int k = 0; k < 50; ++k) {
        if (!reader.ReadF32("w", std::vector<int64_t>{64, 64}, dst).ok() ||
            dst != w || reader.Find("w") == nullptr) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace fff
