// Finding the key in Authorization / x-api-key headers.
#include <gtest/gtest.h>

#include "auth/credentials.hpp"

namespace llmd::auth {
namespace {

TEST(Credentials, BearerAndXApiKey) {
  auto a = extract_credentials("Bearer abc", std::nullopt);
  EXPECT_EQ(a.status, CredentialStatus::found);
  EXPECT_EQ(a.key, "abc");
  auto b = extract_credentials("bearer   abc  ", std::nullopt);
  EXPECT_EQ(b.status, CredentialStatus::found);
  EXPECT_EQ(b.key, "abc");
  auto c = extract_credentials(std::nullopt, " abc ");
  EXPECT_EQ(c.status, CredentialStatus::found);
  EXPECT_EQ(c.key, "abc");
  auto d = extract_credentials("Bearer abc", "abc");
  EXPECT_EQ(d.status, CredentialStatus::found);
}

TEST(Credentials, MissingAndMalformed) {
  EXPECT_EQ(extract_credentials(std::nullopt, std::nullopt).status, CredentialStatus::missing);
  for (const char* bad : {"", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "abc", "Bearer a b", "Token abc",
                          "Bearer ' OR '1'='1"}) {
    EXPECT_EQ(extract_credentials(bad, std::nullopt).status, CredentialStatus::malformed) << bad;
  }
  EXPECT_EQ(extract_credentials(std::nullopt, "").status, CredentialStatus::malformed);
  EXPECT_EQ(extract_credentials("Bearer abc", "xyz").status, CredentialStatus::malformed);
}

}  // namespace
}  // namespace llmd::auth
