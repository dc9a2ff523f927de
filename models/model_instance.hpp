// A model opened for serving: its file mapping, tokenizer, chat template and
// scheduler, with what the API layer needs to know about it. The backend that
// runs it belongs to the model manager, which hands it to the scheduler and
// may replace it (a move) or take it away (parking, unloading) while the
// instance lives on: requests hold the instance through a Lease, never a raw
// pointer kept across threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "engine/backend/backend_factory.hpp"
#include "engine/chat/chat_template.hpp"
#include "engine/model/model.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "models/model_spec.hpp"
#include "scheduler/scheduler.hpp"

namespace llmd::models {

struct ModelInstance {
  std::string id;
  std::vector<std::string> aliases;
  int64_t created = 0;           // Unix time of the GGUF file
  std::string fingerprint;       // system_fingerprint: llmd's version, the model id and the file
  int32_t max_context = 0;       // prompt + completion tokens per sequence
  int32_t max_choices = 1;       // the largest n
  int32_t n_vocab = 0;
  uint64_t kv_block_bytes = 0;   // per block on the device kind it was opened for

  std::unique_ptr<engine::Model> model;
  std::unique_ptr<engine::Tokenizer> tokenizer;
  std::unique_ptr<engine::ChatTemplate> chat_template;
  // Declared last: destroyed first. The manager stops it (joining its
  // thread) before it lets go of the instance, so the last lease may end on
  // any thread, the scheduler's own included.
  std::unique_ptr<scheduler::Scheduler> scheduler;

  ~ModelInstance();
};

// The scheduler settings and model limits `spec` asks for with `model`.
struct ServingPlan {
  scheduler::SchedulerConfig config;
  scheduler::ModelLimits limits;
};
ServingPlan serving_plan(const ModelSpec& spec, const engine::Model& model);

// Reads the tokenizer and chat template of an opened model and creates its
// scheduler, paused, with its KV pool sized for a device of `kind`. Its loop
// runs (after_step after each step) but steps only once a backend is handed
// to it. Errors name the model and the file.
Result<std::shared_ptr<ModelInstance>> open_instance(const ModelSpec& spec, std::unique_ptr<engine::Model> model,
                                                     engine::DeviceKind kind, std::function<void()> after_step,
                                                     std::function<void(const Error&)> on_backend_failed = nullptr);

}  // namespace llmd::models
