// llmctl keys list [--team T] [--all] | create --team T --name N [--role R]
//   [--priority interactive|batch] [--expires-in-days D] [--rpm N] [--tpm N] | revoke ID | rotate ID [--grace S]
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstdio>

#include "tools/llmctl/commands.hpp"
#include "tools/llmctl/table.hpp"

namespace llmd::llmctl {

namespace json = boost::json;

namespace {

void print_key(const json::object& k) {
  std::vector<std::pair<std::string, std::string>> f = {
      {"id", text_of(k.if_contains("id"))},
      {"team", text_of(k.if_contains("team"))},
      {"name", text_of(k.if_contains("name"))},
      {"role", text_of(k.if_contains("role"))},
      {"priority", text_of(k.if_contains("priority"))},
      {"status", text_of(k.if_contains("status"))},
      {"created", time_of(k.if_contains("created_at"))},
      {"expires", time_of(k.if_contains("expires_at"))},
  };
  if (const json::value* r = k.if_contains("replaces")) f.emplace_back("replaces", text_of(r));
  print_fields(stdout, f);
  if (const json::value* key = k.if_contains("key"); key && key->is_string()) {
    std::printf("\nkey (shown only this once; store it now):\n%s\n", std::string(key->as_string()).c_str());
  }
}

}  // namespace

int cmd_keys(Context& ctx) {
  const auto& pos = ctx.args.positional;
  std::string verb = pos.size() > 1 ? pos[1] : "list";
  Result<json::value> r = Error(ErrorCode::usage, "");
  if (verb == "list") {
    std::string path = "/admin/v1/keys";
    char sep = '?';
    if (auto team = ctx.args.get("team")) {
      path += "?team=" + url_encode(*team);
      sep = '&';
    }
    if (ctx.args.has("all")) path += std::string(1, sep) + "include_revoked=true";
    r = ctx.client.call("GET", path);
    if (!r) return fail(r.error());
    if (ctx.json) return print_json(*r), 0;
    Table t({"ID", "TEAM", "NAME", "ROLE", "STATUS", "CREATED", "EXPIRES", "LAST USED"});
    for (const auto& v : r->as_object().at("data").as_array()) {
      const json::object& o = v.as_object();
      t.add({text_of(o.if_contains("id")), text_of(o.if_contains("team")), text_of(o.if_contains("name")),
             text_of(o.if_contains("role")), text_of(o.if_contains("status")), time_of(o.if_contains("created_at")),
             time_of(o.if_contains("expires_at")), time_of(o.if_contains("last_used_at"))});
    }
    t.print(stdout);
    return 0;
  }
  if (verb == "create") {
    json::object body;
    auto team = ctx.args.get("team");
    auto name = ctx.args.get("name");
    if (!team || !name) return usage_error("keys create needs --team TEAM and --name NAME");
    body["team"] = *team;
    body["name"] = *name;
    body["role"] = ctx.args.get("role").value_or("user");
    if (auto p = ctx.args.get("priority")) body["priority"] = *p;
    const std::pair<const char*, const char*> ints[] = {
        {"expires-in-days", "expires_in_days"}, {"rpm", "rpm_limit"}, {"tpm", "tpm_limit"}};
    for (auto [flag, field] : ints) {
      if (auto v = ctx.args.get(flag)) {
        auto n = int_option(flag, *v);
        if (!n) return usage_error(n.error().message);
        body[field] = *n;
      }
    }
    r = ctx.client.call("POST", "/admin/v1/keys", json::value(std::move(body)));
  } else if (verb == "revoke" || verb == "rotate" || verb == "show") {
    if (pos.size() < 3) return usage_error("keys " + verb + " needs a key id");
    std::string path = "/admin/v1/keys/" + url_encode(pos[2]);
    if (verb == "revoke") {
      r = ctx.client.call("DELETE", path);
    } else if (verb == "show") {
      r = ctx.client.call("GET", path);
    } else {
      json::object body;
      if (auto g = ctx.args.get("grace")) {
        auto n = int_option("grace", *g);
        if (!n) return usage_error(n.error().message);
        body["grace_seconds"] = *n;
      }
      r = ctx.client.call("POST", path + "/rotate", json::value(std::move(body)));
    }
  } else {
    return usage_error("unknown keys command '" + verb + "'");
  }
  if (!r) return fail(r.error());
  if (ctx.json) return print_json(*r), 0;
  print_key(r->as_object());
  return 0;
}

}  // namespace llmd::llmctl
