// /admin/v1/models, /admin/v1/devices and /admin/v1/model-files: the model
// manager over REST. Handlers run on a worker (adding a model reads its
// GGUF header and writes the catalog row); every change is written to the
// audit log on the admin thread.
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <filesystem>

#include "daemon/access/access.hpp"
#include "daemon/admin/admin_json.hpp"
#include "daemon/admin/admin_models.hpp"
#include "daemon/admin/model_spec_json.hpp"
#include "daemon/http/error_status.hpp"
#include "models/model_files.hpp"
#include "storage/audit_log.hpp"

namespace llmd::admin {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

struct ModelRoutes {
  models::ModelManager* models = nullptr;
  auth::AuthService* auth = nullptr;
};

json::value time_or_null(int64_t unix_s) { return unix_s > 0 ? json::value(unix_s) : json::value(nullptr); }

json::object model_json(const models::ModelInfo& m) {
  json::object o;
  o["id"] = m.spec.id;
  o["object"] = "model";
  o["path"] = m.spec.path.string();
  json::array aliases;
  for (const auto& a : m.spec.aliases) aliases.push_back(json::value(a));
  o["aliases"] = std::move(aliases);
  o["state"] = models::to_string(m.state);
  o["device"] = m.device.empty() ? json::value(nullptr) : json::value(m.device);
  if (m.spec.devices.empty()) {
    o["placement"] = m.spec.device;
  } else {
    json::array devices, split;
    for (const auto& d : m.spec.devices) devices.push_back(json::value(d));
    for (int32_t n : m.spec.layer_split) split.push_back(json::value(n));
    o["placement"] = std::move(devices);
    o["layer_split"] = std::move(split);
  }
  o["pinned"] = m.spec.pinned;
  o["keep_alive_s"] = m.spec.keep_alive_s;
  o["source"] = models::to_string(m.spec.source);
  o["load"] = m.spec.load;
  o["context_length"] = m.max_context > 0 ? json::value(m.max_context) : json::value(nullptr);
  o["max_sequences"] = m.spec.max_sequences;
  o["memory"] = json::object{{"estimate", m.memory_estimate}, {"actual", m.memory_actual}};
  o["progress"] = json::object{{"bytes_done", m.bytes_done}, {"bytes_total", m.bytes_total}};
  o["requests"] = json::object{{"running", m.running}, {"waiting", m.waiting}};
  o["loaded_at"] = time_or_null(m.loaded_at);
  o["last_used_at"] = time_or_null(m.last_used_at);
  o["error"] = m.error.empty() ? json::value(nullptr) : json::value(m.error);
  json::array stages;
  for (const auto& st : m.stages) {
    stages.push_back(json::object{{"device", st.device}, {"first_layer", st.first_layer},
                                  {"last_layer", st.last_layer}, {"memory", st.memory}});
  }
  o["stages"] = std::move(stages);
  return o;
}

json::object device_json(const models::DeviceView& v) {
  json::object o;
  o["id"] = v.device.id;
  o["kind"] = v.device.kind == engine::DeviceKind::cuda ? "cuda" : "cpu";
  o["name"] = v.device.name;
  o["memory_total"] = v.device.memory_total;
  o["memory_budget"] = v.device.memory_budget;
  o["memory_reserved"] = v.device.reserved_total();
  if (v.device.threads > 0) o["threads"] = v.device.threads;
  json::array ids;
  for (const auto& id : v.models) ids.push_back(json::value(id));
  o["models"] = std::move(ids);
  return o;
}

// The "param" of an invalid_argument message ("Invalid 'x': ...").
std::string param_of(const Error& e) {
  switch (e.code) {
    case ErrorCode::path_not_allowed:
    case ErrorCode::path_not_file:
      return "path";
    case ErrorCode::device_unknown:
      return "device";
    case ErrorCode::model_exists:
      return "id";
    default:
      break;
  }
  const std::string& m = e.message;
  if (m.rfind("Invalid '", 0) == 0) {
    const size_t end = m.find('\'', 9);
    if (end != std::string::npos) return m.substr(9, end - 9);
  }
  return "";
}

http::Response error_for(const Error& e) { return http::error_response_for(e, param_of(e)); }

// Writes one audit row for a change (on the admin thread, after the answer).
void audit(const ModelRoutes& r, const http::Exchange& ex, std::string action, std::string target, json::object detail) {
  auto caller = access::caller_of(ex.request());
  if (!r.auth || !caller) return;
  storage::AuditEntry entry;
  entry.at = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  entry.actor = "key:" + caller->key_id;
  entry.action = std::move(action);
  entry.target = std::move(target);
  entry.detail = json::serialize(detail);
  r.auth->post_admin([entry = std::move(entry)](storage::Database& db) { (void)storage::append_audit(db, entry); });
}

// Answers once the model settles: 201/200 with it when ready, the error otherwise.
void answer_when_settled(const ModelRoutes& r, const http::ExchangePtr& ex, const std::string& id, int ok_status) {
  r.models->when_settled(id, [ex, ok_status](Result<models::ModelInfo> info) {
    if (!info) return (void)ex->respond(error_for(info.error()));
    ex->respond(json_response(ok_status, model_json(*info)));
  });
}

void list_models(const ModelRoutes& r, const http::ExchangePtr& ex) {
  json::array data;
  for (const auto& m : r.models->list()) data.push_back(model_json(m));
  ex->respond(json_response(200, list_json(std::move(data))));
}

void get_model(const ModelRoutes& r, const http::ExchangePtr& ex) {
  auto info = r.models->info(std::string(ex->request().param("id")));
  if (!info) return (void)ex->respond(error_for(info.error()));
  ex->respond(json_response(200, model_json(*info)));
}

void add_model(const ModelRoutes& r, const http::ExchangePtr& ex) {
  auto body = parse_body(ex->request().body, false);
  if (!body) return (void)ex->respond(bad_request(body.error().message));
  auto spec = read_model_spec(*body, r.models->options().model_dirs);
  if (!spec) return (void)ex->respond(error_for(spec.error()));
  auto wait = get_bool(*body, "wait", false);
  if (!wait) return (void)ex->respond(error_for(wait.error()));
  auto added = r.models->add(*spec);
  if (!added) return (void)ex->respond(error_for(added.error()));
  audit(r, *ex, "model.add", added->spec.id,
        json::object{{"path", added->spec.path.string()}, {"device", added->spec.device}, {"load", added->spec.load}});
  if (*wait && added->spec.load) return answer_when_settled(r, ex, added->spec.id, 201);
  if (*wait && added->state == models::ModelState::failed) {
    return (void)ex->respond(error_for(Error(ErrorCode::model_failed, added->error)));
  }
  ex->respond(json_response(202, model_json(*added)));
}

void load_model(const ModelRoutes& r, const http::ExchangePtr& ex) {
  auto body = parse_body(ex->request().body, true);
  if (!body) return (void)ex->respond(bad_request(body.error().message));
  if (auto st = only_fields(*body, {"device", "wait"}); !st) return (void)ex->respond(bad_request(st.error().message));
  auto device = get_string(*body, "device", false);
  if (!device) return (void)ex->respond(bad_request(device.error().message, "device"));
  auto wait = get_bool(*body, "wait", false);
  if (!wait) return (void)ex->respond(error_for(wait.error()));
  const std::string id(ex->request().param("id"));
  auto info = r.models->load(id, *device);
  if (!info) return (void)ex->respond(error_for(info.error()));
  audit(r, *ex, "model.load", id, json::object{{"device", *device}});
  if (*wait) return answer_when_settled(r, ex, id, 200);
  ex->respond(json_response(202, model_json(*info)));
}

void unload_model(const ModelRoutes& r, const http::ExchangePtr& ex) {
  const std::string id(ex->request().param("id"));
  auto info = r.models->unload(id);
  if (!info) return (void)ex->respond(error_for(info.error()));
  audit(r, *ex, "model.unload", id, {});
  ex->respond(json_response(202, model_json(*info)));
}

void move_model(const ModelRoutes& r, const http::ExchangePtr& ex) {
  auto body = parse_body(ex->request().body, false);
  if (!body) return (void)ex->respond(bad_request(body.error().message));
  if (auto st = only_fields(*body, {"device"}); !st) return (void)ex->respond(bad_request(st.error().message));
  auto device = get_string(*body, "device", true);
  if (!device) return (void)ex->respond(bad_request(device.error().message, "device"));
  const std::string id(ex->request().param("id"));
  auto info = r.models->move(id, *device);
  if (!info) return (void)ex->respond(error_for(info.error()));
  audit(r, *ex, "model.move", id, json::object{{"device", *device}});
  ex->respond(json_response(202, model_json(*info)));
}

void delete_model(const ModelRoutes& r, const http::ExchangePtr& ex) {
  const std::string id(ex->request().param("id"));
  if (auto st = r.models->remove(id); !st) return (void)ex->respond(error_for(st.error()));
  audit(r, *ex, "model.delete", id, {});
  ex->respond(json_response(200, json::object{{"object", "model"}, {"id", id}, {"deleted", true}}));
}

void list_devices(const ModelRoutes& r, const http::ExchangePtr& ex) {
  json::array data;
  for (const auto& d : r.models->devices()) data.push_back(device_json(d));
  ex->respond(json_response(200, list_json(std::move(data))));
}

void list_model_files(const ModelRoutes& r, const http::ExchangePtr& ex) {
  json::array data;
  for (const auto& f : models::list_model_files(r.models->options().model_dirs)) {
    json::object o;
    o["path"] = f.path.string();
    o["bytes"] = f.bytes;
    o["architecture"] = f.architecture;
    o["quantization"] = f.quantization;
    o["parameters"] = f.parameters;
    o["error"] = f.error.empty() ? json::value(nullptr) : json::value(f.error);
    data.push_back(std::move(o));
  }
  ex->respond(json_response(200, list_json(std::move(data))));
}

}  // namespace

