// Request parsing (tools/server/api.h): every accepted form of each route's
// body, and every rejection with its kind (hence its HTTP status).
#include "tools/server/api.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace fff::server {
namespace {

template <class T>
void ExpectRejected(const ApiResult<T>& r, ErrorKind kind,
                    const std::string& part) {
  ASSERT_FALSE(r.ok()) << "accepted; expected error mentioning " << part;
  EXPECT_EQ(r.error().kind, kind) << r.error().message;
  EXPECT_NE(r.error().message.find(part), std::string::npos)
      << "'" << part << "' missing from: " << r.error().message;
}

ParseLimits Limits(size_t max_inputs = 4) {
  ParseLimits l;
  l.max_inputs = max_inputs;
  return l;
}

TEST(ServerApiTest, EmbedInputForms) {
  auto r = ParseEmbedRequest(R"({"inputs": "hello"})", Limits());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->single);
  ASSERT_EQ(r->inputs.size(), 1u);
  EXPECT_EQ(r->inputs[0].text, "hello");
  EXPECT_TRUE(r->normalize);  // TEI's default
  EXPECT_FALSE(r->truncate.has_value());

  r = ParseEmbedRequest(
      R"({"inputs": ["a", [5, 6, 7], "c"], "normalize": false,
          "truncate": true, "truncation_direction": "right", "extra": 1})",
      Limits());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->single);
  ASSERT_EQ(r->inputs.size(), 3u);
  EXPECT_FALSE(r->inputs[0].is_ids);
  EXPECT_TRUE(r->inputs[1].is_ids);
  EXPECT_EQ(r->inputs[1].ids, (std::vector<int32_t>{5, 6, 7}));
  EXPECT_FALSE(r->normalize);
  EXPECT_EQ(r->truncate, true);

  r = ParseEmbedRequest(R"({"inputs": [101, 2023, 102]})", Limits());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->single);
  EXPECT_TRUE(r->inputs[0].is_ids);
  EXPECT_EQ(r->inputs[0].ids.size(), 3u);

  // null fields are absent fields.
  r = ParseEmbedRequest(
      R"({"inputs": "x", "normalize": null, "prompt_name": null})", Limits());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->normalize);
}

TEST(ServerApiTest, EmbedRejections) {
  const ParseLimits l = Limits(2);
  ExpectRejected(ParseEmbedRequest("", l), ErrorKind::kValidation,
                 "not valid JSON");
  ExpectRejected(ParseEmbedRequest("{\"inputs\": \"a\"", l),
                 ErrorKind::kValidation, "not valid JSON");
  ExpectRejected(ParseEmbedRequest("[1]", l), ErrorKind::kValidation,
                 "expected a JSON object");
  ExpectRejected(ParseEmbedRequest("{}", l), ErrorKind::kValidation,
                 "`inputs`: missing");
  ExpectRejected(ParseEmbedRequest(R"({"inputs": 5})", l),
                 ErrorKind::kValidation, "`inputs`: expected a string");
  ExpectRejected(ParseEmbedRequest(R"({"inputs": []})", l), ErrorKind::kEmpty,
                 "cannot be empty");
  ExpectRejected(ParseEmbedRequest(R"({"inputs": ["a", "b", "c"]})", l),
                 ErrorKind::kPayloadTooLarge,
                 "batch size 3 > maximum allowed batch size 2");
  ExpectRejected(ParseEmbedRequest(R"({"inputs": ["a", {}]})", l),
                 ErrorKind::kValidation, "`inputs`[1]");
  ExpectRejected(ParseEmbedRequest(R"({"inputs": ["a", []]})", l),
                 ErrorKind::kValidation, "at least one id");
  ExpectRejected(ParseEmbedRequest(R"({"inputs": [1, -2]})", l),
                 ErrorKind::kValidation, "`inputs`[1]: expected a token id");
  ExpectRejected(ParseEmbedRequest(R"({"inputs": [1, 2.5]})", l),
                 ErrorKind::kValidation, "expected a token id");
  ExpectRejected(ParseEmbedRequest(R"({"inputs": [1, 4294967296]})", l),
                 ErrorKind::kValidation, "expected a token id");
  ExpectRejected(ParseEmbedRequest(R"({"inputs": "a", "normalize": "yes"})", l),
                 ErrorKind::kValidation, "`normalize`: expected true or false");
  ExpectRejected(ParseEmbedRequest(R"({"inputs": "a", "truncate": 1})", l),
                 ErrorKind::kValidation, "`truncate`");
  ExpectRejected(ParseEmbedRequest(
                     R"({"inputs": "a", "truncation_direction": "Left"})", l),
                 ErrorKind::kValidation, "not supported");
  ExpectRejected(
      ParseEmbedRequest(R"({"inputs": "a", "truncation_direction": "up"})", l),
      ErrorKind::kValidation, "got \"up\"");
  ExpectRejected(
      ParseEmbedRequest(R"({"inputs": "a", "prompt_name": "query"})", l),
      ErrorKind::kValidation, "prompt_name");
  ExpectRejected(ParseEmbedRequest(R"({"inputs": "a", "dimensions": 0})", l),
                 ErrorKind::kValidation, "`dimensions`");
  // Invalid UTF-8 inside a JSON string is a JSON error.
  ExpectRejected(ParseEmbedRequest("{\"inputs\": \"a\xff\"}", l),
                 ErrorKind::kValidation, "not valid JSON");
}

