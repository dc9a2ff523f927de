// llmctl usage [--team T] [--key ID] [--model M] [--from DAY] [--to DAY] [--csv]
// llmctl audit [--limit N] [--since UNIX_SECONDS]
// and the output helpers every command shares.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "tools/llmctl/commands.hpp"
#include "tools/llmctl/table.hpp"

namespace llmd::llmctl {

namespace json = boost::json;

int fail(const Error& e) {
  std::fprintf(stderr, "llmctl: %s\n", e.message.c_str());
  return 1;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "llmctl: %s (see llmctl --help)\n", message.c_str());
  return 2;
}

void print_json(const json::value& v) { std::printf("%s\n", json::serialize(v).c_str()); }

std::string text_of(const json::value* v) {
  if (!v || v->is_null()) return "-";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  if (v->is_double()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v->as_double());
    return buf;
  }
  if (v->is_bool()) return v->as_bool() ? "yes" : "no";
  return json::serialize(*v);
}

std::string time_of(const json::value* v) {
  if (!v || !v->is_int64()) return "-";
  std::time_t t = static_cast<std::time_t>(v->as_int64());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

Result<json::value> int_option(const std::string& name, const std::string& text) {
  if (text == "none") return json::value(nullptr);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) {
    return Error(ErrorCode::usage, "--" + name + " needs a whole number (or 'none' to remove the limit)");
  }
  return json::value(v);
}

int cmd_usage(Context& ctx) {
  std::string query;
  const std::pair<const char*, const char*> params[] = {
      {"team", "team"}, {"key", "key"}, {"model", "model"}, {"from", "from"}, {"to", "to"}, {"limit", "limit"}};
  for (auto [flag, param] : params) {
    if (auto v = ctx.args.get(flag)) query += std::string(query.empty() ? "?" : "&") + param + "=" + url_encode(*v);
  }
  const std::string path = "/admin/v1/usage" + query;
  if (ctx.args.has("csv")) {
    auto csv = ctx.client.get_text(path, "text/csv");
    if (!csv) return fail(csv.error());
    std::fputs(csv->c_str(), stdout);
    return 0;
  }
  auto r = ctx.client.call("GET", path);
  if (!r) return fail(r.error());
  if (ctx.json) return print_json(*r), 0;
  Table t({"DAY", "TEAM", "KEY", "MODEL", "REQUESTS", "PROMPT", "COMPLETION", "CACHED", "TOTAL", "ERRORS",
           "CANCELLED", "INTERRUPTED"});
  for (const auto& v : r->as_object().at("data").as_array()) {
    const json::object& o = v.as_object();
    t.add({text_of(o.if_contains("day")), text_of(o.if_contains("team")), text_of(o.if_contains("key_id")),
           text_of(o.if_contains("model")), text_of(o.if_contains("requests")),
           text_of(o.if_contains("prompt_tokens")), text_of(o.if_contains("completion_tokens")),
           text_of(o.if_contains("cached_tokens")), text_of(o.if_contains("total_tokens")),
           text_of(o.if_contains("errors")), text_of(o.if_contains("cancelled")),
           text_of(o.if_contains("interrupted"))});
  }
  t.print(stdout);
  return 0;
}

int cmd_audit(Context& ctx) {
  std::string query = "?limit=" + url_encode(ctx.args.get("limit").value_or("50"));
  if (auto s = ctx.args.get("since")) query += "&since=" + url_encode(*s);
  auto r = ctx.client.call("GET", "/admin/v1/audit" + query);
  if (!r) return fail(r.error());
  if (ctx.json) return print_json(*r), 0;
  Table t({"TIME", "ACTOR", "ACTION", "TARGET", "DETAIL"});
  for (const auto& v : r->as_object().at("data").as_array()) {
    const json::object& o = v.as_object();
    t.add({time_of(o.if_contains("at")), text_of(o.if_contains("actor")), text_of(o.if_contains("action")),
           text_of(o.if_contains("target")), text_of(o.if_contains("detail"))});
  }
  t.print(stdout);
  return 0;
}

}  // namespace llmd::llmctl
