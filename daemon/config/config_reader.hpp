// Typed, validating access to one TOML table of the config file. Every getter
// records a "file:line: message" diagnostic for a wrong type or a bad value;
// finish() reports the keys nobody asked for as unknown. Internal to config/.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace llmd::config::detail {

class Diagnostics {
 public:
  Diagnostics(std::string file_label, std::filesystem::path base_dir)
      : file_(std::move(file_label)), base_dir_(std::move(base_dir)) {}

  // line 0: the problem has no line (something is missing).
  void error(std::uint32_t line, std::string message);
  bool ok() const { return entries_.empty(); }
  // All messages, one per line, ordered by line.
  std::string text() const;
  std::string origin(std::uint32_t line) const { return file_ + ":" + std::to_string(line); }
  const std::filesystem::path& base_dir() const { return base_dir_; }

 private:
  struct Entry {
    std::uint32_t line;
    std::size_t seq;
    std::string message;
  };
  std::string file_;
  std::filesystem::path base_dir_;
  std::vector<Entry> entries_;
};

class Section {
 public:
  // `name` names keys in messages ("server" -> "server.port"; "models[1]");
  // `title` names the table in unknown-key messages ("[server]", "[[models]]").
  Section(const toml::table& table, std::string name, std::string title, Diagnostics& diag);

  // Absent key: `out` is left alone and the getter returns false. Present with a
  // wrong type or a bad value: a diagnostic, and false.
  bool get_string(std::string_view key, std::string& out);
  bool get_bool(std::string_view key, bool& out);
  bool get_uint(std::string_view key, std::uint64_t min, std::uint64_t max, std::uint64_t& out);
  // Seconds as an integer or a float.
  bool get_seconds(std::string_view key, double min_s, double max_s, std::chrono::milliseconds& out);
  // A non-empty string; relative paths resolve against the config file's folder.
  // A leading ${CREDENTIALS_DIRECTORY} is expanded (credentials.hpp).
  bool get_path(std::string_view key, std::filesystem::path& out);
  bool get_string_array(std::string_view key, std::vector<std::string>& out);
  bool get_path_array(std::string_view key, std::vector<std::filesystem::path>& out);

  // Records "<name>.<key> is required" unless the key is present.
  bool require(std::string_view key);

  // The node for `key` (marking it as known), or null.
  const toml::node* node(std::string_view key);
  std::uint32_t line(std::string_view key) const;
  std::uint32_t header_line() const;
  std::string qualified(std::string_view key) const { return name_ + "." + std::string(key); }

  void error(std::string_view key, std::string message);

  // Reports unknown keys (with a suggestion when one is close).
  void finish();

  const toml::table& table() const { return table_; }
  Diagnostics& diagnostics() { return diag_; }

 private:
  bool check_type(std::string_view key, const toml::node& n, toml::node_type want);

  const toml::table& table_;
  std::string name_;
  std::string title_;
  Diagnostics& diag_;
  std::vector<std::string> known_;
};

// "a string", "an integer", ...
std::string_view describe(toml::node_type type);

// Closest candidate within a small edit distance, or empty.
std::string suggest(std::string_view word, const std::vector<std::string>& candidates);

// Empty when the file can be opened for reading, else the reason (strerror).
std::string unreadable_reason(const std::filesystem::path& file);

}  // namespace llmd::config::detail
