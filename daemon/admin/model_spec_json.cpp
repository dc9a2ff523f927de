// Reading the body of POST /admin/v1/models into a ModelSpec.
#include "daemon/admin/model_spec_json.hpp"

#include <algorithm>
#include <type_traits>

#include "daemon/admin/admin_json.hpp"

namespace llmd::admin {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// Reads an optional unsigned integer field into *out.
Status read_uint(const json::object& body, std::string_view field, int64_t max, auto* out) {
  auto v = get_int(body, field, 0, max);
  if (!v) return Error(ErrorCode::invalid_argument, "Invalid '" + std::string(field) + "': " + v.error().message);
  if (*v) *out = static_cast<std::remove_pointer_t<decltype(out)>>(**v);
  return ok_status();
}

}  // namespace

Result<models::ModelSpec> read_model_spec(const json::object& body, const std::vector<fs::path>& model_dirs) {
  LLMD_TRY(only_fields(body, {"id", "path", "device", "layer_split", "aliases", "context_length", "max_sequences", "max_choices",
                              "kv_cache_bytes", "pinned", "keep_alive_s", "load", "wait", "chat_template"}));
  models::ModelSpec s;
  auto id = get_string(body, "id", true);
  if (!id) return Error(ErrorCode::invalid_argument, "Invalid 'id': " + id.error().message);
  s.id = *id;
  auto path = get_string(body, "path", true);
  if (!path) return Error(ErrorCode::invalid_argument, "Invalid 'path': " + path.error().message);
  // A relative path names a file in the first model directory.
  s.path = fs::path(*path).is_relative() && !model_dirs.empty() ? model_dirs.front() / *path : fs::path(*path);
  if (const json::value* d = body.if_contains("device"); d && d->is_array()) {
    // A list: split the model across these devices, in stage order.
    for (const auto& e : d->as_array()) {
      if (!e.is_string()) return Error(ErrorCode::invalid_argument, "Invalid 'device': a list must name devices");
      s.devices.emplace_back(e.as_string());
    }
    if (s.devices.empty()) return Error(ErrorCode::invalid_argument, "Invalid 'device': an empty list");
  } else {
    auto device = get_string(body, "device", false);
    if (!device) return Error(ErrorCode::invalid_argument, "Invalid 'device': " + device.error().message);
    if (!device->empty()) s.device = *device;
  }
  if (const json::value* ls = body.if_contains("layer_split"); ls && !ls->is_null()) {
    if (!ls->is_array()) return Error(ErrorCode::invalid_argument, "Invalid 'layer_split': must list layer counts");
    for (const auto& e : ls->as_array()) {
      if (!e.is_int64() || e.as_int64() < 1 || e.as_int64() > 4096) {
        return Error(ErrorCode::invalid_argument, "Invalid 'layer_split': must list positive layer counts");
      }
      s.layer_split.push_back(static_cast<int32_t>(e.as_int64()));
    }
  }
  if (const json::value* a = body.if_contains("aliases"); a && !a->is_null()) {
    if (!a->is_array()) return Error(ErrorCode::invalid_argument, "Invalid 'aliases': must be a list of ids");
    for (const auto& e : a->as_array()) {
      if (!e.is_string()) return Error(ErrorCode::invalid_argument, "Invalid 'aliases': must be a list of ids");
      s.aliases.emplace_back(e.as_string());
    }
  }
  LLMD_TRY(read_uint(body, "context_length", int64_t{1} << 24, &s.context_length));
  LLMD_TRY(read_uint(body, "max_sequences", 4096, &s.max_sequences));
  s.max_choices = std::min<uint32_t>(s.max_choices, s.max_sequences);
  LLMD_TRY(read_uint(body, "max_choices", 128, &s.max_choices));
  LLMD_TRY(read_uint(body, "kv_cache_bytes", int64_t{1} << 50, &s.kv_cache_bytes));
  LLMD_TRY(read_uint(body, "keep_alive_s", 365 * 86400, &s.keep_alive_s));
  auto pinned = get_bool(body, "pinned", false);
  if (!pinned) return pinned.take_error();
  s.pinned = *pinned;
  auto load = get_bool(body, "load", true);
  if (!load) return load.take_error();
  s.load = *load;
  auto tmpl = get_string(body, "chat_template", false);
  if (!tmpl) return Error(ErrorCode::invalid_argument, "Invalid 'chat_template': " + tmpl.error().message);
  s.chat_template_name = *tmpl;  // a built-in template's name; files only through the config
  return s;
}

}  // namespace llmd::admin
