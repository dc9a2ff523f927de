#include "auth/role.hpp"

namespace llmd::auth {

std::string_view to_string(Role role) { return role == Role::admin ? "admin" : "user"; }

std::optional<Role> parse_role(std::string_view text) {
  if (text == "admin") return Role::admin;
  if (text == "user") return Role::user;
  return std::nullopt;
}

}  // namespace llmd::auth
