// llmctl: manage an llmd server's teams, API keys, usage, audit log, models and
// devices over its admin REST API.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "tools/llmctl/commands.hpp"

namespace {

using namespace llmd::llmctl;

void help(std::FILE* out) {
  std::fputs(
      "usage: llmctl [--url URL] [--key KEY | --key-file FILE] [--cacert FILE] [--insecure] [--json] COMMAND\n"
      "\n"
      "  teams list\n"
      "  teams show NAME\n"
      "  teams create NAME [--weight W] [--rpm N] [--tpm N] [--daily-budget N] [--monthly-budget N]\n"
      "                    [--max-concurrent N] [--models a,b]\n"
      "  teams update NAME [same options; 'none' removes a limit, --models '*' allows every model]\n"
      "  teams delete NAME                 (revokes the team's keys)\n"
      "  keys list [--team NAME] [--all]   (--all includes revoked keys)\n"
      "  keys create --team NAME --name NAME [--role user|admin] [--priority interactive|batch]\n"
      "              [--expires-in-days D] [--rpm N] [--tpm N]\n"
      "  keys show ID\n"
      "  keys revoke ID\n"
      "  keys rotate ID [--grace SECONDS]  (the old key keeps working for SECONDS, default 0)\n"
      "  usage [--team NAME] [--key ID] [--model M] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--csv]\n"
      "  audit [--limit N] [--since UNIX_SECONDS]\n"
      "  models list\n"
      "  models show ID\n"
      "  models add ID PATH [--device D] [--alias A]... [--context-length N] [--max-sequences N]\n"
      "                     [--kv-cache-bytes N[KiB|MiB|GiB]] [--pinned] [--keep-alive SECONDS]\n"
      "                     [--no-load] [--wait]\n"
      "  models load ID [--device D] [--wait]   (--wait shows progress until the model is ready)\n"
      "  models unload ID\n"
      "  models move ID DEVICE              (DEVICE: cpu, cpu:N, cuda:N, or host to park it)\n"
      "  models rm ID                       (unloads it and forgets it; config models cannot be removed)\n"
      "  devices                            (GPUs and CPU partitions with their memory and models)\n"
      "  model-files                        (GGUF files under the server's model directories)\n"
      "\n"
      "The server URL comes from --url or LLMD_URL (default https://127.0.0.1:8443), the admin key from\n"
      "--key, --key-file or LLMD_ADMIN_KEY (prefer the environment or a file: command lines are visible\n"
      "to other users). --cacert FILE (or LLMD_CACERT) trusts a CA or a self-signed server certificate;\n"
      "--insecure skips certificate checks altogether (testing only).\n",
      out);
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_args(argc, argv, {"insecure", "json", "csv", "all", "help", "pinned", "no-load", "wait"});
  if (!parsed) return usage_error(parsed.error().message);
  const Args& args = *parsed;
  if (args.has("help") || args.positional.empty() || args.positional[0] == "help") {
    help(args.positional.empty() && !args.has("help") ? stderr : stdout);
    return args.positional.empty() && !args.has("help") ? 2 : 0;
  }

  std::string url_text = args.get("url").value_or(env("LLMD_URL"));
  if (url_text.empty()) url_text = "https://127.0.0.1:8443";
  auto url = llmd::client::parse_url(url_text);
  if (!url) return usage_error(url.error().message);

  std::string key = args.get("key").value_or("");
  if (auto file = args.get("key-file")) {
    std::ifstream in(*file);
    if (!in) return usage_error("cannot read --key-file " + *file);
    std::getline(in, key);
  }
  if (key.empty()) key = env("LLMD_ADMIN_KEY");
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) return usage_error("no admin key: set LLMD_ADMIN_KEY or pass --key-file FILE");

  llmd::client::TlsOptions tls;
  tls.ca_file = args.get("cacert").value_or(env("LLMD_CACERT"));
  tls.verify = !args.has("insecure");

  AdminClient client(std::move(*url), std::move(tls), std::move(key));
  Context ctx{client, args, args.has("json")};
  const std::string& cmd = args.positional[0];
  if (cmd == "teams" || cmd == "team") return cmd_teams(ctx);
  if (cmd == "keys" || cmd == "key") return cmd_keys(ctx);
  if (cmd == "usage") return cmd_usage(ctx);
  if (cmd == "audit") return cmd_audit(ctx);
  if (cmd == "models" || cmd == "model") return cmd_models(ctx);
  if (cmd == "devices") return cmd_devices(ctx);
  if (cmd == "model-files") return cmd_model_files(ctx);
  return usage_error("unknown command '" + cmd + "'");
}
