#include "auth/credentials.hpp"

namespace llmd::auth {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool has_inner_space(std::string_view s) {
  return s.find_first_of(" \t") != std::string_view::npos;
}

}  // namespace

Credentials extract_credentials(std::optional<std::string_view> authorization,
                                std::optional<std::string_view> x_api_key) {
  std::optional<std::string_view> bearer;
  if (authorization) {
    std::string_view v = trim(*authorization);
    size_t sp = v.find_first_of(" \t");
    if (sp == std::string_view::npos || !iequals(v.substr(0, sp), "bearer")) {
      return {CredentialStatus::malformed, {}};
    }
    std::string_view token = trim(v.substr(sp + 1));
    if (token.empty() || has_inner_space(token)) return {CredentialStatus::malformed, {}};
    bearer = token;
  }
  std::optional<std::string_view> header_key;
  if (x_api_key) {
    std::string_view token = trim(*x_api_key);
    if (token.empty() || has_inner_space(token)) return {CredentialStatus::malformed, {}};
    header_key = token;
  }
  if (bearer && header_key && *bearer != *header_key) return {CredentialStatus::malformed, {}};
  if (bearer) return {CredentialStatus::found, *bearer};
  if (header_key) return {CredentialStatus::found, *header_key};
  return {CredentialStatus::missing, {}};
}

}  // namespace llmd::auth
