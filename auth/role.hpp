// Roles of API keys: `user` calls the inference API; `admin` also manages teams,
// keys and usage under /admin/.
#pragma once

#include <optional>
#include <string_view>

namespace llmd::auth {

enum class Role { user, admin };

std::string_view to_string(Role role);
std::optional<Role> parse_role(std::string_view text);

// Whether a key with role `have` may do what needs role `need`.
inline bool role_allows(Role have, Role need) { return have == Role::admin || need == Role::user; }

}  // namespace llmd::auth
