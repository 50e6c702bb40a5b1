#include "src/io/safetensors_header.h"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>
#include <utility>

#include "src/io/dtype.h"
#include "src/io/text.h"

namespace fff::internal {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";

// "a number 2.5": the kind of a JSON value and, when given, the value as
// already made safe for a message.
std::string Described(std::string_view kind, std::string_view text = {}) {
  std::string s(kind);
  if (!text.empty()) s += " " + std::string(text);
  return s;
}

// Receives the parser's events and checks them against the schema as they
// arrive. Every handler returns false on the first error, which stops the
// parse; the error is then in status().
class HeaderSax final : public nlohmann::json_sax<Json> {
 public:
  explicit HeaderSax(const std::string& file) : file_(file) {}

  Status status() const { return status_; }
  Header TakeHeader() { return std::move(header_); }

  bool null() override { return Scalar("null"); }
  bool boolean(bool v) override {
    return Scalar("a boolean", v ? "true" : "false");
  }
  bool number_integer(number_integer_t v) override {
    if (where_ == Where::kArray) return Element(v);
    return Scalar("a number", std::to_string(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (where_ == Where::kArray) return Element(v);
    return Scalar("a number", std::to_string(v));
  }
  bool number_float(number_float_t, const string_t& text) override {
    return Scalar("a number", Escaped(text, 40));
  }
  bool string(string_t& v) override;
  bool binary(binary_t&) override { return Scalar("binary data"); }
  bool start_object(std::size_t) override;
  bool key(string_t& k) override;
  bool end_object() override;
  bool start_array(std::size_t) override;
  bool end_array() override;
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::json::exception& ex) override;

 private:
  // Where the next event lands.
  enum class Where {
    kStart,     // before the top-level value
    kTop,       // in the top-level object: a key or a tensor entry
    kEntry,     // in a tensor's object: a field name or its value
    kArray,     // in "shape" or "data_offsets"
    kMetadata,  // in "__metadata__": a key or its string value
    kEnd,       // after the top-level object
  };
  enum class Field { kDtype, kShape, kOffsets };

  bool Fail(std::string message, StatusCode code = StatusCode::kDataLoss) {
    status_ = Status(code, file_ + ": " + std::move(message));
    return false;
  }
  std::string Tensor() const { return "tensor " + Quoted(entry_.name); }
  const char* FieldName() const {
    switch (field_) {
      case Field::kDtype:
        return "dtype";
      case Field::kShape:
        return "shape";
      case Field::kOffsets:
        return "data_offsets";
    }
    return "?";
  }
  // A value that is not an array or object, of `kind`, arrived.
  bool Scalar(std::string_view kind, std::string_view text = {});
  // An integer element of "shape" or "data_offsets".
  bool Element(int64_t v);
  bool Element(uint64_t v);
  // The value of a top-level key is `kind` where an object is needed.
  bool NotAnObject(std::string_view kind);

  const std::string& file_;
  Status status_;
  Header header_;
  Where where_ = Where::kStart;
  std::unordered_set<std::string> top_keys_;
  std::string top_key_;  // the current top-level key
  HeaderEntry entry_;    // the tensor being read
  Field field_ = Field::kDtype;
  unsigned fields_seen_ = 0;  // bit per Field
  std::vector<uint64_t> array_;
  std::string metadata_key_;
};

bool HeaderSax::NotAnObject(std::string_view kind) {
  if (top_key_ == kMetadataKey) {
    return Fail("\"__metadata__\": expected an object, got " +
                std::string(kind));
  }
  return Fail("tensor " + Quoted(top_key_) + ": expected an object, got " +
              std::string(kind));
}

bool HeaderSax::Scalar(std::string_view kind, std::string_view text) {
  const std::string got = Described(kind, text);
  switch (where_) {
    case Where::kStart:
      return Fail("header: expected a JSON object, got " + got);
    case Where::kTop:
      return NotAnObject(got);
    case Where::kEntry:
      return Fail(Tensor() + ": field \"" + FieldName() + "\": expected " +
                  (field_ == Field::kDtype ? "a string" : "an array") +
                  ", got " + got);
    case Where::kArray:
      return Fail(Tensor() + ": " + FieldName() + "[" +
                  std::to_string(array_.size()) +
                  "]: expected an integer >= 0, got " + got);
    case Where::kMetadata:
      return Fail("\"__metadata__\" key " + Quoted(metadata_key_) +
                  ": expected a string value, got " + got);
    case Where::kEnd:
      break;
  }
  return Fail("header: unexpected " + got + " after the top-level object");
}

bool HeaderSax::Element(int64_t v) {
  if (v >= 0) return Element(static_cast<uint64_t>(v));  // only "-0"
  return Scalar("a number", std::to_string(v));
}

bool HeaderSax::Element(uint64_t v) {
  if (field_ == Field::kShape) {
    if (array_.size() == kMaxRank) {
      return Fail(Tensor() + ": shape has more than " +
                      std::to_string(kMaxRank) + " dimensions (the limit)",
                  StatusCode::kOutOfRange);
    }
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Fail(Tensor() + ": shape[" + std::to_string(array_.size()) +
                  "]: expected at most 2^63-1, got " + std::to_string(v));
    }
  } else if (array_.size() == 2) {
    return Fail(Tensor() +
                ": data_offsets: expected 2 integers [begin, end], got more");
  }
  array_.push_back(v);
  return true;
}

bool HeaderSax::string(string_t& v) {
  if (where_ == Where::kMetadata) {
    header_.metadata.emplace(std::move(metadata_key_), std::move(v));
    return true;
  }
  if (where_ == Where::kEntry && field_ == Field::kDtype) {
    const std::optional<DType> dtype = DTypeFromName(v);
    if (!dtype) {
      return Fail(Tensor() + ": unknown dtype " + Quoted(v) +
                  " (expected one of " + KnownDTypeNames() + ")");
    }
    entry_.dtype = *dtype;
    return true;
  }
  return Scalar("a string", Quoted(v));
}

bool HeaderSax::start_object(std::size_t) {
  switch (where_) {
    case Where::kStart:
      where_ = Where::kTop;
      return true;
    case Where::kTop:
      if (top_key_ == kMetadataKey) {
        where_ = Where::kMetadata;
        return true;
      }
      where_ = Where::kEntry;
      entry_ = HeaderEntry{};
      entry_.name = std::move(top_key_);
      fields_seen_ = 0;
      return true;
    default:
      return Scalar("an object");
  }
}

bool HeaderSax::key(string_t& k) {
  switch (where_) {
    case Where::kTop:
      if (!top_keys_.insert(k).second) {
        return Fail(k == kMetadataKey
                        ? std::string("\"__metadata__\" appears twice")
                        : "tensor " + Quoted(k) +
                              " appears twice in the header");
      }
      top_key_ = std::move(k);
      return true;
    case Where::kEntry: {
      if (k == "dtype") {
        field_ = Field::kDtype;
      } else if (k == "shape") {
        field_ = Field::kShape;
      } else if (k == "data_offsets") {
        field_ = Field::kOffsets;
      } else {
        return Fail(Tensor() + ": unknown field " + Quoted(k) +
                    " (expected dtype, shape, data_offsets)");
      }
      const unsigned bit = 1u << static_cast<unsigned>(field_);
      if ((fields_seen_ & bit) != 0) {
        return Fail(Tensor() + ": field " + Quoted(k) + " appears twice");
      }
      fields_seen_ |= bit;
      return true;
    }
    case Where::kMetadata:
      if (header_.metadata.count(k) != 0) {
        return Fail("\"__metadata__\" key " + Quoted(k) + " appears twice");
      }
      metadata_key_ = std::move(k);
      return true;
    default:
      return Fail("header: unexpected key " + Quoted(k));
  }
}

bool HeaderSax::end_object() {
  switch (where_) {
    case Where::kTop:
      where_ = Where::kEnd;
      return true;
    case Where::kMetadata:
      where_ = Where::kTop;
      top_key_.clear();
      return true;
    case Where::kEntry:
      if (fields_seen_ != 7u) {
        const char* missing = (fields_seen_ & 1u) == 0   ? "dtype"
                              : (fields_seen_ & 2u) == 0 ? "shape"
                                                         : "data_offsets";
        return Fail(Tensor() + ": missing field \"" + missing + "\"");
      }
      header_.entries.push_back(std::move(entry_));
      where_ = Where::kTop;
      return true;
    default:
      return Fail("header: unbalanced object");
  }
}

bool HeaderSax::start_array(std::size_t) {
  switch (where_) {
    case Where::kStart:
      return Fail("header: expected a JSON object, got an array");
    case Where::kTop:
      return NotAnObject("an array");
    case Where::kEntry:
      if (field_ == Field::kDtype) return Scalar("an array");
      where_ = Where::kArray;
      array_.clear();
      return true;
    default:
      return Scalar("an array");
  }
}

bool HeaderSax::end_array() {
  if (where_ != Where::kArray) return Fail("header: unbalanced array");
  if (field_ == Field::kShape) {
    entry_.shape.assign(array_.begin(), array_.end());
  } else {
    if (array_.size() != 2) {
      return Fail(Tensor() +
                  ": data_offsets: expected 2 integers [begin, end], got " +
                  std::to_string(array_.size()));
    }
    entry_.begin = array_[0];
    entry_.end = array_[1];
  }
  where_ = Where::kEntry;
  return true;
}

bool HeaderSax::parse_error(std::size_t position, const std::string&,
                            const nlohmann::json::exception& ex) {
  // what() is "[json.exception.parse_error.101] parse error at line 1,
  // column 7: syntax error ...; last read: '...'": drop the bracketed id.
  std::string_view what = ex.what();
  if (const size_t close = what.find("] "); close != std::string_view::npos) {
    what.remove_prefix(close + 2);
  }
  return Fail("header is not valid JSON (byte " + std::to_string(position) +
              " of the header): " + Escaped(what, 300));
}

}  // namespace

Result<Header> ParseHeader(std::string_view json, const std::string& file) {
  if (json.empty() || json.front() != '{') {
    return Status(
        StatusCode::kDataLoss,
        file + ": header: expected a JSON object starting with '{', " +
            (json.empty() ? std::string("got an empty header")
                          : "got first byte " + Quoted(json.substr(0, 1))));
  }
  // The JSON lexer takes a NUL byte for the end of input, which would let
  // anything after one through; valid JSON never holds a raw NUL.
  if (const size_t nul = json.find('\0'); nul != std::string_view::npos) {
    return Status(StatusCode::kDataLoss,
                  file + ": header is not valid JSON: NUL byte at byte " +
                      std::to_string(nul) + " of the header");
  }
  HeaderSax sax(file);
  const bool ok = Json::sax_parse(json.data(), json.data() + json.size(), &sax,
                                  Json::input_format_t::json, /*strict=*/true,
                                  /*ignore_comments=*/false);
  if (!ok) {
    Status s = sax.status();
    if (s.ok()) s = Status(StatusCode::kDataLoss, file + ": header is invalid");
    return s;
  }
  return sax.TakeHeader();
}

}  // namespace fff::internal
