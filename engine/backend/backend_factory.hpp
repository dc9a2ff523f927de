// Making a backend by device name, and what one will cost before it is made.
// One factory for the model manager, `llmd generate` and the benchmarks:
//
//   "cpu", "cpu:N"   the CPU backend (N names a CPU partition; its threads
//                    and kernel variant come from the options)
//   "cuda", "cuda:N" the CUDA backend on GPU N; a build without the CUDA
//                    backend answers no_gpu "built without CUDA"
//
// A list of devices splits the model across them (split_backend.hpp): one
// stage per device, in order, each running a contiguous range of the layers.
//
// Estimates need only the Model (its configuration and tensor types), so a
// caller can reserve memory before it starts the slow part.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "engine/backend/backend.hpp"
#include "engine/model/model.hpp"

namespace llmd::engine {

enum class DeviceKind : uint8_t { cpu, cuda };

// A parsed device name: kind and index (-1 for a bare "cpu" or "cuda").
struct DeviceName {
  DeviceKind kind = DeviceKind::cpu;
  int index = -1;
  std::string str() const;  // "cpu", "cpu:1", "cuda:0"
};

// "cpu", "cpu:N", "cuda", "cuda:N" (0 <= N < 256); invalid_argument otherwise.
Result<DeviceName> parse_device_name(std::string_view name);

// "cpu:0,cpu:1": device names separated by commas, each checked by
// parse_device_name; invalid_argument for an empty list or a bad name.
Result<std::vector<std::string>> parse_device_list(std::string_view list);

// "3,2": layer counts separated by commas; invalid_argument unless each is a
// decimal integer in [1, 100000].
Result<std::vector<int32_t>> parse_layer_split(std::string_view list);

// The layer range of each of n_devices stages over n_layer layers: the
// counts of layer_split in order, or without one (empty) the layers spread
// evenly, the first n_layer % n_devices stages taking one more. Errors
// (invalid_argument): no device, more devices than layers, a split whose
// length differs from the device count, a zero or negative count, counts not
// summing to n_layer.
Result<std::vector<LayerRange>> plan_layer_split(int32_t n_layer, size_t n_devices,
                                                 const std::vector<int32_t>& layer_split);

struct BackendOptions {
  std::string device = "cpu";
  int threads = 0;           // CPU: threads (0 = all cores this process may use)
  std::string isa;           // CPU: kernel variant ("" = best available)
  int max_batch_tokens = 0;  // CUDA: tokens per internal step (0 = default)
  int max_context = 0;       // CUDA: highest position + 1 (0 = the model's)
  // Called on the creating thread while weights are converted or uploaded.
  std::function<void(uint64_t done, uint64_t total)> progress;
  // A split across devices: when not empty, these devices in stage order
  // replace `device`, with layers per device from layer_split (empty: spread
  // evenly; see plan_layer_split). One device is a plain backend. Every stage
  // gets the options above (threads, isa, ...).
  std::vector<std::string> devices;
  std::vector<int32_t> layer_split;
};

// True when this build contains the CUDA backend.
bool cuda_backend_built();

// The backend for options.device, or the split over options.devices. Errors:
// invalid_argument (a bad device name or layer split, checked before any
// weight is converted), no_gpu (no CUDA backend in this build, or no such
// GPU), unsupported (a CUDA stage that is not the whole model: the CUDA
// backend does not run layer ranges yet), and the backends' own
// (out_of_memory, model_unsupported_type, ...).
Result<std::unique_ptr<Backend>> make_backend(const Model& model, const BackendOptions& options);

// What a backend for `model` on a device of `kind` will hold.
struct MemoryEstimate {
  uint64_t weights = 0;     // weights in the form that device keeps them
  uint64_t kv = 0;          // the KV pool of `kv_blocks` blocks
  uint64_t workspace = 0;   // activations, scratch, library workspaces
  uint64_t total() const { return weights + kv + workspace; }
};

// Bytes of one KV block of `shape` on a device of `kind` (0 when that kind
// does not support the dtype).
uint64_t kv_block_bytes_on(DeviceKind kind, const ModelConfig& config, const KvCacheShape& shape);

// kv_blocks: the pool the scheduler will ask for; max_batch_tokens: the
// largest step (workspaces grow with it).
Result<MemoryEstimate> estimate_memory(const Model& model, DeviceKind kind, const KvCacheShape& kv,
                                       int max_batch_tokens);
// The same for one stage of a split holding `layers` (its KV pool covers
// only those layers; the step workspaces are a whole step's).
Result<MemoryEstimate> estimate_stage_memory(const Model& model, DeviceKind kind, const KvCacheShape& kv,
                                             int max_batch_tokens, const LayerRange& layers);
// Whether backends of `kind` can run a range of layers (a split's stage).
bool supports_layer_ranges(DeviceKind kind);

struct GpuInfo {
  int index = 0;
  std::string name;
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
};

// The GPUs this process can use; empty (with the reason in *why when given)
// on a build without CUDA or a machine without a usable GPU.
std::vector<GpuInfo> list_gpus(std::string* why = nullptr);

// The pinned host-to-device copy rate of GPU `index` in bytes per second,
// measured now; nullopt without CUDA or on failure.
std::optional<double> pinned_copy_rate(int index);

}  // namespace llmd::engine
