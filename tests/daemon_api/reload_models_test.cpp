// [[models]] changes applied by SIGHUP through the model manager, seen over
// the API of the real llmd: an added model is loaded and served, a changed
// one is reloaded with its new settings, a removed one is unloaded and
// forgotten (GET /v1/models follows), and a change that clashes with a model
// added over the admin API is refused as a whole.
#include <gtest/gtest.h>

#include <signal.h>

#include <boost/json.hpp>

#include <algorithm>
#include <thread>

#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> listed_models(ApiServer& server) {
  auto r = server.call("GET", "/v1/models");
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<std::string> ids;
  std::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (ec) return ids;
  for (const auto& m : v.at("data").as_array()) ids.emplace_back(m.at("id").as_string());
  return ids;
}

// The model's state in /admin/v1/models/{id}, or its HTTP status.
std::string model_state(ApiServer& server, const std::string& id) {
  auto r = server.call("GET", "/admin/v1/models/" + id, "", &server.admin_key());
  if (r.status != 200) return std::to_string(r.status);
  std::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  return ec ? "?" : std::string(v.at("state").as_string());
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

int complete(ApiServer& server, const std::string& model) {
  auto r = server.call("POST", "/v1/completions",
                       R"({"model":")" + model + R"(","prompt":"hello","max_tokens":3,"temperature":0})");
  return r.status;
}

std::string entry(const std::string& name, int max_sequences) {
  return "[[models]]\nname = \"" + name + "\"\npath = \"synth.gguf\"\nthreads = 1\nmax_sequences = " +
         std::to_string(max_sequences) + "\n";
}

TEST(ReloadModels, AddedChangedAndRemovedModelsFollowTheConfig) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  const std::string original = read_file(server.config_path());
  const std::string head = original.substr(0, original.find("[[models]]"));
  EXPECT_EQ(listed_models(server), std::vector<std::string>{"synth"});

  // Added: loaded and served; the first model goes on serving meanwhile.
  write_file(server.config_path(), original + entry("second", 8));
  server.signal(SIGHUP);
  ASSERT_TRUE(server.wait_for_log("reload: models added: 'second'", 30s)) << server.logs();
  EXPECT_EQ(complete(server, "second"), 200);  // waits for its load
  EXPECT_EQ(model_state(server, "second"), "ready");
  EXPECT_EQ(listed_models(server), (std::vector<std::string>{"synth", "second"}));
  EXPECT_EQ(complete(server, "synth"), 200);

  // Changed: unloaded and loaded again with the new settings.
  write_file(server.config_path(), original + entry("second", 6));
  server.signal(SIGHUP);
  ASSERT_TRUE(server.wait_for_log("reload: models changed (reloading): 'second'", 30s)) << server.logs();
  EXPECT_TRUE(wait_until([&] { return model_state(server, "second") == "ready"; }, 60s)) << server.logs();
  auto info = server.call("GET", "/admin/v1/models/second", "", &server.admin_key());
  EXPECT_NE(info.body.find("\"max_sequences\":6"), std::string::npos) << info.body;
  EXPECT_EQ(complete(server, "second"), 200);

  // Removed: unloaded and gone from the list; requests for it get 404.
  write_file(server.config_path(), head + entry("second", 6));
  server.signal(SIGHUP);
  ASSERT_TRUE(server.wait_for_log("reload: models removed: 'synth'", 30s)) << server.logs();
  EXPECT_TRUE(wait_until([&] { return listed_models(server) == std::vector<std::string>{"second"}; }, 60s))
      << server.logs();
  EXPECT_EQ(complete(server, "synth"), 404);
  EXPECT_EQ(complete(server, "second"), 200);
  EXPECT_NE(server.logs().find("model 'synth' unloaded"), std::string::npos) << server.logs();
}

TEST(ReloadModels, AClashWithAnApiModelRefusesTheWholeReload) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  const std::string original = read_file(server.config_path());
  auto added = server.call("POST", "/admin/v1/models",
                           R"({"id":"api-model","path":"synth.gguf","max_sequences":2,"wait":true})",
                           &server.admin_key());
  ASSERT_EQ(added.status, 201) << added.body;
  // The config now names the API model's id, and adds another model: neither applies.
  write_file(server.config_path(), original + entry("api-model", 4) + entry("third", 4));
  server.signal(SIGHUP);
  ASSERT_TRUE(server.wait_for_log("reload refused, the running configuration stays", 30s)) << server.logs();
  EXPECT_NE(server.logs().find("model 'api-model' was added over the admin API; remove it there first"),
            std::string::npos)
      << server.logs();
  EXPECT_EQ(model_state(server, "third"), "404");
  EXPECT_EQ(complete(server, "synth"), 200);
}

}  // namespace
}  // namespace llmd::test
