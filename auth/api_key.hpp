// API key format, generation and verification.
//
//   llmd_<key id>_<secret><checksum>
//
//   key id    16 base62 characters (~95 random bits): public, names the key in
//             listings, logs and the admin API.
//   secret    43 base62 characters drawn uniformly with OpenSSL's RAND_bytes
//             (43 x log2(62) = 256.03 bits). Only its SHA-256 is stored.
//   checksum  6 base62 characters from SHA-256 of everything before it, so a
//             mistyped or truncated key is refused without a database lookup.
//
// The whole key is 71 characters of [A-Za-z0-9_].
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace llmd::auth {

using SecretHash = std::array<uint8_t, 32>;

inline constexpr std::string_view kKeyPrefix = "llmd_";
inline constexpr size_t kKeyIdLength = 16;
inline constexpr size_t kSecretLength = 43;
inline constexpr size_t kChecksumLength = 6;
inline constexpr size_t kKeyLength = kKeyPrefix.size() + kKeyIdLength + 1 + kSecretLength + kChecksumLength;

struct GeneratedKey {
  std::string key_id;
  std::string key;          // the full key: shown once, never stored or logged
  SecretHash secret_sha256{};
};

// Draws a new key from the OpenSSL random generator (fails if it cannot).
Result<GeneratedKey> generate_api_key();

// A presented key split into its parts; views into the presented string.
struct ParsedKey {
  std::string_view key_id;
  std::string_view secret;
};

// Checks the format and the checksum; nullopt for anything that is not a
// well-formed key. Looks at nothing but the string.
std::optional<ParsedKey> parse_api_key(std::string_view presented);

SecretHash hash_secret(std::string_view secret);

// Constant-time comparison of the presented secret's hash with a stored hash.
bool secret_matches(std::string_view secret, const SecretHash& stored);

// Assembles a key from its parts, computing the checksum (for tests and tools).
std::string assemble_api_key(std::string_view key_id, std::string_view secret);

}  // namespace llmd::auth
