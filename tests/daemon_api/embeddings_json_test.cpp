// The embeddings route's own pieces, without a server: base64 against RFC
// 4648's vectors, the float32 byte order, the answer's shape, and request
// parsing (every input shape, the refusals naming their field).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/openai/embedding_response.hpp"
#include "daemon/openai/embeddings_request.hpp"

namespace llmd::openai {
namespace {

std::string b64(const std::string& s) {
  return base64_encode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

TEST(EmbeddingsJson, Base64MatchesRfc4648Vectors) {
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("f"), "Zg==");
  EXPECT_EQ(b64("fo"), "Zm8=");
  EXPECT_EQ(b64("foo"), "Zm9v");
  EXPECT_EQ(b64("foob"), "Zm9vYg==");
  EXPECT_EQ(b64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(b64(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(EmbeddingsJson, Float32LittleEndianBytes) {
  // 1.0f = 0x3f800000, -2.0f = 0xc0000000: bytes 00 00 80 3f 00 00 00 c0.
  const std::vector<float> v = {1.0f, -2.0f};
  EXPECT_EQ(embedding_base64(v), "AACAPwAAAMA=");
}

TEST(EmbeddingsJson, ResponseHasOpenAisShape) {
  const std::string body = embeddings_response("m", {{0.5f, -0.25f}, {1.0f, 0.0f}}, false, 7);
  std::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  ASSERT_FALSE(ec) << body;
  EXPECT_EQ(v.at("object"), "list");
  EXPECT_EQ(v.at("model"), "m");
  const auto& data = v.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[1].at("object"), "embedding");
  EXPECT_EQ(data[1].at("index").as_int64(), 1);
  EXPECT_EQ(data[0].at("embedding").as_array()[1].to_number<double>(), -0.25);
  EXPECT_EQ(v.at("usage").at("prompt_tokens").as_int64(), 7);
  EXPECT_EQ(v.at("usage").at("total_tokens").as_int64(), 7);
  const std::string b = embeddings_response("m", {{1.0f, -2.0f}}, true, 2);
  boost::json::value bv = boost::json::parse(b, ec);
  ASSERT_FALSE(ec) << b;
  EXPECT_EQ(bv.at("data").as_array()[0].at("embedding"), "AACAPwAAAMA=");
}

TEST(EmbeddingsJson, ParsesEveryInputShape) {
  EmbeddingsRequest r;
  ASSERT_FALSE(parse_embeddings_request(R"({"model":"m","input":"hi"})", &r));
  ASSERT_EQ(r.inputs.size(), 1u);
  EXPECT_EQ(r.inputs[0].text, "hi");
  EXPECT_FALSE(r.base64);
  EmbeddingsRequest s;
  ASSERT_FALSE(parse_embeddings_request(R"({"model":"m","input":["a","b"],"encoding_format":"base64","dimensions":8,"user":"u"})", &s));
  EXPECT_EQ(s.inputs.size(), 2u);
  EXPECT_TRUE(s.base64);
  EXPECT_EQ(s.dimensions, std::optional<int64_t>(8));
  EmbeddingsRequest t;
  ASSERT_FALSE(parse_embeddings_request(R"({"model":"m","input":[1,2,3]})", &t));
  ASSERT_EQ(t.inputs.size(), 1u);
  EXPECT_TRUE(t.inputs[0].is_ids);
  EXPECT_EQ(t.inputs[0].ids, (std::vector<int64_t>{1, 2, 3}));
  EmbeddingsRequest u;
  ASSERT_FALSE(parse_embeddings_request(R"({"model":"m","input":[[1],[2,3]],"encoding_format":null})", &u));
  EXPECT_EQ(u.inputs.size(), 2u);
}

TEST(EmbeddingsJson, RefusalsNameTheirField) {
  struct Case {
    const char* body;
    const char* param;
    const char* code;
  };
  const Case cases[] = {
      {R"({"input":"x"})", "model", "missing_required_parameter"},
      {R"({"model":"m"})", "input", "missing_required_parameter"},
      {R"({"model":"m","input":""})", "input", "invalid_value"},
      {R"({"model":"m","input":[]})", "input", "invalid_value"},
      {R"({"model":"m","input":["a",3]})", "input[1]", "invalid_type"},
      {R"({"model":"m","input":[[1],[]]})", "input[1]", "invalid_value"},
      {R"({"model":"m","input":[1,2.5]})", "input[1]", "invalid_type"},
      {R"({"model":"m","input":{"text":"x"}})", "input", "invalid_type"},
      {R"({"model":"m","input":"x","encoding_format":"int8"})", "encoding_format", "invalid_value"},
      {R"({"model":"m","input":"x","dimensions":0})", "dimensions", "invalid_value"},
      {R"({"model":"m","input":"x","dimensions":"8"})", "dimensions", "invalid_type"},
      {R"({"model":"m","input":"x","user":5})", "user", "invalid_type"},
      {R"({"model":"m","input":"x","input_type":"query"})", "input_type", "unsupported_parameter"},
      {R"([1])", "", "invalid_json"},
  };
  for (const Case& c : cases) {
    EmbeddingsRequest r;
    auto e = parse_embeddings_request(c.body, &r);
    ASSERT_TRUE(e.has_value()) << c.body;
    EXPECT_EQ(e->status, 400) << c.body;
    EXPECT_EQ(e->param, c.param) << c.body;
    EXPECT_EQ(e->code, c.code) << c.body;
  }
  std::string many = R"({"model":"m","input":[)";
  for (int i = 0; i <= kMaxEmbeddingInputs; ++i) many += std::string(i ? "," : "") + "\"x\"";
  many += "]}";
  EmbeddingsRequest r;
  auto e = parse_embeddings_request(many, &r);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "input");
}

}  // namespace
}  // namespace llmd::openai
