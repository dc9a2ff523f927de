// Shared pieces of the scheduler tests: real models (stories260K from the
// reference data, small synthetic GQA models written by the project's own
// writer), and a recorder that collects a request's stream events.
#pragma once

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/backend/backend.hpp"
#include "engine/model/model.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "scheduler/scheduler.hpp"

namespace llmd::scheduler::test {

// A model with its tokenizer and a CPU backend.
struct LoadedModel {
  std::unique_ptr<engine::Model> model;
  std::unique_ptr<engine::Tokenizer> tokenizer;
  std::unique_ptr<engine::Backend> backend;

  ModelLimits limits() const;
  std::vector<int32_t> encode(const std::string& text) const;  // with BOS as the model says
};

// Loads a GGUF model onto a CPU backend with `threads` threads; fails the
// current test (and returns nullptr) on error.
std::unique_ptr<LoadedModel> load_model(const std::filesystem::path& path, int threads = 1);

// Path of ../shared/models/stories260K.gguf (may not exist: tests require it
// with LLMD_REQUIRE_SHARED_FILE).
inline constexpr const char* kStoriesRel = "models/stories260K.gguf";

// Writes (once per process) a small random-weight model with grouped-query
// attention (8 query heads over 2 KV heads) and returns its path.
std::filesystem::path synthetic_gqa_model();

// One choice's output.
struct ChoiceRecord {
  std::vector<int32_t> ids;
  std::vector<float> logprobs;
  std::string text;
  FinishReason finish = FinishReason::none;
  int32_t stop_index = -1;
  int events = 0;
};

// Collects a request's events; thread-safe, so it can serve the loop thread.
class Recorder : public std::enable_shared_from_this<Recorder> {
 public:
  explicit Recorder(int n = 1) : choices_(static_cast<size_t>(n)) {}

  EventSink sink();
  bool done() const;
  // Blocks until done (threaded tests); false on timeout.
  bool wait_done(int timeout_ms = 20000) const;

  // Valid once done.
  const ChoiceRecord& choice(int i = 0) const { return choices_[static_cast<size_t>(i)]; }
  const Usage& usage() const { return usage_; }
  // Events received with a FinishReason after done, or a second done: protocol errors.
  int protocol_errors() const;
  int64_t generated_total() const;

 private:
  void on_event(StreamEvent&& ev);

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<ChoiceRecord> choices_;
  Usage usage_;
  bool done_ = false;
  int protocol_errors_ = 0;
};

// A request for greedy decoding of `prompt` with a fixed length.
GenerationRequest greedy_request(std::vector<int32_t> prompt, int32_t max_tokens,
                                 std::shared_ptr<Recorder> rec, const std::string& team = "default");

// Runs the scheduler on the calling thread until nothing is left to do.
void run_to_idle(Scheduler& s, int max_steps = 1000000);

// Creates a scheduler over `m` or fails the test.
std::unique_ptr<Scheduler> make_scheduler(LoadedModel& m, const SchedulerConfig& config);

// Generates greedily with one request alone in a fresh scheduler.
std::vector<int32_t> generate_alone(LoadedModel& m, const std::vector<int32_t>& prompt, int32_t max_tokens,
                                    bool ignore_eos = true);

}  // namespace llmd::scheduler::test
