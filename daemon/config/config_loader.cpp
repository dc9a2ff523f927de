// Reads the TOML file, hands each table to its section parser and collects
// every problem before failing, so one run of `llmd check-config` shows them all.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "daemon/config/config.hpp"
#include "daemon/config/config_sections.hpp"

namespace llmd::config {

namespace {

using detail::Diagnostics;
using detail::Section;

struct TableSection {
  std::string_view name;
  void (*parse)(Section&, Config&);
};

// In parse order: later sections may read earlier ones ([[models]] reads [paths]).
constexpr TableSection kTables[] = {
    {"server", detail::parse_server}, {"tls", detail::parse_tls},     {"limits", detail::parse_limits},
    {"log", detail::parse_log},       {"paths", detail::parse_paths},  {"api", detail::parse_api},
    {"devices", detail::parse_devices}, {"model_manager", detail::parse_model_manager},
    {"metrics", detail::parse_metrics},
};

constexpr TableSection kArrays[] = {
    {"models", detail::parse_model},
};

void parse_root(const toml::table& root, Config& c, Diagnostics& d) {
  std::vector<std::string> known;
  for (const auto& t : kTables) {
    known.emplace_back(t.name);
    const toml::node* n = root.get(t.name);
    if (n == nullptr) {
      if (t.name == "tls") d.error(0, "[tls] is required: set cert_file and key_file");
      continue;
    }
    if (!n->is_table()) {
      d.error(n->source().begin.line, std::string(t.name) + " must be a table: write [" + std::string(t.name) + "]");
      continue;
    }
    std::string title = "[";  // (appends: GCC 12 -O3 misreports "literal" + std::string)
    title.append(t.name).append("]");
    Section s(*n->as_table(), std::string(t.name), title, d);
    t.parse(s, c);
    s.finish();
  }

  std::vector<std::uint32_t> model_lines;
  for (const auto& a : kArrays) {
    known.emplace_back(a.name);
    const toml::node* n = root.get(a.name);
    if (n == nullptr) continue;
    const toml::array* arr = n->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      d.error(n->source().begin.line,
              std::string(a.name) + " must be a list of tables: write [[" + std::string(a.name) + "]]");
      continue;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::table& t = *arr->get(i)->as_table();
      Section s(t, std::string(a.name) + "[" + std::to_string(i) + "]", "[[" + std::string(a.name) + "]]", d);
      if (a.name == "models") model_lines.push_back(s.header_line());
      a.parse(s, c);
      s.finish();
    }
  }

  for (auto&& [k, v] : root) {
    std::string_view key = k.str();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string msg = v.is_table() ? "unknown section [" + std::string(key) + "]" : "unknown key '" + std::string(key) + "'";
    std::string hint = detail::suggest(key, known);
    if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
    d.error(k.source().begin.line, std::move(msg));
  }

  detail::check_models(d, c, model_lines);
}

}  // namespace

Result<Config> load_text(std::string_view text, const std::filesystem::path& file) {
  Config c;
  c.file = file;
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(file, ec);
  Diagnostics d(file.string(), (ec ? file : absolute).parent_path());

  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    d.error(e.source().begin.line, "TOML syntax error: " + std::string(e.description()));
    return Error(ErrorCode::config_invalid, d.text());
  }
  parse_root(root, c, d);
  if (!d.ok()) return Error(ErrorCode::config_invalid, d.text());
  return c;
}

Result<Config> load_file(const std::filesystem::path& file) {
  if (std::string reason = detail::unreadable_reason(file); !reason.empty()) {
    return Error(ErrorCode::config_unreadable, "cannot read config file '" + file.string() + "': " + reason);
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    int err = errno;
    return Error(ErrorCode::config_unreadable,
                 "cannot read config file '" + file.string() + "': " + std::strerror(err ? err : ENOENT));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Error(ErrorCode::config_unreadable, "cannot read config file '" + file.string() + "'");
  return load_text(buf.str(), file);
}

}  // namespace llmd::config
