// Finding the API key in a request's headers: `Authorization: Bearer <key>` (what
// OpenAI clients send) or `x-api-key: <key>` (what some other clients send).
#pragma once

#include <optional>
#include <string_view>

namespace llmd::auth {

enum class CredentialStatus {
  found,
  missing,    // neither header present
  malformed,  // an Authorization header that is not "Bearer <token>", an empty
              // token, or two headers that disagree
};

struct Credentials {
  CredentialStatus status = CredentialStatus::missing;
  std::string_view key;  // view into the header value when found
};

// Pass each header's value when the request has it.
Credentials extract_credentials(std::optional<std::string_view> authorization,
                                std::optional<std::string_view> x_api_key);

}  // namespace llmd::auth
