#include "tests/models/manager_harness.hpp"

#include <unistd.h>

#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "engine/model/model.hpp"
#include "models/model_instance.hpp"

namespace llmd::models::test {

namespace fs = std::filesystem;

ModelDir::ModelDir(int copies) {
  char tmpl[] = "/tmp/llmd-models-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  dir_ = fs::canonical(d);
  for (int i = 0; i < copies; ++i) fs::copy_file(llmd::test::shared_file(kStoriesRel), file(i));
}

ModelDir::~ModelDir() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

ManagerOptions options_for(const ModelDir& dir) {
  ManagerOptions o;
  o.model_dirs = {dir.path()};
  o.load_timeout = std::chrono::seconds(60);
  o.drain_timeout = std::chrono::seconds(30);
  return o;
}

DeviceTable cpu_devices(int partitions, uint64_t budget) {
  std::vector<Device> devices;
  for (int i = 0; i < partitions; ++i) {
    Device d;
    d.id = partitions == 1 ? "cpu" : "cpu:" + std::to_string(i);
    d.kind = engine::DeviceKind::cpu;
    d.name = "test CPU partition";
    d.memory_total = budget;
    d.memory_budget = budget;
    d.threads = 1;
    devices.push_back(std::move(d));
  }
  return DeviceTable(std::move(devices));
}

ModelSpec stories_spec(const std::string& id, const fs::path& file) {
  ModelSpec s;
  s.id = id;
  s.path = file;
  s.max_sequences = 8;
  s.device = "auto";
  return s;
}

uint64_t stories_estimate(const ModelSpec& spec) {
  auto model = engine::Model::load(spec.path.string());
  EXPECT_TRUE(model) << model.error().message;
  if (!model) return 0;
  ServingPlan plan = serving_plan(spec, **model);
  int32_t max_context = 0;
  const uint64_t block = engine::kv_block_bytes_on(engine::DeviceKind::cpu, (*model)->config(),
                                                   {0, plan.config.block_size, plan.config.kv_dtype});
  auto shape = scheduler::Scheduler::plan_kv(block, plan.limits, plan.config, &max_context);
  EXPECT_TRUE(shape);
  auto est = engine::estimate_memory(**model, engine::DeviceKind::cpu, *shape, plan.config.max_batched_tokens);
  EXPECT_TRUE(est);
  return est ? est->total() : 0;
}

std::shared_ptr<RunRecord> submit_greedy(const Lease& lease, const std::vector<int32_t>& prompt, int max_tokens,
                                   std::chrono::microseconds slow) {
  auto run = std::make_shared<RunRecord>();
  scheduler::GenerationRequest r;
  r.prompt = prompt;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.sampling.temperature = 0.0f;
  r.on_event = [run, slow](scheduler::StreamEvent&& ev) {
    if (slow.count() > 0) std::this_thread::sleep_for(slow);
    std::lock_guard lk(run->mu);
    for (const auto& t : ev.tokens) run->ids.push_back(t.id);
    if (ev.finish != scheduler::FinishReason::none) run->finish = ev.finish;
    if (!ev.error.message.empty()) run->error = ev.error.message;
    if (ev.done) run->done = true;
  };
  auto id = lease->scheduler->submit(std::move(r));
  EXPECT_TRUE(id) << id.error().message;
  if (!id) {
    std::lock_guard lk(run->mu);
    run->done = true;
    run->error = id.error().message;
  }
  return run;
}

bool wait_run(const std::shared_ptr<RunRecord>& run, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    {
      std::lock_guard lk(run->mu);
      if (run->done) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ADD_FAILURE() << "a request did not finish in time";
  return false;
}

Result<Lease> acquire_sync(ModelManager& m, const std::string& id, std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<Result<Lease>>>();
  auto f = p->get_future();
  m.acquire(id, [p](Result<Lease> r) { p->set_value(std::move(r)); });
  if (f.wait_for(timeout) != std::future_status::ready) {
    return Error(ErrorCode::timeout, "acquire of '" + id + "' did not answer");
  }
  return f.get();
}

std::vector<int32_t> generate(ModelManager& m, const std::string& id, const std::vector<int32_t>& prompt,
                              int max_tokens) {
  auto lease = acquire_sync(m, id);
  EXPECT_TRUE(lease) << id << ": " << lease.error().message;
  if (!lease) return {};
  auto run = submit_greedy(*lease, prompt, max_tokens);
  wait_run(run);
  std::lock_guard lk(run->mu);
  EXPECT_EQ(run->error, "");
  return run->ids;
}

bool wait_info(ModelManager& m, const std::string& id, const std::function<bool(const ModelInfo&)>& pred,
               std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    auto i = m.info(id);
    if (i && pred(*i)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

bool add_ready(ModelManager& m, const ModelSpec& spec) {
  auto added = m.add(spec);
  if (!added) {
    ADD_FAILURE() << spec.id << ": " << added.error().message;
    return false;
  }
  return wait_info(m, spec.id, [](const ModelInfo& i) { return i.state == ModelState::ready; });
}

std::vector<int32_t> reference_prompt() { return {1, 403, 407, 261, 378}; }

std::vector<int32_t> reference_ids() {
  std::ifstream in(llmd::test::shared_file("models/stories260K.reference.txt"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("GEN_IDS: [", 0) != 0) continue;
    std::vector<int32_t> ids;
    std::stringstream ss(line.substr(10));
    std::string tok;
    while (std::getline(ss, tok, ',')) ids.push_back(std::stoi(tok));
    return ids;  // the first prompt's: "Once upon a time"
  }
  return {};
}

}  // namespace llmd::models::test
