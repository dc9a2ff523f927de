#include "tools/llmctl/cli_args.hpp"

#include <string_view>

namespace llmd::llmctl {

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

Result<Args> parse_args(int argc, char** argv, const std::set<std::string>& booleans) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string_view s = argv[i];
    if (s.size() > 2 && s.substr(0, 2) == "--") {
      std::string name(s.substr(2));
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        a.options[name.substr(0, eq)] = name.substr(eq + 1);
      } else if (booleans.count(name)) {
        a.flags.insert(name);
      } else if (i + 1 < argc) {
        a.options[name] = argv[++i];
      } else {
        return Error(ErrorCode::usage, "--" + name + " needs a value");
      }
    } else {
      a.positional.emplace_back(s);
    }
  }
  return a;
}

}  // namespace llmd::llmctl
