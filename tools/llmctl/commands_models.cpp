// llmctl models list | show ID | add ID PATH [...] | load ID [--device D] [--wait]
//               | unload ID | move ID DEVICE | rm ID
#include <sys/ioctl.h>
#include <unistd.h>

#include <boost/json/object.hpp>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "tools/llmctl/commands.hpp"
#include "tools/llmctl/load_progress.hpp"
#include "tools/llmctl/model_format.hpp"
#include "tools/llmctl/model_request.hpp"
#include "tools/llmctl/table.hpp"

namespace llmd::llmctl {

namespace json = boost::json;

namespace {

std::string model_path(const std::string& id) { return "/admin/v1/models/" + url_encode(id); }

// Prints a model answer: JSON with --json, else its fields. Answers that are
// not a model (no "id") print `otherwise` instead.
int print_model(Context& ctx, const json::value& answer, const std::string& otherwise) {
  if (ctx.json) return print_json(answer), 0;
  if (answer.is_object() && answer.as_object().contains("id")) {
    print_fields(stdout, model_fields(answer.as_object()));
  } else {
    std::printf("%s\n", otherwise.c_str());
  }
  return 0;
}

// Polls the model until it is ready, drawing progress on stderr, then prints it.
int wait_and_print(Context& ctx, const std::string& id) {
  const auto to_stderr = [](std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), stderr);
    std::fflush(stderr);
  };
  const bool terminal = ::isatty(::fileno(stderr)) == 1;
  // A redrawn line must not wrap: narrow the bar to the terminal.
  int bar = 30;
  if (winsize ws{}; terminal && ::ioctl(::fileno(stderr), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    bar = std::clamp(static_cast<int>(ws.ws_col) - 48 - static_cast<int>(id.size()), 5, 30);
  }
  ProgressView view(to_stderr, terminal, bar);
  auto model = wait_until_ready([&] { return ctx.client.call("GET", model_path(id)); },
                                [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }, view);
  if (!model) return fail(model.error());
  return print_model(ctx, json::value(std::move(*model)), "");
}

int list(Context& ctx) {
  if (auto r = check_options(ctx.args, "models list", {}, {}); !r) return usage_error(r.error().message);
  if (auto r = check_operands(ctx.args, 2, "models list"); !r) return usage_error(r.error().message);
  auto r = ctx.client.call("GET", "/admin/v1/models");
  if (!r) return fail(r.error());
  if (ctx.json) return print_json(*r), 0;
  auto data = data_of(*r);
  if (!data) return fail(data.error());
  models_table(**data).print(stdout);
  return 0;
}

int add(Context& ctx) {
  auto body = add_model_body(ctx.args);
  if (!body) return usage_error(body.error().message);
  const std::string id = ctx.args.positional[2];
  auto r = ctx.client.call("POST", "/admin/v1/models", json::value(std::move(*body)));
  if (!r) return fail(r.error());
  if (ctx.args.has("wait")) return wait_and_print(ctx, id);
  return print_model(ctx, *r, "added model " + id);
}

int load(Context& ctx) {
  auto body = load_model_body(ctx.args);
  if (!body) return usage_error(body.error().message);
  const std::string id = ctx.args.positional[2];
  auto r = ctx.client.call("POST", model_path(id) + "/load", json::value(std::move(*body)));
  if (!r) return fail(r.error());
  if (ctx.args.has("wait")) return wait_and_print(ctx, id);
  return print_model(ctx, *r, "loading model " + id);
}

// show, unload, move and rm: one request on one model.
int one_model(Context& ctx, const std::string& verb) {
  if (auto r = check_options(ctx.args, "models " + verb, {}, {}); !r) return usage_error(r.error().message);
  const bool move = verb == "move";
  if (auto r = check_operands(ctx.args, move ? 4 : 3, move ? "models move ID DEVICE" : "models " + verb + " ID");
      !r) {
    return usage_error(r.error().message);
  }
  const std::string& id = ctx.args.positional[2];
  Result<json::value> r = Error(ErrorCode::usage, "");
  std::string done;
  if (verb == "show") {
    r = ctx.client.call("GET", model_path(id));
  } else if (verb == "unload") {
    r = ctx.client.call("POST", model_path(id) + "/unload", json::value(json::object()));
    done = "unloading model " + id;
  } else if (move) {
    json::object body;
    body["device"] = ctx.args.positional[3];
    r = ctx.client.call("POST", model_path(id) + "/move", json::value(std::move(body)));
    done = "moving model " + id + " to " + ctx.args.positional[3];
  } else {
    r = ctx.client.call("DELETE", model_path(id));
    if (r && !ctx.json) {
      std::printf("removed model %s\n", id.c_str());
      return 0;
    }
  }
  if (!r) return fail(r.error());
  return print_model(ctx, *r, done);
}

}  // namespace

int cmd_models(Context& ctx) {
  const auto& pos = ctx.args.positional;
  const std::string verb = pos.size() > 1 ? pos[1] : "list";
  if (verb == "list" || verb == "ls") return list(ctx);
  if (verb == "add") return add(ctx);
  if (verb == "load") return load(ctx);
  if (verb == "show" || verb == "unload" || verb == "move") return one_model(ctx, verb);
  if (verb == "rm" || verb == "delete") return one_model(ctx, "rm");
  return usage_error("unknown models command '" + verb + "'");
}

}  // namespace llmd::llmctl
