// Shared pieces of the model manager tests: a model folder with real GGUF
// files (copies of stories260K from the reference data), managers over CPU
// partitions with chosen budgets, and greedy requests run through leases.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "models/model_manager.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::models::test {

inline constexpr const char* kStoriesRel = "models/stories260K.gguf";

// A fresh folder with `n` copies of stories260K named m0.gguf, m1.gguf, ...
class ModelDir {
 public:
  explicit ModelDir(int copies);
  ~ModelDir();
  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path file(int i) const { return dir_ / ("m" + std::to_string(i) + ".gguf"); }

 private:
  std::filesystem::path dir_;
};

// Options of a manager over `dir`: long load and drain timeouts (a loaded
// test machine must not turn a slow step into a failure).
ManagerOptions options_for(const ModelDir& dir);

// CPU partitions "cpu:0".. (or "cpu" for one), each with `budget` bytes.
DeviceTable cpu_devices(int partitions, uint64_t budget);

// The memory the manager estimates for stories260K on the CPU with `spec`'s
// serving settings.
uint64_t stories_estimate(const ModelSpec& spec);

ModelSpec stories_spec(const std::string& id, const std::filesystem::path& file);

// Collects one request's tokens.
struct RunRecord {
  std::mutex mu;
  std::vector<int32_t> ids;
  bool done = false;
  scheduler::FinishReason finish = scheduler::FinishReason::none;
  std::string error;
};

// Submits a greedy request on the lease's model; `slow` sleeps that long in
// the sink per event (so a test can act while the request runs).
std::shared_ptr<RunRecord> submit_greedy(const Lease& lease, const std::vector<int32_t>& prompt, int max_tokens,
                                   std::chrono::microseconds slow = std::chrono::microseconds(0));
// Waits for the run to end (fails the test after `timeout`).
bool wait_run(const std::shared_ptr<RunRecord>& run, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Acquires synchronously (waits for a load when needed).
Result<Lease> acquire_sync(ModelManager& m, const std::string& id,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

// acquire_sync + a greedy run to the end.
std::vector<int32_t> generate(ModelManager& m, const std::string& id, const std::vector<int32_t>& prompt,
                              int max_tokens);

// Adds `spec` and waits until it is ready; false (with the reason reported)
// when it is refused or does not become ready.
bool add_ready(ModelManager& m, const ModelSpec& spec);

// Polls until pred(info(id)) holds; false after `timeout`.
bool wait_info(ModelManager& m, const std::string& id, const std::function<bool(const ModelInfo&)>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The reference prompt "Once upon a time" and its 64 greedy ids.
std::vector<int32_t> reference_prompt();
std::vector<int32_t> reference_ids();

}  // namespace llmd::models::test
