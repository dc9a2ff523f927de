// Principal: who is calling, as established from a verified API key, with the
// key's and its team's limits as of the last cache refresh (at most a few seconds
// old). The scheduler's fair share reads `team_id` and `weight`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/role.hpp"

namespace llmd::auth {

struct Principal {
  int64_t key_row = 0;        // database id of the key (usage rows refer to it)
  std::string key_id;         // public key id: safe to log
  std::string key_name;
  Role role = Role::user;
  bool batch = false;         // the key's requests are batch work unless they ask otherwise

  int64_t team_id = 0;
  std::string team;
  double weight = 1.0;        // fair-share weight of the team

  std::optional<int64_t> key_rpm;
  std::optional<int64_t> key_tpm;
  std::optional<int64_t> team_rpm;
  std::optional<int64_t> team_tpm;
  std::optional<int64_t> team_max_concurrent;
  std::vector<std::string> allowed_models;  // empty: every model

  bool may_use_model(std::string_view model) const {
    if (allowed_models.empty()) return true;
    for (const auto& m : allowed_models) {
      if (m == model) return true;
    }
    return false;
  }
};

}  // namespace llmd::auth
