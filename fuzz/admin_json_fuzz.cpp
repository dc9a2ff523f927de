// Fuzz target: the admin API's JSON body readers (daemon/admin): the body as
// an object (parse_body), the team fields of POST/PATCH /admin/v1/teams, the
// fields of POST /admin/v1/keys, the model spec of POST /admin/v1/models and
// the query counts of the usage and audit reports. Invariants: a reader that
// accepts a value keeps it within the range it was given; every refusal
// carries a message.
#include <cmath>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/admin/admin_json.hpp"
#include "daemon/admin/model_spec_json.hpp"
#include "fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llmd;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto n = admin::parse_count(text)) fuzz_check(*n >= 0);

  auto body = admin::parse_body(text, size % 2 == 0);
  if (!body) {
    fuzz_check(!body.error().message.empty());
    return 0;
  }

  storage::TeamLimits limits;
  if (auto st = admin::read_team_fields(*body, &limits, {"name"}); st) {
    fuzz_check(limits.weight > 0 && std::isfinite(limits.weight));
    for (const auto* v : {&limits.rpm_limit, &limits.tpm_limit, &limits.daily_token_budget,
                          &limits.monthly_token_budget, &limits.max_concurrent}) {
      if (*v) fuzz_check(**v >= 0);
    }
  } else {
    fuzz_check(!st.error().message.empty());
  }

  (void)admin::only_fields(*body, {"team", "name", "role", "priority", "expires_at", "expires_in_days"});
  (void)admin::get_string(*body, "name", true);
  (void)admin::get_string(*body, "role", false);
  if (auto v = admin::get_int(*body, "expires_in_days", 1, 36500); v && *v) {
    fuzz_check(**v >= 1 && **v <= 36500);
  }
  if (auto v = admin::get_int(*body, "rpm_limit", 1, std::int64_t{1} << 50); v && *v) {
    fuzz_check(**v >= 1 && **v <= (std::int64_t{1} << 50));
  }

  const std::vector<std::filesystem::path> dirs{"/var/lib/llmd/models"};
  if (auto spec = admin::read_model_spec(*body, dirs); spec) {
    fuzz_check(!spec->id.empty() || body->contains("id"));
    fuzz_check(spec->max_choices <= 128);
  } else {
    fuzz_check(!spec.error().message.empty());
  }
  return 0;
}
