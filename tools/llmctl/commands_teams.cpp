// llmctl teams list | show NAME | create NAME [limits] | update NAME [limits] | delete NAME
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstdio>

#include "tools/llmctl/commands.hpp"
#include "tools/llmctl/table.hpp"

namespace llmd::llmctl {

namespace json = boost::json;

namespace {

std::string models_of(const json::object& t) {
  const json::value* m = t.if_contains("allowed_models");
  if (!m || !m->is_array() || m->as_array().empty()) return "*";
  std::string out;
  for (const auto& v : m->as_array()) out += (out.empty() ? "" : ",") + text_of(&v);
  return out;
}

// Limits from the command line: --weight --rpm --tpm --daily-budget
// --monthly-budget --max-concurrent --models (comma list; "*" for all).
Result<json::object> limits_from(const Args& a) {
  json::object o;
  if (auto w = a.get("weight")) {
    char* end = nullptr;
    double v = std::strtod(w->c_str(), &end);
    if (w->empty() || *end != '\0') return Error(ErrorCode::usage, "--weight needs a number");
    o["weight"] = v;
  }
  const std::pair<const char*, const char*> ints[] = {{"rpm", "rpm_limit"},
                                                      {"tpm", "tpm_limit"},
                                                      {"daily-budget", "daily_token_budget"},
                                                      {"monthly-budget", "monthly_token_budget"},
                                                      {"max-concurrent", "max_concurrent"}};
  for (auto [flag, field] : ints) {
    if (auto v = a.get(flag)) {
      auto n = int_option(flag, *v);
      if (!n) return n.take_error();
      o[field] = *n;
    }
  }
  if (auto m = a.get("models")) {
    json::array models;
    if (*m != "*" && !m->empty()) {
      size_t start = 0;
      while (start <= m->size()) {
        size_t comma = m->find(',', start);
        std::string name = m->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!name.empty()) models.emplace_back(name);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    o["allowed_models"] = std::move(models);
  }
  return o;
}

void print_team(const json::object& t) {
  std::vector<std::pair<std::string, std::string>> f = {
      {"name", text_of(t.if_contains("name"))},
      {"weight", text_of(t.if_contains("weight"))},
      {"requests/min", text_of(t.if_contains("rpm_limit"))},
      {"tokens/min", text_of(t.if_contains("tpm_limit"))},
      {"daily budget", text_of(t.if_contains("daily_token_budget"))},
      {"monthly budget", text_of(t.if_contains("monthly_token_budget"))},
      {"max concurrent", text_of(t.if_contains("max_concurrent"))},
      {"models", models_of(t)},
      {"created", time_of(t.if_contains("created_at"))},
  };
  if (const json::value* k = t.if_contains("active_keys")) f.emplace_back("active keys", text_of(k));
  for (const char* period : {"today", "this_month"}) {
    const json::value* b = t.if_contains(period);
    if (!b || !b->is_object()) continue;
    const json::object& o = b->as_object();
    f.emplace_back(std::string(period == std::string("today") ? "today " : "month ") + text_of(o.if_contains("period")),
                   "used " + text_of(o.if_contains("used")) + ", reserved " + text_of(o.if_contains("reserved")) +
                       ", remaining " + text_of(o.if_contains("remaining")));
  }
  print_fields(stdout, f);
}

}  // namespace

int cmd_teams(Context& ctx) {
  const auto& pos = ctx.args.positional;
  std::string verb = pos.size() > 1 ? pos[1] : "list";
  if (verb == "list") {
    auto r = ctx.client.call("GET", "/admin/v1/teams");
    if (!r) return fail(r.error());
    if (ctx.json) return print_json(*r), 0;
    Table t({"NAME", "WEIGHT", "RPM", "TPM", "DAILY BUDGET", "MONTHLY BUDGET", "CONCURRENT", "MODELS"});
    for (const auto& v : r->as_object().at("data").as_array()) {
      const json::object& o = v.as_object();
      t.add({text_of(o.if_contains("name")), text_of(o.if_contains("weight")), text_of(o.if_contains("rpm_limit")),
             text_of(o.if_contains("tpm_limit")), text_of(o.if_contains("daily_token_budget")),
             text_of(o.if_contains("monthly_token_budget")), text_of(o.if_contains("max_concurrent")), models_of(o)});
    }
    t.print(stdout);
    return 0;
  }
  if (pos.size() < 3) return usage_error("teams " + verb + " needs a team name");
  const std::string& name = pos[2];
  const std::string path = "/admin/v1/teams/" + url_encode(name);
  Result<json::value> r = Error(ErrorCode::usage, "");
  if (verb == "show") {
    r = ctx.client.call("GET", path);
  } else if (verb == "create" || verb == "update") {
    auto body = limits_from(ctx.args);
    if (!body) return usage_error(body.error().message);
    if (verb == "create") {
      (*body)["name"] = name;
      r = ctx.client.call("POST", "/admin/v1/teams", json::value(std::move(*body)));
    } else {
      if (body->empty()) return usage_error("teams update needs at least one limit to change");
      r = ctx.client.call("PATCH", path, json::value(std::move(*body)));
    }
  } else if (verb == "delete") {
    r = ctx.client.call("DELETE", path);
    if (r && !ctx.json) {
      std::printf("deleted team %s (its keys are revoked)\n", name.c_str());
      return 0;
    }
  } else {
    return usage_error("unknown teams command '" + verb + "'");
  }
  if (!r) return fail(r.error());
  if (ctx.json) return print_json(*r), 0;
  print_team(r->as_object());
  return 0;
}

}  // namespace llmd::llmctl
