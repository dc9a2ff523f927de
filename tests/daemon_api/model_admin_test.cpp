// The model manager through the real server: models added, loaded,
// unloaded, moved and removed over the admin REST API while clients are
// served; bad input of every kind; the catalog after kill -9.
#include <sys/stat.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <filesystem>
#include <thread>

#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

json::object parse(const std::string& body) {
  std::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << body;
    return {};
  }
  return v.as_object();
}

// The "data" list of a list answer (a copy: the parsed document is a temporary).
json::array data_of(const std::string& body) {
  json::object o = parse(body);
  const json::value* d = o.if_contains("data");
  if (!d || !d->is_array()) {
    ADD_FAILURE() << "no data list in " << body;
    return {};
  }
  return d->as_array();
}

std::string str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The first choice's text of a completion answer.
std::string text_of(const std::string& body) {
  json::object o = parse(body);
  const json::value* c = o.if_contains("choices");
  if (!c || !c->is_array() || c->as_array().empty() || !c->as_array()[0].is_object()) return "";
  return str(c->as_array()[0].as_object(), "text");
}

class ModelAdmin : public ::testing::Test {
 protected:
  void start(ApiServerOptions opts = {}) {
    opts.tables += "[devices]\ncpu_partitions = 2\n";
    server_ = std::make_unique<ApiServer>(opts);
    ASSERT_TRUE(server_->ok());
  }
  client::HttpResponse admin(const std::string& method, const std::string& path, const std::string& body = "") {
    return server_->call(method, path, body, &server_->admin_key());
  }
  json::object model(const std::string& id) { return parse(admin("GET", "/admin/v1/models/" + id).body); }
  bool wait_state(const std::string& id, const std::string& state, std::chrono::milliseconds timeout = 30s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (str(model(id), "state") == state) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // A removed model leaves the catalog once its leases drain (a completion that just answered may still hold one).
  bool wait_gone(const std::string& id, std::chrono::milliseconds timeout = 30s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (admin("GET", "/admin/v1/models/" + id).status == 404) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // A copy of the served synthetic model under a new name in the model folder.
  void copy_model(const std::string& name) {
    fs::copy_file(server_->dir() / "synth.gguf", server_->dir() / name, fs::copy_options::overwrite_existing);
  }
  client::HttpResponse complete(const std::string& model, int max_tokens = 8) {
    return server_->call("POST", "/v1/completions",
                         R"({"model":")" + model + R"(","prompt":"Hello there","max_tokens":)" +
                             std::to_string(max_tokens) + R"(,"temperature":0,"ignore_eos":true})");
  }
  std::unique_ptr<ApiServer> server_;
};

TEST_F(ModelAdmin, DevicesAndTheConfiguredModel) {
  start();
  auto devices = admin("GET", "/admin/v1/devices");
  ASSERT_EQ(devices.status, 200) << devices.body;
  const json::object doc = parse(devices.body);
  const json::array& data = doc.at("data").as_array();
  ASSERT_EQ(data.size(), 2u) << devices.body;  // no GPU here: the two CPU partitions
  EXPECT_EQ(str(data[0].as_object(), "id"), "cpu:0");
  EXPECT_EQ(str(data[0].as_object(), "kind"), "cpu");
  EXPECT_GT(data[0].at("memory_budget").to_number<int64_t>(), 0);
  auto m = model("synth");
  EXPECT_EQ(str(m, "state"), "ready");
  EXPECT_EQ(str(m, "source"), "config");
  EXPECT_FALSE(str(m, "device").empty());
  EXPECT_GT(m.at("memory").at("actual").to_number<int64_t>(), 0);
  EXPECT_GT(m.at("memory").at("estimate").to_number<int64_t>(), 0);
  // Config models cannot be deleted over the API.
  EXPECT_EQ(admin("DELETE", "/admin/v1/models/synth").status, 409);
  // Users cannot reach the admin routes.
  EXPECT_EQ(server_->call("GET", "/admin/v1/models").status, 403);
  EXPECT_EQ(server_->call("GET", "/admin/v1/devices").status, 403);
}

TEST_F(ModelAdmin, AddServeUnloadReloadOnDemandMoveAndDelete) {
  start();
  copy_model("second.gguf");
  auto added = admin("POST", "/admin/v1/models", R"({"id":"second","path":"second.gguf","device":"cpu:0","wait":true})");
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(str(parse(added.body), "state"), "ready");
  // Listed for users, and served.
  auto list = server_->call("GET", "/v1/models");
  EXPECT_NE(list.body.find("\"second\""), std::string::npos) << list.body;
  auto first = complete("second", 12);
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string text = text_of(first.body);

  auto unloaded = admin("POST", "/admin/v1/models/second/unload");
  ASSERT_EQ(unloaded.status, 202) << unloaded.body;
  ASSERT_TRUE(wait_state("second", "unloaded"));
  EXPECT_NE(server_->call("GET", "/v1/models").body.find("\"second\""), std::string::npos);
  // A request loads it again and gets the same greedy answer.
  auto again = complete("second", 12);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(text_of(again.body), text);
  EXPECT_EQ(str(model("second"), "state"), "ready");

  auto moved = admin("POST", "/admin/v1/models/second/move", R"({"device":"cpu:1"})");
  ASSERT_EQ(moved.status, 202) << moved.body;
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (str(model("second"), "device") != "cpu:1" && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(str(model("second"), "device"), "cpu:1");
  auto after = complete("second", 12);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(text_of(after.body), text);

  EXPECT_EQ(admin("POST", "/admin/v1/models/second/move", R"({"device":"host"})").status, 409);
  auto deleted = admin("DELETE", "/admin/v1/models/second");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(complete("second").status, 404);
  EXPECT_TRUE(wait_gone("second"));

  // Every change is in the audit log.
  auto audit = admin("GET", "/admin/v1/audit");
  for (const char* action : {"model.add", "model.unload", "model.move", "model.delete"}) {
    EXPECT_NE(audit.body.find(action), std::string::npos) << action << " in " << audit.body;
  }
}

TEST_F(ModelAdmin, StreamsSurviveAMoveWithExactlyTheTokensOfAnUninterruptedRun) {
  ApiServerOptions opts;
  opts.custom_shape.name = "test-move";
  opts.custom_shape.n_vocab = 512;
  opts.custom_shape.n_embd = 512;
  opts.custom_shape.n_layer = 4;
  opts.custom_shape.n_head = 8;
  opts.custom_shape.n_head_kv = 4;
  opts.custom_shape.n_ff = 1408;
  opts.custom_shape.n_ctx = 512;
  opts.weight_type = "q8_0";
  opts.models_extra = "device = \"cpu:0\"\n";
  start(opts);
  constexpr int kStreams = 8, kTokens = 300;
  auto body = [&](int i) {
    return R"({"model":"synth","prompt":"Story )" + std::to_string(i) + R"(","max_tokens":)" +
           std::to_string(kTokens) + R"(,"temperature":0,"ignore_eos":true})";
  };
  std::vector<std::string> solo;
  for (int i = 0; i < kStreams; ++i) {
    auto r = server_->call("POST", "/v1/completions", body(i));
    ASSERT_EQ(r.status, 200) << r.body;
    solo.push_back(text_of(r.body));
  }
  std::vector<std::string> texts(kStreams);
  std::vector<int> status(kStreams, 0);
  std::vector<std::thread> clients;
  std::atomic<int> started{0};
  for (int i = 0; i < kStreams; ++i) {
    clients.emplace_back([&, i] {
      ++started;
      auto r = server_->call("POST", "/v1/completions", body(i));
      status[static_cast<size_t>(i)] = r.status;
      if (r.status == 200) texts[static_cast<size_t>(i)] = text_of(r.body);
    });
  }
  while (started < kStreams) std::this_thread::sleep_for(1ms);
  // Once the batch is running, move the model.
  ASSERT_TRUE(server_->wait_stats([](const json::object& s) { return s.at("requests").at("running").to_number<int64_t>() > 0; }, 20s));
  auto moved = admin("POST", "/admin/v1/models/synth/move", R"({"device":"cpu:1"})");
  ASSERT_EQ(moved.status, 202) << moved.body;
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (str(model("synth"), "device") != "cpu:1" && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(5ms);
  }
  // The switch found sequences running: they were preempted and resumed there.
  const int64_t preempted = server_->model_stats().at("engine").at("preemptions").to_number<int64_t>();
  for (auto& t : clients) t.join();
  EXPECT_GT(preempted, 0) << "the move landed after the streams ended; the test proves nothing";
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_EQ(status[static_cast<size_t>(i)], 200) << i;
    EXPECT_EQ(texts[static_cast<size_t>(i)], solo[static_cast<size_t>(i)]) << "request " << i;
  }
  EXPECT_EQ(str(model("synth"), "device"), "cpu:1");
  EXPECT_NE(server_->logs().find("moved from cpu:0 to cpu:1"), std::string::npos);
}

TEST_F(ModelAdmin, BadInputGetsAClearErrorAndOtherModelsKeepServing) {
  ApiServerOptions opts;
  opts.files = {{"truncated.gguf", "GGUF\x03\x00\x00\x00"}, {"notes.txt", "hello"}};
  start(opts);
  fs::create_directory(server_->dir() / "adir.gguf");
  const fs::path outside = server_->dir().parent_path() / ("outside-" + std::to_string(::getpid()) + ".gguf");
  fs::copy_file(server_->dir() / "synth.gguf", outside, fs::copy_options::overwrite_existing);
  fs::create_symlink(outside, server_->dir() / "escape.gguf");
  auto expect_error = [&](const std::string& body, int status, const std::string& param) {
    auto r = admin("POST", "/admin/v1/models", body);
    EXPECT_EQ(r.status, status) << body << " -> " << r.body;
    if (!param.empty()) {
      EXPECT_NE(r.body.find("\"param\":\"" + param + "\""), std::string::npos) << r.body;
    }
  };
  expect_error(R"({"id":"x","path":"../synth.gguf"})", 400, "path");
  expect_error(R"({"id":"x","path":"/etc/passwd"})", 400, "path");
  expect_error(R"({"id":"x","path":"escape.gguf"})", 400, "path");
  expect_error(R"({"id":"x","path":"adir.gguf"})", 400, "path");
  expect_error(R"({"id":"x","path":"missing.gguf"})", 400, "path");
  expect_error(R"({"id":"x","path":"synth.gguf","device":"cuda:7"})", 400, "device");
  expect_error(R"({"id":"x","path":"synth.gguf","device":"quantum"})", 400, "device");
  expect_error(R"({"id":"synth","path":"synth.gguf"})", 409, "id");
  expect_error(R"({"id":"x","path":"synth.gguf","kv_cache_bytes":1125899906842624})", 507, "");
  expect_error(R"({"id":"bad id!","path":"synth.gguf"})", 400, "id");
  expect_error(R"({"id":"x","path":"synth.gguf","pinned":"yes"})", 400, "pinned");
  expect_error(R"({"id":"x","path":"synth.gguf","colour":"blue"})", 400, "");
  expect_error(R"({"id":"x")", 400, "");
  expect_error(R"([1,2])", 400, "");
  // A truncated file: with wait the reader's message (422); without, the model is failed.
  auto waited = admin("POST", "/admin/v1/models", R"({"id":"t1","path":"truncated.gguf","wait":true})");
  EXPECT_EQ(waited.status, 422) << waited.body;
  EXPECT_NE(waited.body.find("GGUF"), std::string::npos) << waited.body;
  auto queued = admin("POST", "/admin/v1/models", R"({"id":"t2","path":"truncated.gguf"})");
  EXPECT_EQ(queued.status, 202) << queued.body;
  EXPECT_EQ(str(model("t2"), "state"), "failed");
  EXPECT_FALSE(str(model("t2"), "error").empty());
  auto failed_call = complete("t2");
  EXPECT_EQ(failed_call.status, 503) << failed_call.body;
  // Unknown ids, bad bodies on the actions.
  EXPECT_EQ(admin("GET", "/admin/v1/models/nope").status, 404);
  EXPECT_EQ(admin("POST", "/admin/v1/models/nope/load").status, 404);
  EXPECT_EQ(admin("POST", "/admin/v1/models/nope/unload").status, 404);
  EXPECT_EQ(admin("POST", "/admin/v1/models/synth/move", R"({"device":"gpu"})").status, 400);
  EXPECT_EQ(admin("POST", "/admin/v1/models/synth/move", "{").status, 400);
  EXPECT_EQ(admin("DELETE", "/admin/v1/models/nope").status, 404);
  // The model files listing shows what can be added, with the broken file's reason.
  auto files = admin("GET", "/admin/v1/model-files");
  ASSERT_EQ(files.status, 200);
  EXPECT_NE(files.body.find("synth.gguf"), std::string::npos);
  EXPECT_NE(files.body.find("\"architecture\":\"llama\""), std::string::npos) << files.body;
  EXPECT_EQ(files.body.find("escape.gguf"), std::string::npos) << files.body;
  EXPECT_EQ(files.body.find("notes.txt"), std::string::npos);
  // And the configured model kept serving throughout.
  EXPECT_EQ(complete("synth").status, 200);
  fs::remove(outside);
}

TEST_F(ModelAdmin, TheCatalogSurvivesKillNine) {
  start();
  copy_model("kept.gguf");
  copy_model("off.gguf");
  ASSERT_EQ(admin("POST", "/admin/v1/models", R"({"id":"kept","path":"kept.gguf","aliases":["k"],"wait":true})").status, 201);
  ASSERT_EQ(admin("POST", "/admin/v1/models", R"({"id":"off","path":"off.gguf","wait":true})").status, 201);
  ASSERT_EQ(admin("POST", "/admin/v1/models/off/unload").status, 202);
  ASSERT_TRUE(wait_state("off", "unloaded"));
  server_->crash();
  ASSERT_TRUE(server_->restart());
  auto kept = model("kept");
  EXPECT_EQ(str(kept, "state"), "ready") << json::serialize(kept);
  EXPECT_EQ(str(kept, "source"), "api");
  EXPECT_NE(json::serialize(kept).find("\"k\""), std::string::npos);
  EXPECT_EQ(str(model("off"), "state"), "unloaded");
  EXPECT_EQ(complete("k").status, 200);
  // A stored model whose file went away is failed; the daemon still serves.
  server_->crash();
  fs::remove(server_->dir() / "kept.gguf");
  ASSERT_TRUE(server_->restart());
  EXPECT_EQ(str(model("kept"), "state"), "failed");
  EXPECT_EQ(complete("synth").status, 200);
}

TEST_F(ModelAdmin, ConcurrentAdminCallsOnTheSameIdsLeaveAConsistentCatalog) {
  start();
  copy_model("race.gguf");
  std::vector<std::thread> threads;
  std::atomic<int> server_errors{0};
  for (int t = 0; t < 50; ++t) {
    threads.emplace_back([&, t] {
      const std::string id = "race" + std::to_string(t % 3);
      client::HttpResponse r;
      switch (t % 5) {
        case 0: r = admin("POST", "/admin/v1/models", R"({"id":")" + id + R"(","path":"race.gguf","device":"auto"})"); break;
        case 1: r = admin("POST", "/admin/v1/models/" + id + "/load"); break;
        case 2: r = admin("POST", "/admin/v1/models/" + id + "/move", R"({"device":"cpu:1"})"); break;
        case 3: r = admin("POST", "/admin/v1/models/" + id + "/unload"); break;
        case 4: r = admin("DELETE", "/admin/v1/models/" + id); break;
      }
      if (r.status >= 500 || r.status == 0) {
        ++server_errors;
        ADD_FAILURE() << r.status << " " << r.body;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(server_errors.load(), 0);
  // Once everything settles, each model is in a resting state and the
  // devices hold memory only for resident models.
  const auto end = std::chrono::steady_clock::now() + 30s;
  bool settled = false;
  while (!settled && std::chrono::steady_clock::now() < end) {
    settled = true;
    for (const auto& m : data_of(admin("GET", "/admin/v1/models").body)) {
      const std::string s = str(m.as_object(), "state");
      settled = settled && (s == "ready" || s == "unloaded" || s == "failed");
    }
    if (!settled) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(settled);
  int64_t resident = 0;
  for (const auto& m : data_of(admin("GET", "/admin/v1/models").body)) {
    if (str(m.as_object(), "state") == "ready") ++resident;
  }
  int64_t holding = 0;
  for (const auto& d : data_of(admin("GET", "/admin/v1/devices").body)) {
    holding += static_cast<int64_t>(d.at("models").as_array().size());
  }
  EXPECT_EQ(holding, resident);
  EXPECT_EQ(complete("synth").status, 200);
  // The same catalog after a restart.
  std::string before = admin("GET", "/admin/v1/models").body;
  server_->stop();
  ASSERT_TRUE(server_->restart());
  auto after = data_of(admin("GET", "/admin/v1/models").body);
  auto prior = data_of(before);
  ASSERT_EQ(after.size(), prior.size()) << before;
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(str(after[i].as_object(), "id"), str(prior[i].as_object(), "id"));
}

TEST_F(ModelAdmin, LlmctlDrivesTheModelManager) {
  start();
  copy_model("cli.gguf");
  const std::string key_file = (server_->dir() / "admin.key").string();
  write_file(key_file, server_->admin_key() + "\n");
  auto llmctl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {LLMCTL_BIN, "--url", "https://127.0.0.1:" + std::to_string(server_->port()),
                                     "--cacert", (server_->dir() / "cert.pem").string(), "--key-file", key_file};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, 60s);
  };
  auto devices = llmctl({"devices"});
  EXPECT_EQ(devices.status, 0) << devices.output;
  EXPECT_NE(devices.output.find("cpu:1"), std::string::npos) << devices.output;
  auto files = llmctl({"model-files"});
  EXPECT_EQ(files.status, 0) << files.output;
  EXPECT_NE(files.output.find("cli.gguf"), std::string::npos) << files.output;
  auto add = llmctl({"models", "add", "cli", "cli.gguf", "--device", "cpu:0", "--alias", "cli-alias", "--wait"});
  EXPECT_EQ(add.status, 0) << add.output;
  EXPECT_EQ(str(model("cli"), "state"), "ready");
  auto list = llmctl({"models", "list"});
  EXPECT_EQ(list.status, 0) << list.output;
  EXPECT_NE(list.output.find("cli"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("ready"), std::string::npos) << list.output;
  auto show = llmctl({"models", "show", "cli"});
  EXPECT_EQ(show.status, 0) << show.output;
  EXPECT_NE(show.output.find("cpu:0"), std::string::npos) << show.output;
  EXPECT_EQ(llmctl({"models", "move", "cli", "cpu:1"}).status, 0);
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (str(model("cli"), "device") != "cpu:1" && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(str(model("cli"), "device"), "cpu:1");
  EXPECT_EQ(llmctl({"models", "unload", "cli"}).status, 0);
  ASSERT_TRUE(wait_state("cli", "unloaded"));
  auto load = llmctl({"models", "load", "cli", "--wait"});
  EXPECT_EQ(load.status, 0) << load.output;
  EXPECT_EQ(str(model("cli"), "state"), "ready");
  EXPECT_EQ(complete("cli-alias").status, 200);
  auto bad = llmctl({"models", "add", "x", "../escape.gguf"});
  EXPECT_NE(bad.status, 0) << bad.output;
  auto rm = llmctl({"models", "rm", "cli"});
  EXPECT_EQ(rm.status, 0) << rm.output;
  EXPECT_TRUE(wait_gone("cli"));
  EXPECT_NE(llmctl({"models", "rm", "synth"}).status, 0);  // a config model
}

TEST_F(ModelAdmin, AConfiguredSplitServesFromTwoPartitions) {
  ApiServerOptions opts;
  opts.models_extra = "device = [\"cpu:0\", \"cpu:1\"]\n";
  start(opts);
  auto m = model("synth");
  EXPECT_EQ(str(m, "device"), "cpu:0+cpu:1") << json::serialize(m);
  ASSERT_TRUE(m.contains("stages"));
  EXPECT_EQ(m.at("stages").as_array().size(), 2u);
  auto r = complete("synth", 12);
  EXPECT_EQ(r.status, 200) << r.body;
  for (const auto& d : data_of(admin("GET", "/admin/v1/devices").body)) {
    EXPECT_EQ(d.at("models").as_array().size(), 1u) << json::serialize(d);
  }
}

TEST_F(ModelAdmin, ASplitAddedOverTheApiServesAndSurvivesKillNine) {
  start();
  copy_model("split.gguf");
  auto added = admin("POST", "/admin/v1/models",
                     R"({"id":"split","path":"split.gguf","device":["cpu:0","cpu:1"],"layer_split":[1,1],"wait":true})");
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(str(parse(added.body), "device"), "cpu:0+cpu:1");
  const std::string text = text_of(complete("split", 12).body);
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(admin("POST", "/admin/v1/models", R"({"id":"s2","path":"split.gguf","device":["cpu:0","cpu:1"],"layer_split":[2,2]})").status, 400);
  EXPECT_EQ(admin("POST", "/admin/v1/models", R"({"id":"s3","path":"split.gguf","device":["cpu:0","gpu"]})").status, 400);
  server_->crash();
  ASSERT_TRUE(server_->restart());
  auto m = model("split");
  EXPECT_EQ(str(m, "state"), "ready") << json::serialize(m);
  EXPECT_EQ(str(m, "device"), "cpu:0+cpu:1") << json::serialize(m);
  EXPECT_EQ(text_of(complete("split", 12).body), text);
}

TEST(ModelStart, AModelThatCannotLoadIsFailedAndTheRestAreServed) {
  ApiServerOptions opts;
  opts.files = {{"broken.gguf", "GGUF but not really"}};
  opts.models_extra = "\n[[models]]\nname = \"broken\"\npath = \"broken.gguf\"\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok());
  auto m = server.call("GET", "/admin/v1/models/broken", "", &server.admin_key());
  EXPECT_NE(m.body.find("\"state\":\"failed\""), std::string::npos) << m.body;
  EXPECT_NE(server.logs().find("model 'broken'"), std::string::npos);
  auto r = server.call("POST", "/v1/completions", R"({"model":"broken","prompt":"hi","max_tokens":2})");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(server.call("POST", "/v1/completions", R"({"model":"synth","prompt":"hi","max_tokens":2})").status, 200);
}

}  // namespace
}  // namespace llmd::test
