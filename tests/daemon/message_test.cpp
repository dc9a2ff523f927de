// Request/response helpers, error bodies, SSE framing and response bytes.
#include <gtest/gtest.h>

#include "daemon/http/message.hpp"
#include "daemon/http/request_id.hpp"
#include "daemon/http/sse_stream.hpp"
#include "daemon/http/wire.hpp"

namespace llmd::http {
namespace {

TEST(Message, ErrorBodyHasTheOpenAiShape) {
  Response r = error_response(404, "The model 'x' does not exist", "model_not_found", "model");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
  EXPECT_EQ(r.body,
            R"({"error":{"message":"The model 'x' does not exist","type":"not_found_error","param":"model",)"
            R"("code":"model_not_found"}})");
  Response plain = error_response(400, "bad \"quote\"\n");
  EXPECT_EQ(plain.body,
            R"({"error":{"message":"bad \"quote\"\n","type":"invalid_request_error","param":null,"code":null}})");
  EXPECT_EQ(error_type_for(401), "authentication_error");
  EXPECT_EQ(error_type_for(403), "permission_error");
  EXPECT_EQ(error_type_for(429), "rate_limit_error");
  EXPECT_EQ(error_type_for(503), "server_error");
}

TEST(Message, HeadersAndQuery) {
  Request r;
  r.headers.add("Authorization", "Bearer x");
  r.headers.add("X-Thing", "1");
  EXPECT_EQ(r.header("authorization"), "Bearer x");
  EXPECT_EQ(r.header("missing"), "");
  r.query = "team=a%20b&flag&x=1+2&team=second";
  EXPECT_EQ(r.query_param("team"), std::optional<std::string>("a b"));
  EXPECT_EQ(r.query_param("flag"), std::optional<std::string>(""));
  EXPECT_EQ(r.query_param("x"), std::optional<std::string>("1 2"));
  EXPECT_EQ(r.query_param("nope"), std::nullopt);
  EXPECT_EQ(percent_decode("%4", false), std::nullopt);
  EXPECT_EQ(percent_decode("a%2Fb", false), std::optional<std::string>("a/b"));
}

TEST(Message, RequestIds) {
  std::string a = new_request_id(), b = new_request_id();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 20u);
  EXPECT_TRUE(acceptable_request_id(a));
  EXPECT_FALSE(acceptable_request_id(""));
  EXPECT_FALSE(acceptable_request_id("has space"));
  EXPECT_FALSE(acceptable_request_id(std::string(129, 'a')));
}

TEST(Sse, EventFraming) {
  EXPECT_EQ(sse::format_event("", R"({"a":1})"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse::format_event("ping", "x\ny\r\nz"), "event: ping\ndata: x\ndata: y\ndata: z\n\n");
}

TEST(Wire, ResponseBytes) {
  Response r = Response::json(200, "{}");
  r.headers.add("X-Evil", "a\r\nset-cookie: b");
  r.headers.add("Content-Length", "999");  // the server owns framing headers
  r.headers.add("bad name", "v");
  std::string out;
  detail::append_response(out, r, 11, "req_1", true);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nX-Evil: aset-cookie: b\r\n"
            "x-request-id: req_1\r\ncontent-length: 2\r\n\r\n{}");
  out.clear();
  detail::append_response(out, Response::text(204, "ignored"), 10, "", true);
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: keep-alive\r\n\r\n");
  out.clear();
  detail::append_chunk(out, "hello");
  detail::append_chunk(out, "");
  detail::append_last_chunk(out);
  EXPECT_EQ(out, "5\r\nhello\r\n0\r\n\r\n");
}

}  // namespace
}  // namespace llmd::http