TEST(ServerApiTest, NestingDepthIsBoundedBeforeParsing) {
  std::string deep(100000, '[');
  ExpectRejected(ParseEmbedRequest("{\"inputs\": " + deep, Limits()),
                 ErrorKind::kValidation, "nested");
  EXPECT_EQ(JsonNestingDepth(R"({"a": [[1], {"b": "[[[[{{"}]})"), 3);
  EXPECT_EQ(JsonNestingDepth(R"("\"[[[")"), 0);
  EXPECT_EQ(JsonNestingDepth(""), 0);
}

TEST(ServerApiTest, OpenAiEmbeddings) {
  auto r = ParseOpenAiEmbedRequest(
      R"({"input": ["a", "b"], "model": "m", "encoding_format": "base64", "user": "u"})",
      Limits());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->inputs.size(), 2u);
  EXPECT_EQ(r->model, "m");
  EXPECT_TRUE(r->base64);
  r = ParseOpenAiEmbedRequest(R"({"input": "a", "encoding_format": "float"})",
                              Limits());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->single);
  EXPECT_FALSE(r->base64);
  ExpectRejected(ParseOpenAiEmbedRequest(R"({"inputs": "a"})", Limits()),
                 ErrorKind::kValidation, "`input`: missing");
  ExpectRejected(ParseOpenAiEmbedRequest(
                     R"({"input": "a", "encoding_format": "hex"})", Limits()),
                 ErrorKind::kValidation, "encoding_format");
  ExpectRejected(
      ParseOpenAiEmbedRequest(R"({"input": "a", "model": 3})", Limits()),
      ErrorKind::kValidation, "`model`");
}

TEST(ServerApiTest, PredictFormsFollowTei) {
  auto r = ParsePredictRequest(R"({"inputs": "one"})", Limits());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->single);
  EXPECT_FALSE(r->inputs[0].pair.has_value());

  r = ParsePredictRequest(
      R"({"inputs": ["first", "second"], "raw_scores": true})", Limits());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->single);  // two strings are one pair, not a batch
  ASSERT_EQ(r->inputs.size(), 1u);
  EXPECT_EQ(r->inputs[0].pair, "second");
  EXPECT_TRUE(r->raw_scores);

  r = ParsePredictRequest(R"({"inputs": [["a"], ["b", "c"]]})", Limits());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->single);
  ASSERT_EQ(r->inputs.size(), 2u);
  EXPECT_FALSE(r->inputs[0].pair.has_value());
  EXPECT_EQ(r->inputs[1].pair, "c");

  ExpectRejected(
      ParsePredictRequest(R"({"inputs": ["a", "b", "c"]})", Limits()),
      ErrorKind::kValidation, "one or two strings");
  ExpectRejected(ParsePredictRequest(R"({"inputs": [["a"], "b"]})", Limits()),
                 ErrorKind::kValidation, "`inputs`[1]");
  ExpectRejected(
      ParsePredictRequest(R"({"inputs": [["a", "b", "c"]]})", Limits()),
      ErrorKind::kValidation, "`inputs`[0]");
  ExpectRejected(ParsePredictRequest(R"({"inputs": []})", Limits()),
                 ErrorKind::kEmpty, "cannot be empty");
  ExpectRejected(
      ParsePredictRequest(R"({"inputs": [["a"],["a"],["a"],["a"],["a"]]})",
                          Limits()),
      ErrorKind::kPayloadTooLarge, "batch size 5");
}

TEST(ServerApiTest, FillMaskTokenizeDecode) {
  auto f = ParseFillMaskRequest(
      R"({"inputs": ["a <mask>"], "parameters": {"top_k": 3}})", Limits());
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_FALSE(f->single);
  EXPECT_EQ(f->top_k, 3);
  ExpectRejected(
      ParseFillMaskRequest(R"({"inputs": "a", "parameters": {"top_k": 0}})",
                           Limits()),
      ErrorKind::kValidation, "`parameters`.`top_k`");
  ExpectRejected(
      ParseFillMaskRequest(R"({"inputs": "a", "parameters": []})", Limits()),
      ErrorKind::kValidation, "`parameters`");
  ExpectRejected(
      ParseFillMaskRequest(
          R"({"inputs": "a", "parameters": {"targets": ["x"]}})", Limits()),
      ErrorKind::kValidation, "targets");
  ExpectRejected(ParseFillMaskRequest(R"({"inputs": [1]})", Limits()),
                 ErrorKind::kValidation, "`inputs`[0]: expected a string");

  auto t = ParseTokenizeRequest(
      R"({"inputs": "x", "add_special_tokens": false})", Limits());
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->add_special_tokens);
  ExpectRejected(ParseTokenizeRequest(R"({"inputs": null})", Limits()),
                 ErrorKind::kValidation, "missing");

  auto d = ParseDecodeRequest(R"({"ids": [1, 2]})", Limits());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->ids.size(), 1u);
  d = ParseDecodeRequest(
      R"({"ids": [[1], [2, 3]], "skip_special_tokens": false})", Limits());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->ids.size(), 2u);
  EXPECT_FALSE(d->skip_special_tokens);
  d = ParseDecodeRequest(R"({"ids": []})", Limits());
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->ids[0].empty());
  ExpectRejected(ParseDecodeRequest(R"({"ids": [[1], 2]})", Limits()),
                 ErrorKind::kValidation, "`ids`[1]");
}

