// A request for a model that is not loaded waits while a busy model holds
// the memory it needs: a stream gets SSE comments, then the load timeout as
// its last event; a whole request gets 503 with Retry-After; once the busy
// model is done the waited-for model loads in its place.
#include <boost/json/parse.hpp>

#include <filesystem>

#include "engine/backend/backend_factory.hpp"
#include "engine/model/model.hpp"
#include "engine/synth/synth_model.hpp"
#include "models/model_instance.hpp"
#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

// What the manager estimates for a model file served with max_sequences.
uint64_t estimate_of(const fs::path& file, uint32_t max_sequences) {
  models::ModelSpec spec;
  spec.id = "probe";
  spec.path = file;
  spec.max_sequences = max_sequences;
  auto model = engine::Model::load(file.string());
  EXPECT_TRUE(model);
  if (!model) return 0;
  models::ServingPlan plan = models::serving_plan(spec, **model);
  int32_t ctx = 0;
  const uint64_t block = engine::kv_block_bytes_on(engine::DeviceKind::cpu, (*model)->config(),
                                                   {0, plan.config.block_size, plan.config.kv_dtype});
  auto shape = scheduler::Scheduler::plan_kv(block, plan.limits, plan.config, &ctx);
  auto est = engine::estimate_memory(**model, engine::DeviceKind::cpu, *shape, plan.config.max_batched_tokens);
  return est ? est->total() : 0;
}

// What arrives on `c` until `marker` does (or the connection's timeout).
std::string read_until(Conn& c, const std::string& marker) {
  std::string got;
  char buf[4096];
  while (got.find(marker) == std::string::npos) {
    const long n = c.recv_some(buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

TEST(ModelWait, AStreamWaitingForALoadGetsCommentsThenTheTimeoutAndLaterTheModel) {
  // A budget for one model: "second" can load only once "synth" is idle, and
  // a long request keeps synth busy past the load timeout.
  // A long generation keeps the model busy for seconds.
  const engine::synth::SynthShape shape = slow_shape("test-wait", 2048);
  TempDir probe;
  engine::synth::SynthOptions so;
  so.type = "q8_0";
  so.threads = 1;
  ASSERT_TRUE(engine::synth::write_synth_model(shape, so, (probe / "m.gguf").string()));
  const uint64_t one = estimate_of(probe / "m.gguf", 4);
  ASSERT_GT(one, 0u);
  ApiServerOptions opts;
  opts.custom_shape = shape;
  opts.weight_type = "q8_0";
  opts.max_sequences = 4;
  opts.tables = "[devices]\nhost_memory_bytes = " + std::to_string(one + one / 2) +
                "\n[model_manager]\nload_timeout_s = 1\nwait_comment_interval_s = 0.2\n";
  ApiServer server(opts);
  ASSERT_TRUE(server.ok());
  fs::copy_file(server.dir() / "synth.gguf", server.dir() / "second.gguf");
  auto added = server.call("POST", "/admin/v1/models", R"({"id":"second","path":"second.gguf","max_sequences":4,"load":false})",
                           &server.admin_key());
  ASSERT_EQ(added.status, 202) << added.body;

  auto busy = server.send("/v1/completions", R"({"model":"synth","prompt":"Once","max_tokens":2000,"ignore_eos":true,"stream":true})");
  ASSERT_TRUE(busy);
  ASSERT_TRUE(server.wait_stats([](const json::object& s) { return s.at("requests").at("running").to_number<int64_t>() > 0; }, 20s));
  auto waiting = server.send("/v1/completions", R"({"model":"second","prompt":"Once","max_tokens":4,"stream":true})");
  ASSERT_TRUE(waiting);
  waiting->set_timeout(20s);
  const std::string stream = read_until(*waiting, "model_load_timeout");
  EXPECT_NE(stream.find(": waiting for the model to load"), std::string::npos) << stream;
  EXPECT_NE(stream.find("model_load_timeout"), std::string::npos) << stream;
  // A whole (non-streamed) request gets 503 with Retry-After.
  auto whole = server.call("POST", "/v1/completions", R"({"model":"second","prompt":"Once","max_tokens":4})");
  EXPECT_EQ(whole.status, 503) << whole.body;
  EXPECT_FALSE(whole.header("retry-after").empty());
  // Once synth is done, second loads in its place.
  busy->set_timeout(120s);
  EXPECT_NE(read_until(*busy, "data: [DONE]").find("data: [DONE]"), std::string::npos);
  auto later = server.call("POST", "/v1/completions", R"({"model":"second","prompt":"Once","max_tokens":4})");
  EXPECT_EQ(later.status, 200) << later.body;
}

}  // namespace
}  // namespace llmd::test
