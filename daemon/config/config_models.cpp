// [[models]]: the models to serve. Their files must live below one of the
// configured model directories ([paths] model_dirs), after symlinks resolve.
#include <algorithm>
#include <map>

#include "daemon/config/config_sections.hpp"
#include "engine/backend/backend_factory.hpp"
#include "engine/chat/builtin_templates.hpp"

namespace llmd::config::detail {

namespace {

bool valid_model_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id.front() == '/' || id.back() == '/') return false;
  return std::all_of(id.begin(), id.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '_' || ch == '-' || ch == ':' || ch == '/';
  });
}

bool inside(const std::filesystem::path& file, const std::filesystem::path& dir) {
  auto f = file.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++f) {
    if (d->empty()) continue;  // trailing separator
    if (f == file.end() || *f != *d) return false;
  }
  return f != file.end();
}

std::string join_dirs(const std::vector<std::filesystem::path>& dirs) {
  std::string out;
  for (const auto& d : dirs) {
    if (!out.empty()) out += ", ";
    out += d.string();
  }
  return out;
}

}  // namespace

void parse_model(Section& s, Config& c) {
  ModelConfig m;
  m.origin = s.diagnostics().origin(s.header_line());
  std::uint64_t n = 0;

  if (s.require("name") && s.get_string("name", m.name) && !valid_model_id(m.name)) {
    s.error("name", "'" + m.name + "' is not a valid model id (1-128 of A-Z a-z 0-9 . _ - : /)");
  }
  std::vector<std::string> aliases;
  if (s.get_string_array("aliases", aliases)) {
    for (const auto& a : aliases) {
      if (!valid_model_id(a)) s.error("aliases", "'" + a + "' is not a valid model id (1-128 of A-Z a-z 0-9 . _ - : /)");
    }
    m.aliases = std::move(aliases);
  }
  if (s.get_uint("context_length", 0, 1u << 24, n)) m.context_length = static_cast<std::uint32_t>(n);
  if (s.get_uint("max_sequences", 1, 4096, n)) m.max_sequences = static_cast<std::uint32_t>(n);
  if (s.get_uint("threads", 0, 1024, n)) m.threads = static_cast<unsigned>(n);
  if (s.get_uint("max_choices", 1, 128, n)) m.max_choices = static_cast<std::uint32_t>(n);
  if (s.get_uint("max_waiting", 1, 1u << 20, n)) m.max_waiting = static_cast<std::uint32_t>(n);
  if (s.get_uint("max_waiting_per_team", 1, 1u << 20, n)) m.max_waiting_per_team = static_cast<std::uint32_t>(n);
  s.get_bool("share_preemption", m.share_preemption);
  if (s.get_uint("kv_cache_bytes", 0, std::uint64_t{1} << 50, n)) m.kv_cache_bytes = n;
  if (const toml::node* dev = s.node("device"); dev && dev->is_array()) {
    // A list: the model is split across these devices, in stage order.
    for (const auto& e : *dev->as_array()) {
      const auto* name = e.as_string();
      if (!name || !engine::parse_device_name(name->get())) {
        s.error("device", "a device list must name devices (cpu, cpu:N, cuda:N)");
        break;
      }
      m.devices.push_back(name->get());
    }
    if (m.devices.empty()) s.error("device", "an empty device list");
  } else if (s.get_string("device", m.device) && m.device != "auto" && !engine::parse_device_name(m.device)) {
    s.error("device", "'" + m.device + "' is not a device (auto, cpu, cpu:N, cuda:N)");
  }
  if (const toml::node* split = s.node("layer_split")) {
    const auto* arr = split->as_array();
    for (size_t i = 0; arr && i < arr->size(); ++i) {
      const auto* v = (*arr)[i].as_integer();
      if (!v || v->get() < 1 || v->get() > 4096) {
        arr = nullptr;
        break;
      }
      m.layer_split.push_back(static_cast<std::int32_t>(v->get()));
    }
    if (!arr) {
      s.error("layer_split", "must list positive layer counts, one per device");
    } else if (m.layer_split.size() != m.devices.size()) {
      s.error("layer_split", "needs a device list of the same length (device = [\"cpu:0\", \"cpu:1\"])");
    }
  }
  s.get_bool("pinned", m.pinned);
  if (s.get_uint("keep_alive_s", 0, 365u * 86400u, n)) m.keep_alive_s = static_cast<std::uint32_t>(n);
  if (m.max_waiting_per_team > m.max_waiting) {
    s.error("max_waiting_per_team", "must not exceed max_waiting (" + std::to_string(m.max_waiting) + ")");
  }
  if (m.max_choices > m.max_sequences) {
    s.error("max_choices", "must not exceed max_sequences (" + std::to_string(m.max_sequences) + ")");
  }
  // chat_template: a built-in template's name ("chatml", "llama-3", ...) or a
  // Jinja file that is recognised as one of them when the model loads.
  std::string tmpl;
  if (s.get_string("chat_template", tmpl) && !tmpl.empty() && engine::make_builtin_chat_template(tmpl, {})) {
    m.chat_template_name = tmpl;
  } else if (!tmpl.empty() && s.get_path("chat_template", m.chat_template)) {
    std::string reason = unreadable_reason(m.chat_template);
    if (!reason.empty()) {
      std::string names;
      for (const auto& b : engine::builtin_chat_template_names()) names += (names.empty() ? "" : ", ") + b;
      s.error("chat_template", "cannot read '" + m.chat_template.string() + "': " + reason +
                                   " (a Jinja file, or a built-in template: " + names + ")");
    }
  }

  std::filesystem::path path;
  if (s.require("path") && s.get_path("path", path)) {
    std::string reason = unreadable_reason(path);
    std::error_code ec;
    std::filesystem::path real = reason.empty() ? std::filesystem::canonical(path, ec) : path;
    if (!reason.empty()) {
      s.error("path", "cannot read '" + path.string() + "': " + reason);
    } else if (ec) {
      s.error("path", "cannot resolve '" + path.string() + "': " + ec.message());
    } else if (c.paths.model_dirs.empty()) {
      s.error("path", "no model directories are configured: list the folder of '" + path.string() +
                          "' in [paths] model_dirs");
    } else if (std::none_of(c.paths.model_dirs.begin(), c.paths.model_dirs.end(),
                            [&](const auto& d) { return inside(real, d); })) {
      s.error("path", "'" + path.string() + "' is outside the model directories (" +
                          join_dirs(c.paths.model_dirs) + ")");
    } else {
      m.path = real;
    }
  }
  c.models.push_back(std::move(m));
}

void check_models(Diagnostics& d, const Config& c, const std::vector<std::uint32_t>& header_lines) {
  std::map<std::string, std::size_t> owner;  // id -> model index
  for (std::size_t i = 0; i < c.models.size(); ++i) {
    const ModelConfig& m = c.models[i];
    std::vector<std::string> ids;
    if (!m.name.empty()) ids.push_back(m.name);
    ids.insert(ids.end(), m.aliases.begin(), m.aliases.end());
    for (const auto& id : ids) {
      auto [it, fresh] = owner.emplace(id, i);
      if (fresh || it->second == i) continue;
      d.error(i < header_lines.size() ? header_lines[i] : 0, "models[" + std::to_string(i) + "]: model id '" + id + "' is already used by models[" +
                        std::to_string(it->second) + "]");
    }
  }
}

}  // namespace llmd::config::detail
