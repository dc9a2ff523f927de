// Router: literal and parameter segments, precedence, 404 and 405 with Allow.
#include <gtest/gtest.h>

#include "daemon/http/router.hpp"

namespace llmd::http {
namespace {

Handler noop() {
  return [](ExchangePtr) {};
}

TEST(Router, MatchesLiteralAndParameterSegments) {
  Router r;
  ASSERT_TRUE(r.add("GET", "/v1/models", {}, noop()));
  ASSERT_TRUE(r.add("GET", "/v1/models/{id...}", {}, noop()));
  ASSERT_TRUE(r.add("DELETE", "/admin/v1/keys/{id}", {}, noop()));
  ASSERT_TRUE(r.add("GET", "/admin/v1/keys/{id}/usage", {}, noop()));

  auto m = r.match("GET", "/v1/models");
  ASSERT_EQ(m.kind, Router::MatchKind::found);
  EXPECT_EQ(m.route->pattern, "/v1/models");
  EXPECT_TRUE(m.params.empty());

  m = r.match("GET", "/v1/models/meta-llama/Llama-3%2e1");
  ASSERT_EQ(m.kind, Router::MatchKind::found);
  EXPECT_EQ(m.route->pattern, "/v1/models/{id...}");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "id");
  EXPECT_EQ(m.params[0].second, "meta-llama/Llama-3.1");

  m = r.match("DELETE", "/admin/v1/keys/k%20y");
  ASSERT_EQ(m.kind, Router::MatchKind::found);
  EXPECT_EQ(m.params[0].second, "k y");

  m = r.match("GET", "/admin/v1/keys/abc/usage");
  ASSERT_EQ(m.kind, Router::MatchKind::found);
  EXPECT_EQ(m.route->pattern, "/admin/v1/keys/{id}/usage");
  EXPECT_EQ(m.params[0].second, "abc");
}

TEST(Router, NotFoundCases) {
  Router r;
  ASSERT_TRUE(r.add("GET", "/v1/models/{id}", {}, noop()));
  EXPECT_EQ(r.match("GET", "/v1/models/").kind, Router::MatchKind::not_found);   // empty segment
  EXPECT_EQ(r.match("GET", "/v1/models").kind, Router::MatchKind::not_found);
  EXPECT_EQ(r.match("GET", "/v1/models/a/b").kind, Router::MatchKind::not_found);  // {id} is one segment
  EXPECT_EQ(r.match("GET", "/v1/models/%zz").kind, Router::MatchKind::not_found);  // bad escape
  EXPECT_EQ(r.match("GET", "v1/models/a").kind, Router::MatchKind::not_found);
  EXPECT_EQ(r.match("GET", "").kind, Router::MatchKind::not_found);
}

TEST(Router, MethodNotAllowedListsAllowedMethods) {
  Router r;
  ASSERT_TRUE(r.add("POST", "/admin/v1/keys", {}, noop()));
  ASSERT_TRUE(r.add("GET", "/admin/v1/keys", {}, noop()));
  auto m = r.match("DELETE", "/admin/v1/keys");
  ASSERT_EQ(m.kind, Router::MatchKind::method_not_allowed);
  EXPECT_EQ(m.allow, "GET, POST");
}

TEST(Router, LiteralBeatsParameter) {
  Router r;
  ASSERT_TRUE(r.add("GET", "/a/{x}", {}, noop()));
  ASSERT_TRUE(r.add("GET", "/a/special", {}, noop()));
  EXPECT_EQ(r.match("GET", "/a/special").route->pattern, "/a/special");
  EXPECT_EQ(r.match("GET", "/a/other").route->pattern, "/a/{x}");
}

TEST(Router, RejectsBadPatternsAndDuplicates) {
  Router r;
  EXPECT_FALSE(r.add("GET", "nope", {}, noop()));
  EXPECT_FALSE(r.add("GET", "/a/{}", {}, noop()));
  EXPECT_FALSE(r.add("GET", "/a/{x...}/b", {}, noop()));
  EXPECT_FALSE(r.add("GET", "/a/b{x}", {}, noop()));
  ASSERT_TRUE(r.add("GET", "/a", {}, noop()));
  EXPECT_FALSE(r.add("GET", "/a", {}, noop()));
  EXPECT_TRUE(r.add("POST", "/a", {}, noop()));
}

TEST(Router, BodyLimitOverride) {
  Router r;
  ASSERT_TRUE(r.add("POST", "/v1/chat/completions", {}, noop()));
  EXPECT_FALSE(r.set_body_limit("/v1/other", 10));
  ASSERT_TRUE(r.set_body_limit("/v1/chat/completions", 10));
  EXPECT_EQ(r.match("POST", "/v1/chat/completions").route->options.body_limit, std::optional<std::size_t>(10));
}

}  // namespace
}  // namespace llmd::http
