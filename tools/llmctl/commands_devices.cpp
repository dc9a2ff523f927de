// llmctl devices | model-files: where models can run and which files can be added.
#include <cstdio>

#include "tools/llmctl/commands.hpp"
#include "tools/llmctl/model_format.hpp"
#include "tools/llmctl/model_request.hpp"
#include "tools/llmctl/table.hpp"

namespace llmd::llmctl {

namespace {

// GET a list and print it as `table` makes it.
int list_command(Context& ctx, const char* command, const char* path,
                 Table (*table)(const boost::json::array&)) {
  if (auto r = check_options(ctx.args, command, {}, {}); !r) return usage_error(r.error().message);
  if (auto r = check_operands(ctx.args, 1, command); !r) return usage_error(r.error().message);
  auto r = ctx.client.call("GET", path);
  if (!r) return fail(r.error());
  if (ctx.json) return print_json(*r), 0;
  auto data = data_of(*r);
  if (!data) return fail(data.error());
  table(**data).print(stdout);
  return 0;
}

}  // namespace

int cmd_devices(Context& ctx) { return list_command(ctx, "devices", "/admin/v1/devices", devices_table); }

int cmd_model_files(Context& ctx) {
  return list_command(ctx, "model-files", "/admin/v1/model-files", model_files_table);
}

}  // namespace llmd::llmctl