Status install_model_routes(http::Router& router, models::ModelManager* manager, auth::AuthService* auth) {
  http::RouteOptions o;
  o.auth = true;
  o.admin = true;
  o.offload = true;
  o.body_limit = 64 * 1024;
  const ModelRoutes r{manager, auth};
  using Fn = void (*)(const ModelRoutes&, const http::ExchangePtr&);
  struct Entry {
    const char* method;
    const char* pattern;
    Fn fn;
  };
  const Entry routes[] = {
      {"GET", "/admin/v1/models", list_models},
      {"POST", "/admin/v1/models", add_model},
      // Ids may hold '/': the rest of the path is the id; in the action
      // routes below a '/' in an id is sent as %2F.
      {"GET", "/admin/v1/models/{id...}", get_model},
      {"DELETE", "/admin/v1/models/{id...}", delete_model},
      {"POST", "/admin/v1/models/{id}/load", load_model},
      {"POST", "/admin/v1/models/{id}/unload", unload_model},
      {"POST", "/admin/v1/models/{id}/move", move_model},
      {"GET", "/admin/v1/devices", list_devices},
      {"GET", "/admin/v1/model-files", list_model_files},
  };
  for (const Entry& e : routes) {
    auto handler = [r, fn = e.fn](http::ExchangePtr ex) {
      if (!r.models) return (void)ex->respond_error(503, "the model manager is not running", "model_not_ready");
      fn(r, ex);
    };
    if (auto st = router.add(e.method, e.pattern, o, handler); !st) return st;
  }
  return ok_status();
}

}  // namespace llmd::admin
