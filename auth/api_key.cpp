#include "auth/api_key.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>

namespace llmd::auth {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static_assert(kAlphabet.size() == 62);

bool is_base62(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

SecretHash sha256(std::string_view data) {
  SecretHash out{};
  unsigned int len = 0;
  // EVP_Digest with SHA-256 cannot fail for in-memory input short of allocation failure.
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 || len != out.size()) {
    out.fill(0);
  }
  return out;
}

// Uniform base62 characters: bytes >= 248 (= 4 x 62) are thrown away so that
// every character is equally likely.
Status random_base62(size_t count, std::string* out) {
  out->clear();
  unsigned char buf[64];
  while (out->size() < count) {
    if (RAND_bytes(buf, sizeof buf) != 1) {
      return Error(ErrorCode::random_failed, "the OpenSSL random generator failed");
    }
    for (unsigned char b : buf) {
      if (b >= 248) continue;
      out->push_back(kAlphabet[b % 62]);
      if (out->size() == count) break;
    }
  }
  OPENSSL_cleanse(buf, sizeof buf);
  return ok_status();
}

// Checksum over "llmd_<key id>_<secret>".
std::string checksum_of(std::string_view body) {
  SecretHash h = sha256(body);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | h[static_cast<size_t>(i)];
  std::string out(kChecksumLength, '0');
  for (size_t i = kChecksumLength; i-- > 0;) {
    out[i] = kAlphabet[v % 62];
    v /= 62;
  }
  return out;
}

}  // namespace

SecretHash hash_secret(std::string_view secret) { return sha256(secret); }

bool secret_matches(std::string_view secret, const SecretHash& stored) {
  SecretHash presented = sha256(secret);
  return CRYPTO_memcmp(presented.data(), stored.data(), presented.size()) == 0;
}

std::string assemble_api_key(std::string_view key_id, std::string_view secret) {
  std::string key;
  key.reserve(kKeyLength);
  key += kKeyPrefix;
  key += key_id;
  key += '_';
  key += secret;
  key += checksum_of(key);
  return key;
}

Result<GeneratedKey> generate_api_key() {
  GeneratedKey g;
  std::string secret;
  if (auto r = random_base62(kKeyIdLength, &g.key_id); !r) return r.take_error();
  if (auto r = random_base62(kSecretLength, &secret); !r) return r.take_error();
  g.key = assemble_api_key(g.key_id, secret);
  g.secret_sha256 = hash_secret(secret);
  OPENSSL_cleanse(secret.data(), secret.size());
  return g;
}

std::optional<ParsedKey> parse_api_key(std::string_view s) {
  if (s.size() != kKeyLength || s.substr(0, kKeyPrefix.size()) != kKeyPrefix) return std::nullopt;
  const size_t id_at = kKeyPrefix.size();
  const size_t sep_at = id_at + kKeyIdLength;
  const size_t secret_at = sep_at + 1;
  const size_t sum_at = secret_at + kSecretLength;
  if (s[sep_at] != '_') return std::nullopt;
  std::string_view id = s.substr(id_at, kKeyIdLength);
  std::string_view secret = s.substr(secret_at, kSecretLength);
  std::string_view sum = s.substr(sum_at, kChecksumLength);
  if (!std::all_of(id.begin(), id.end(), is_base62) || !std::all_of(secret.begin(), secret.end(), is_base62) ||
      !std::all_of(sum.begin(), sum.end(), is_base62)) {
    return std::nullopt;
  }
  if (checksum_of(s.substr(0, sum_at)) != sum) return std::nullopt;
  return ParsedKey{id, secret};
}

}  // namespace llmd::auth
