// What the catalog knows about one model: where its file is, how it is
// served, where it should run, and whether it should be loaded. Specs come
// from the config's [[models]] (source config: never deleted over the API)
// or from the admin API (source api: stored through ModelStore and restored
// after a restart).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace llmd::models {

enum class ModelSource : uint8_t { config, api };

std::string_view to_string(ModelSource s);

struct ModelSpec {
  std::string id;                        // what clients send as "model"
  std::filesystem::path path;            // GGUF file, canonical, inside a model directory
  std::vector<std::string> aliases;      // further ids that resolve to this model
  std::string device = "auto";           // "auto", "cpu", "cpu:N", "cuda:N"
  // A split across devices, in stage order (replaces `device` when not
  // empty), with layers per device (empty: spread evenly).
  std::vector<std::string> devices;
  std::vector<int32_t> layer_split;
  bool pinned = false;                   // never evicted to make room
  uint32_t keep_alive_s = 0;             // idle time before it is parked/unloaded; 0 = only under pressure
  uint32_t context_length = 0;           // 0 = the model's own, at most kDefaultContextCap
  uint32_t max_sequences = 16;
  uint32_t max_choices = 4;
  uint32_t max_waiting = 256;
  uint32_t max_waiting_per_team = 0;     // one team's part of max_waiting; 0 = a quarter of it (at least 1)
  bool share_preemption = true;          // preempt to keep the weighted fair share (scheduler_config.hpp)
  uint64_t kv_cache_bytes = 0;           // 0 = room for max_sequences full contexts
  std::string chat_template_name;        // built-in template overriding the GGUF's
  std::filesystem::path chat_template;   // Jinja file overriding the GGUF's
  uint32_t threads = 0;                  // CPU threads; 0 = the partition's share
  ModelSource source = ModelSource::config;
  bool load = true;                      // desired state: resident (true) or unloaded
  std::string origin;                    // config "file:line", for messages

  bool operator==(const ModelSpec&) const = default;
};

// Context length served when context_length is 0 and the model's own is
// longer (KV memory grows with it; configure more explicitly).
inline constexpr uint32_t kDefaultContextCap = 8192;

// 1-128 of A-Z a-z 0-9 . _ - : / (not starting or ending with '/').
bool valid_model_id(std::string_view id);

}  // namespace llmd::models
