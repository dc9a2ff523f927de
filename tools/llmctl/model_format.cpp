#include "tools/llmctl/model_format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>

#include "tools/llmctl/commands.hpp"

namespace llmd::llmctl {

namespace json = boost::json;

namespace {

const json::value* field(const json::object& o, std::string_view name) { return o.if_contains(name); }

const json::object* sub(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

std::string list_of(const json::value* v) {
  if (!v || !v->is_array() || v->as_array().empty()) return "-";
  std::string out;
  for (const json::value& item : v->as_array()) out += (out.empty() ? "" : ",") + text_of(&item);
  return out;
}

// "45%" of a loading model's progress; empty when the total is not known yet.
std::string percent_of(const json::object& model) {
  const json::object* p = sub(model, "progress");
  if (!p) return "";
  auto done = uint_of(field(*p, "bytes_done"));
  auto total = uint_of(field(*p, "bytes_total"));
  if (!done || !total || *total == 0) return "";
  double pct = std::min(100.0, 100.0 * static_cast<double>(*done) / static_cast<double>(*total));
  return std::to_string(static_cast<int>(pct)) + "%";
}

// The measured use when there is one, else "~" and the estimate.
std::string memory_of(const json::object& model) {
  const json::object* m = sub(model, "memory");
  if (!m) return "-";
  if (auto actual = uint_of(field(*m, "actual"))) return human_bytes(*actual);
  if (auto estimate = uint_of(field(*m, "estimate"))) return "~" + human_bytes(*estimate);
  return "-";
}

std::string state_of(const json::object& model) {
  std::string state = text_of(field(model, "state"));
  if (state == "loading") {
    std::string pct = percent_of(model);
    if (!pct.empty()) state += " " + pct;
  }
  return state;
}

}  // namespace

std::string human_bytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  size_t u = 0;
  // Move up a unit once the value would print as 1024.0 or more.
  while (v >= 1023.95 && u + 1 < std::size(units)) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::optional<uint64_t> uint_of(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<uint64_t>(v->as_int64());
  if (v->is_double()) {
    double d = v->as_double();
    if (d >= 0 && d < 1.8e19 && std::floor(d) == d) return static_cast<uint64_t>(d);
  }
  return std::nullopt;
}

std::string bytes_of(const json::value* v) {
  auto n = uint_of(v);
  return n ? human_bytes(*n) : "-";
}

std::string parameters_of(const json::value* v) {
  if (v && v->is_string()) return std::string(v->as_string());
  auto n = uint_of(v);
  if (!n) return "-";
  if (*n < 1000) return std::to_string(*n);
  static const char* const units[] = {"K", "M", "B", "T"};
  double x = static_cast<double>(*n) / 1000.0;
  size_t u = 0;
  while (x >= 999.95 && u + 1 < std::size(units)) {
    x /= 1000.0;
    ++u;
  }
  char buf[32];
  if (x >= 100) std::snprintf(buf, sizeof buf, "%.0f%s", x, units[u]);
  else std::snprintf(buf, sizeof buf, "%.1f%s", x, units[u]);
  return buf;
}

Result<const json::array*> data_of(const json::value& answer) {
  const json::value* d = answer.is_object() ? answer.as_object().if_contains("data") : nullptr;
  if (!d || !d->is_array()) return Error(ErrorCode::bad_answer, "the server's answer has no \"data\" list");
  return &d->as_array();
}

Result<const json::object*> object_of(const json::value& answer) {
  if (!answer.is_object()) return Error(ErrorCode::bad_answer, "the server's answer is not a JSON object");
  return &answer.as_object();
}

Table models_table(const json::array& models) {
  Table t({"ID", "STATE", "DEVICE", "MEMORY", "RUNNING", "WAITING", "PINNED", "SOURCE", "LAST USED"});
  for (const json::value& v : models) {
    if (!v.is_object()) continue;
    const json::object& m = v.as_object();
    const json::object* req = sub(m, "requests");
    t.add({text_of(field(m, "id")), state_of(m), text_of(field(m, "device")), memory_of(m),
           req ? text_of(field(*req, "running")) : "-", req ? text_of(field(*req, "waiting")) : "-",
           text_of(field(m, "pinned")), text_of(field(m, "source")), time_of(field(m, "last_used_at"))});
  }
  return t;
}

Table devices_table(const json::array& devices) {
  Table t({"ID", "KIND", "NAME", "TOTAL", "BUDGET", "RESERVED", "FREE", "MODELS"});
  for (const json::value& v : devices) {
    if (!v.is_object()) continue;
    const json::object& d = v.as_object();
    auto budget = uint_of(field(d, "memory_budget"));
    auto reserved = uint_of(field(d, "memory_reserved"));
    std::string free = "-";
    if (budget && reserved) free = human_bytes(*budget > *reserved ? *budget - *reserved : 0);
    t.add({text_of(field(d, "id")), text_of(field(d, "kind")), text_of(field(d, "name")),
           bytes_of(field(d, "memory_total")), bytes_of(field(d, "memory_budget")),
           bytes_of(field(d, "memory_reserved")), free, list_of(field(d, "models"))});
  }
  return t;
}

Table model_files_table(const json::array& files) {
  Table t({"PATH", "SIZE", "ARCHITECTURE", "QUANTIZATION", "PARAMETERS"});
  for (const json::value& v : files) {
    if (!v.is_object()) continue;
    const json::object& f = v.as_object();
    t.add({text_of(field(f, "path")), bytes_of(field(f, "bytes")), text_of(field(f, "architecture")),
           text_of(field(f, "quantization")), parameters_of(field(f, "parameters"))});
  }
  return t;
}

std::vector<std::pair<std::string, std::string>> model_fields(const json::object& m) {
  std::vector<std::pair<std::string, std::string>> f = {
      {"id", text_of(field(m, "id"))},
      {"path", text_of(field(m, "path"))},
      {"aliases", list_of(field(m, "aliases"))},
      {"state", text_of(field(m, "state"))},
      {"device", text_of(field(m, "device"))},
      {"pinned", text_of(field(m, "pinned"))},
  };
  auto keep = uint_of(field(m, "keep_alive_s"));
  f.emplace_back("keep alive", !keep ? "-" : *keep == 0 ? "0 (only under memory pressure)" : std::to_string(*keep) + " s");
  f.emplace_back("source", text_of(field(m, "source")));
  if (const json::object* mem = sub(m, "memory")) {
    f.emplace_back("memory estimate", bytes_of(field(*mem, "estimate")));
    f.emplace_back("memory used", bytes_of(field(*mem, "actual")));
  }
  if (const json::object* p = sub(m, "progress"); p && text_of(field(m, "state")) == "loading") {
    std::string pct = percent_of(m);
    f.emplace_back("progress", bytes_of(field(*p, "bytes_done")) + " of " + bytes_of(field(*p, "bytes_total")) +
                                   (pct.empty() ? "" : " (" + pct + ")"));
  }
  if (const json::object* r = sub(m, "requests")) {
    f.emplace_back("requests", text_of(field(*r, "running")) + " running, " + text_of(field(*r, "waiting")) + " waiting");
  }
  f.emplace_back("loaded", time_of(field(m, "loaded_at")));
  f.emplace_back("last used", time_of(field(m, "last_used_at")));
  if (const json::value* e = field(m, "error"); e && !e->is_null()) f.emplace_back("error", text_of(e));
  return f;
}

}  // namespace llmd::llmctl
