// Fuzz target: the TOML configuration loader (daemon/config): the input is a
// config file's text, parsed by toml++ and validated section by section.
// Invariant: a refusal carries a message; an accepted config has sane limits.
// Relative paths resolve against a directory that does not exist, so the
// loader never reads files of the machine it runs on.
#include <string_view>

#include "daemon/config/config.hpp"
#include "fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace llmd;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cfg = config::load_text(text, "/nonexistent-llmd-fuzz/llmd.toml");
  if (!cfg) {
    fuzz_check(!cfg.error().message.empty());
    return 0;
  }
  fuzz_check(cfg->limits.header_bytes > 0);
  fuzz_check(cfg->limits.max_connections > 0);
  return 0;
}
