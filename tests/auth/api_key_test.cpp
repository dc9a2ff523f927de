// API key format: generation, parsing, checksum, hashing.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "auth/api_key.hpp"

namespace llmd::auth {
namespace {

TEST(ApiKey, GeneratedKeysHaveTheDocumentedShape) {
  auto g = generate_api_key();
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->key.size(), kKeyLength);
  EXPECT_EQ(g->key.substr(0, 5), "llmd_");
  EXPECT_EQ(g->key[5 + kKeyIdLength], '_');
  EXPECT_EQ(g->key.substr(5, kKeyIdLength), g->key_id);
  auto parsed = parse_api_key(g->key);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->key_id, g->key_id);
  EXPECT_EQ(parsed->secret.size(), kSecretLength);
  EXPECT_EQ(hash_secret(parsed->secret), g->secret_sha256);
  EXPECT_TRUE(secret_matches(parsed->secret, g->secret_sha256));
  // The stored hash is not derivable from the key id.
  EXPECT_NE(hash_secret(parsed->key_id), g->secret_sha256);
}

TEST(ApiKey, SecretsCarryAtLeast256BitsAndLookUniform) {
  static_assert(kSecretLength >= 43, "43 base62 characters = 256.03 bits");
  std::set<std::string> ids;
  std::map<char, int> counts;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    auto g = generate_api_key();
    ASSERT_TRUE(g.ok());
    EXPECT_TRUE(ids.insert(g->key_id).second);
    std::string_view secret = parse_api_key(g->key)->secret;
    for (char c : secret) counts[c]++;
  }
  // 62 symbols, each expected n*43/62 ~ 1387 times: all appear, none wildly off.
  EXPECT_EQ(counts.size(), 62u);
  for (auto& [c, k] : counts) {
    EXPECT_GT(k, 1100) << c;
    EXPECT_LT(k, 1700) << c;
  }
}

TEST(ApiKey, EverySingleCharacterTypoIsCaughtByTheChecksum) {
  auto g = generate_api_key();
  ASSERT_TRUE(g.ok());
  const std::string alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  int tried = 0;
  for (size_t i = 0; i < g->key.size(); ++i) {
    for (char c : {'0', 'z', 'Q', '_'}) {
      if (g->key[i] == c) continue;
      std::string typo = g->key;
      typo[i] = c;
      EXPECT_FALSE(parse_api_key(typo)) << i;
      ++tried;
    }
  }
  EXPECT_GT(tried, 200);
  // Swapped neighbours, truncation, extension.
  std::string swapped = g->key;
  std::swap(swapped[30], swapped[31]);
  if (swapped != g->key) {
    EXPECT_FALSE(parse_api_key(swapped));
  }
  EXPECT_FALSE(parse_api_key(g->key.substr(0, g->key.size() - 1)));
  EXPECT_FALSE(parse_api_key(g->key + "x"));
}

TEST(ApiKey, GarbageIsRefused) {
  for (const std::string& s : std::vector<std::string>{"", "llmd_", "Bearer", "' OR '1'='1", "llmd_' OR '1'='1",
                              std::string(kKeyLength, 'a'), std::string(10000, 'x'), "sk-1234567890abcdef",
                              std::string("llmd_\0\0\0", 8)}) {
    EXPECT_FALSE(parse_api_key(s)) << s.size();
  }
  // Right length and prefix but characters outside base62, with a valid checksum position.
  std::string fake = assemble_api_key("AAAAAAAAAAAAAAA'", std::string(kSecretLength, 'a'));
  EXPECT_FALSE(parse_api_key(fake));
}

TEST(ApiKey, AssembledKeysParse) {
  std::string key = assemble_api_key("ABCDEFGHIJKLMNOP", std::string(kSecretLength, '7'));
  auto p = parse_api_key(key);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->key_id, "ABCDEFGHIJKLMNOP");
}

TEST(ApiKey, HashComparisonIsExact) {
  SecretHash h = hash_secret("secret-one");
  EXPECT_TRUE(secret_matches("secret-one", h));
  EXPECT_FALSE(secret_matches("secret-onf", h));
  EXPECT_FALSE(secret_matches("", h));
}

}  // namespace
}  // namespace llmd::auth
