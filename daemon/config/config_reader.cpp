#include "daemon/config/config_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "daemon/config/credentials.hpp"

namespace llmd::config::detail {

void Diagnostics::error(std::uint32_t line, std::string message) {
  entries_.push_back(Entry{line, entries_.size(), std::move(message)});
}

std::string Diagnostics::text() const {
  std::vector<const Entry*> sorted;
  for (const auto& e : entries_) sorted.push_back(&e);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) { return a->line < b->line; });
  std::string out;
  for (const Entry* e : sorted) {
    if (!out.empty()) out += '\n';
    out += file_;
    if (e->line > 0) out.append(":").append(std::to_string(e->line));
    out += ": ";
    out += e->message;
  }
  return out;
}

std::string_view describe(toml::node_type type) {
  switch (type) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: break;
  }
  return "nothing";
}

std::string suggest(std::string_view word, const std::vector<std::string>& candidates) {
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string unreadable_reason(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::strerror(errno);
  struct stat st {};
  std::string reason;
  if (::fstat(fd, &st) != 0) reason = std::strerror(errno);
  else if (S_ISDIR(st.st_mode)) reason = "is a directory";
  ::close(fd);
  return reason;
}

Section::Section(const toml::table& table, std::string name, std::string title, Diagnostics& diag)
    : table_(table), name_(std::move(name)), title_(std::move(title)), diag_(diag) {}

const toml::node* Section::node(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  return table_.get(key);
}

std::uint32_t Section::line(std::string_view key) const {
  const toml::node* n = table_.get(key);
  return n ? n->source().begin.line : header_line();
}

std::uint32_t Section::header_line() const { return table_.source().begin.line; }

void Section::error(std::string_view key, std::string message) {
  diag_.error(line(key), qualified(key) + ": " + message);
}

bool Section::check_type(std::string_view key, const toml::node& n, toml::node_type want) {
  if (n.type() == want) return true;
  error(key, "expected " + std::string(describe(want)) + ", got " + std::string(describe(n.type())));
  return false;
}

bool Section::get_string(std::string_view key, std::string& out) {
  const toml::node* n = node(key);
  if (!n || !check_type(key, *n, toml::node_type::string)) return false;
  out = n->as_string()->get();
  return true;
}

bool Section::get_bool(std::string_view key, bool& out) {
  const toml::node* n = node(key);
  if (!n || !check_type(key, *n, toml::node_type::boolean)) return false;
  out = n->as_boolean()->get();
  return true;
}

bool Section::get_uint(std::string_view key, std::uint64_t min, std::uint64_t max, std::uint64_t& out) {
  const toml::node* n = node(key);
  if (!n || !check_type(key, *n, toml::node_type::integer)) return false;
  std::int64_t v = n->as_integer()->get();
  if (v < 0 || static_cast<std::uint64_t>(v) < min || static_cast<std::uint64_t>(v) > max) {
    error(key, std::to_string(v) + " is out of range (" + std::to_string(min) + ".." + std::to_string(max) + ")");
    return false;
  }
  out = static_cast<std::uint64_t>(v);
  return true;
}

bool Section::get_seconds(std::string_view key, double min_s, double max_s, std::chrono::milliseconds& out) {
  const toml::node* n = node(key);
  if (!n) return false;
  double v = 0;
  if (n->is_integer()) {
    v = static_cast<double>(n->as_integer()->get());
  } else if (n->is_floating_point()) {
    v = n->as_floating_point()->get();
  } else {
    error(key, "expected a number of seconds, got " + std::string(describe(n->type())));
    return false;
  }
  if (!std::isfinite(v) || v < min_s || v > max_s) {
    auto fmt = [](double d) {
      std::string s = std::to_string(d);
      s.erase(s.find_last_not_of('0') + 1);
      if (!s.empty() && s.back() == '.') s.pop_back();
      return s;
    };
    error(key, fmt(v) + " seconds is out of range (" + fmt(min_s) + ".." + fmt(max_s) + ")");
    return false;
  }
  out = std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(v * 1000.0)));
  return true;
}

bool Section::get_path(std::string_view key, std::filesystem::path& out) {
  std::string s;
  if (!get_string(key, s)) return false;
  if (s.empty()) {
    error(key, "must not be empty");
    return false;
  }
  if (s.find('\0') != std::string::npos) {
    error(key, "contains a NUL character");
    return false;
  }
  std::string expanded;
  if (std::string why = expand_credentials(s, expanded); !why.empty()) {
    error(key, why);
    return false;
  }
  std::filesystem::path p(expanded);
  out = (p.is_absolute() ? p : diag_.base_dir() / p).lexically_normal();
  return true;
}

bool Section::get_string_array(std::string_view key, std::vector<std::string>& out) {
  const toml::node* n = node(key);
  if (!n || !check_type(key, *n, toml::node_type::array)) return false;
  std::vector<std::string> values;
  bool ok = true;
  for (const toml::node& item : *n->as_array()) {
    if (!item.is_string()) {
      diag_.error(item.source().begin.line,
                  qualified(key) + ": expected an array of strings, found " + std::string(describe(item.type())));
      ok = false;
      continue;
    }
    values.push_back(item.as_string()->get());
  }
  if (ok) out = std::move(values);
  return ok;
}

bool Section::get_path_array(std::string_view key, std::vector<std::filesystem::path>& out) {
  std::vector<std::string> values;
  if (!get_string_array(key, values)) return false;
  std::vector<std::filesystem::path> paths;
  for (const auto& s : values) {
    if (s.empty()) {
      error(key, "must not contain an empty path");
      return false;
    }
    std::filesystem::path p(s);
    paths.push_back((p.is_absolute() ? p : diag_.base_dir() / p).lexically_normal());
  }
  out = std::move(paths);
  return true;
}

bool Section::require(std::string_view key) {
  if (node(key) != nullptr) return true;
  diag_.error(header_line(), qualified(key) + " is required");
  return false;
}

void Section::finish() {
  for (auto&& [k, v] : table_) {
    std::string_view key = k.str();
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string msg = "unknown key '" + std::string(key) + "' in " + title_;
    std::string hint = suggest(key, known_);
    if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
    diag_.error(k.source().begin.line, std::move(msg));
  }
}

}  // namespace llmd::config::detail
