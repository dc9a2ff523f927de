#include "tools/llmctl/cli_args.hpp"

#include <string_view>

namespace llmd::llmctl {

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Args::get_all(const std::string& name) const {
  auto it = repeated.find(name);
  return it == repeated.end() ? std::vector<std::string>{} : it->second;
}

Result<Args> parse_args(int argc, char** argv, const std::set<std::string>& booleans) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string_view s = argv[i];
    if (s.size() > 2 && s.substr(0, 2) == "--") {
      std::string name(s.substr(2));
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        std::string value = name.substr(eq + 1);
        name.resize(eq);
        a.options[name] = value;
        a.repeated[name].push_back(std::move(value));
      } else if (booleans.count(name)) {
        a.flags.insert(name);
      } else if (i + 1 < argc && std::string_view(argv[i + 1]).substr(0, 2) != "--") {
        a.options[name] = argv[++i];
        a.repeated[name].push_back(argv[i]);
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
