// llmctl's subcommands. Each returns the process exit code.
#pragma once

#include <boost/json/value.hpp>

#include <string>

#include "tools/llmctl/admin_client.hpp"
#include "tools/llmctl/cli_args.hpp"

namespace llmd::llmctl {

struct Context {
  AdminClient& client;
  const Args& args;
  bool json = false;  // print the server's JSON instead of tables
};

int cmd_teams(Context& ctx);
int cmd_keys(Context& ctx);
int cmd_usage(Context& ctx);
int cmd_audit(Context& ctx);
int cmd_models(Context& ctx);
int cmd_devices(Context& ctx);
int cmd_model_files(Context& ctx);

// Shared output helpers.
int fail(const Error& e);
int usage_error(const std::string& message);
void print_json(const boost::json::value& v);
std::string text_of(const boost::json::value* v);   // "-" for null or absent
std::string time_of(const boost::json::value* v);   // Unix seconds as "YYYY-MM-DD HH:MM" UTC, "-" for null
// Parses an integer option; "none" gives JSON null (clear a limit).
Result<boost::json::value> int_option(const std::string& name, const std::string& text);

}  // namespace llmd::llmctl
