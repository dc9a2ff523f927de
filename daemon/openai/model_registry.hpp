// The models llmd serves: each [[models]] entry loaded (GGUF, tokenizer, chat
// template, CPU backend) with its scheduler loop running, found by name or
// alias. Loading happens once at start-up, before the server reports ready;
// until then find() finds nothing and list() is empty.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.hpp"
#include "engine/backend/backend.hpp"
#include "engine/chat/chat_template.hpp"
#include "base/result.hpp"
#include "engine/model/model.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "scheduler/scheduler.hpp"

namespace llmd::openai {

struct ServedModel {
  std::string id;                    // the configured name
  std::vector<std::string> aliases;
  int64_t created = 0;               // Unix time of the GGUF file
  std::string fingerprint;           // system_fingerprint: changes with llmd's version, the file and the backend
  int32_t max_context = 0;           // prompt + completion tokens per sequence
  int32_t max_choices = 1;           // the largest n
  int32_t n_vocab = 0;

  std::unique_ptr<engine::Model> model;
  std::unique_ptr<engine::Tokenizer> tokenizer;
  std::unique_ptr<engine::ChatTemplate> chat_template;
  std::unique_ptr<engine::Backend> backend;
  std::unique_ptr<scheduler::Scheduler> scheduler;  // declared last: stopped and destroyed first
};

// Loads one configured model and starts its scheduler.
Result<std::unique_ptr<ServedModel>> load_model(const config::ModelConfig& cfg);

class ModelRegistry {
 public:
  ModelRegistry() = default;
  ~ModelRegistry();
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  // Loads every model in order; the first failure stops (and names the model).
  // Call once, before the server is ready.
  Status load(const std::vector<config::ModelConfig>& models);
  // Adds an already loaded model (tests); before the first lookup only.
  void add(std::unique_ptr<ServedModel> model);
  // Makes the loaded models visible to lookups.
  void publish() { ready_.store(true, std::memory_order_release); }

  // True once load() (or publish()) has made the models visible.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // By name or alias; null when unknown (or not loaded yet).
  const ServedModel* find(std::string_view id) const;
  // Every model in config order (empty until loaded).
  std::vector<const ServedModel*> list() const;

  // Stops every scheduler: requests still running end (their sinks get `done`).
  // Call after the server has stopped delivering to clients, before it is destroyed.
  void stop();

 private:
  std::atomic<bool> ready_{false};
  std::vector<std::unique_ptr<ServedModel>> models_;
};

}  // namespace llmd::openai
