#include "tools/llmctl/model_request.hpp"

#include <cctype>
#include <charconv>
#include <limits>

namespace llmd::llmctl {

namespace json = boost::json;

namespace {

constexpr std::string_view kGlobalOptions[] = {"url", "key", "key-file", "cacert"};
constexpr std::string_view kGlobalFlags[] = {"insecure", "json", "help"};
constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

bool among(std::string_view name, std::initializer_list<std::string_view> list) {
  for (std::string_view s : list) {
    if (s == name) return true;
  }
  return false;
}

template <size_t N>
bool among(std::string_view name, const std::string_view (&list)[N]) {
  for (std::string_view s : list) {
    if (s == name) return true;
  }
  return false;
}

Error usage(std::string message) { return Error(ErrorCode::usage, std::move(message)); }

// A non-empty option value (an empty --device or --alias is a mistake, not a default).
Result<std::string> text_option(const Args& a, const char* name) {
  std::string v = *a.get(name);
  if (v.empty()) return usage(std::string("--") + name + " needs a non-empty value");
  return v;
}

}  // namespace

Status check_options(const Args& a, std::string_view command, std::initializer_list<std::string_view> options,
                     std::initializer_list<std::string_view> flags) {
  for (const auto& [name, value] : a.options) {
    if (among(name, options) || among(name, kGlobalOptions)) continue;
    if (among(name, flags) || among(name, kGlobalFlags)) return usage("--" + name + " takes no value");
    return usage(std::string(command) + " has no option --" + name);
  }
  for (const std::string& name : a.flags) {
    if (among(name, flags) || among(name, kGlobalFlags)) continue;
    if (among(name, options)) return usage("--" + name + " needs a value");
    return usage(std::string(command) + " has no option --" + name);
  }
  return ok_status();
}

Status check_operands(const Args& a, size_t count, std::string_view synopsis) {
  if (a.positional.size() < count) return usage("missing operand: " + std::string(synopsis));
  if (a.positional.size() > count) {
    return usage("unexpected '" + a.positional[count] + "' (" + std::string(synopsis) + ")");
  }
  for (const std::string& word : a.positional) {
    if (word.empty()) return usage("empty operand (" + std::string(synopsis) + ")");
  }
  return ok_status();
}

Result<uint64_t> parse_count(std::string_view flag, std::string_view text, uint64_t max) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v > max) {
    return usage("--" + std::string(flag) + " needs a whole number from 0 to " + std::to_string(max) + " (got '" +
                 std::string(text.substr(0, 64)) + "')");
  }
  return v;
}

Result<uint64_t> parse_bytes(std::string_view flag, std::string_view text) {
  const auto bad = [&] {
    return usage("--" + std::string(flag) + " needs a size in bytes such as 1073741824, 512MiB or 4GiB (got '" +
                 std::string(text.substr(0, 64)) + "')");
  };
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return bad();
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + digits, v);
  if (ec != std::errc()) return bad();
  std::string unit;
  for (char c : text.substr(digits)) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift = 0;
  if (unit.empty() || unit == "b") shift = 0;
  else if (unit == "k" || unit == "kib") shift = 10;
  else if (unit == "m" || unit == "mib") shift = 20;
  else if (unit == "g" || unit == "gib") shift = 30;
  else if (unit == "t" || unit == "tib") shift = 40;
  else return bad();
  const uint64_t max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (v > (max >> shift)) return bad();
  return v << shift;
}

Result<json::object> add_model_body(const Args& a) {
  LLMD_TRY(check_options(a, "models add",
                         {"device", "alias", "context-length", "max-sequences", "kv-cache-bytes", "keep-alive"},
                         {"pinned", "no-load", "wait"}));
  LLMD_TRY(check_operands(a, 4, "models add ID PATH"));
  if (a.has("no-load") && a.has("wait")) return usage("--wait waits for a load: it cannot go with --no-load");
  json::object o;
  o["id"] = a.positional[2];
  o["path"] = a.positional[3];
  if (a.get("device")) {
    auto d = text_option(a, "device");
    if (!d) return d.take_error();
    o["device"] = *d;
  }
  if (a.get("alias")) {
    json::array aliases;
    for (const std::string& alias : a.get_all("alias")) {
      if (alias.empty()) return usage("--alias needs a non-empty value");
      aliases.emplace_back(alias);
    }
    o["aliases"] = std::move(aliases);
  }
  const std::pair<const char*, const char*> counts[] = {
      {"context-length", "context_length"}, {"max-sequences", "max_sequences"}, {"keep-alive", "keep_alive_s"}};
  for (auto [flag, field] : counts) {
    if (auto v = a.get(flag)) {
      auto n = parse_count(flag, *v, kMaxU32);
      if (!n) return n.take_error();
      o[field] = *n;
    }
  }
  if (auto v = a.get("kv-cache-bytes")) {
    auto n = parse_bytes("kv-cache-bytes", *v);
    if (!n) return n.take_error();
    o["kv_cache_bytes"] = *n;
  }
  if (a.has("pinned")) o["pinned"] = true;
  if (a.has("no-load")) o["load"] = false;
  return o;
}

Result<json::object> load_model_body(const Args& a) {
  LLMD_TRY(check_options(a, "models load", {"device"}, {"wait"}));
  LLMD_TRY(check_operands(a, 3, "models load ID"));
  json::object o;
  if (a.get("device")) {
    auto d = text_option(a, "device");
    if (!d) return d.take_error();
    o["device"] = *d;
  }
  return o;
}

}  // namespace llmd::llmctl