TEST(ServerApiTest, ErrorTableCoversEveryKindOnce) {
  for (const ErrorKind k : kAllErrorKinds) {
    const ErrorInfo info = GetErrorInfo(k);
    EXPECT_GE(info.http_status, 400);
    EXPECT_LT(info.http_status, 600);
    const std::string body = RenderError({k, "msg \"q\""});
    EXPECT_NE(
        body.find(std::string("\"error_type\":\"") + info.error_type + "\""),
        std::string::npos)
        << body;
    EXPECT_NE(body.find(R"("error":"msg \"q\"")"), std::string::npos) << body;
    const std::string oa = RenderOpenAiError({k, "m"});
    EXPECT_NE(oa.find("\"code\":" + std::to_string(info.http_status)),
              std::string::npos)
        << oa;
  }
  EXPECT_EQ(GetErrorInfo(ErrorKind::kValidation).http_status, 422);
  EXPECT_EQ(GetErrorInfo(ErrorKind::kEmpty).http_status, 400);
  EXPECT_EQ(GetErrorInfo(ErrorKind::kPayloadTooLarge).http_status, 413);
  EXPECT_EQ(GetErrorInfo(ErrorKind::kOverloaded).http_status, 429);
  EXPECT_EQ(GetErrorInfo(ErrorKind::kUnavailable).http_status, 503);
  EXPECT_EQ(GetErrorInfo(ErrorKind::kInternal).http_status, 500);
  EXPECT_EQ(ErrorKindForHttpStatus(413), ErrorKind::kPayloadTooLarge);
  EXPECT_EQ(ErrorKindForHttpStatus(404), ErrorKind::kNotFound);
}

TEST(ServerApiTest, Base64MatchesRfc4648) {
  auto b = [](const char* s) { return Base64Encode(s, std::strlen(s)); };
  EXPECT_EQ(b(""), "");
  EXPECT_EQ(b("f"), "Zg==");
  EXPECT_EQ(b("fo"), "Zm8=");
  EXPECT_EQ(b("foo"), "Zm9v");
  EXPECT_EQ(b("foob"), "Zm9vYg==");
  EXPECT_EQ(b("fooba"), "Zm9vYmE=");
  EXPECT_EQ(b("foobar"), "Zm9vYmFy");
  const unsigned char bytes[] = {0xff, 0xfe, 0x00};
  EXPECT_EQ(Base64Encode(bytes, 3), "//4A");
}

}  // namespace
}  // namespace fff::server
