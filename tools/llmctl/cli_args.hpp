// Command-line parsing for llmctl: positional words, `--name value`,
// `--name=value` and boolean `--flag`s, in any order. An option given more
// than once keeps its last value in `options` and every value, in order, in
// `repeated`. A value that starts with "--" must be given as `--name=value`.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace llmd::llmctl {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // without the leading "--"
  std::map<std::string, std::vector<std::string>> repeated;
  std::set<std::string> flags;

  std::optional<std::string> get(const std::string& name) const;
  // Every value of a repeatable option (`--alias a --alias b`), in order.
  std::vector<std::string> get_all(const std::string& name) const;
  bool has(const std::string& flag) const { return flags.count(flag) > 0; }
};

// `booleans` are the flags that take no value. Errors: usage.
Result<Args> parse_args(int argc, char** argv, const std::set<std::string>& booleans);

}  // namespace llmd::llmctl
