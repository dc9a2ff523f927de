// DeviceSampler: the CUDA backend's side of Backend::samples_rows(). It
// turns a step's RowSamples into the flat plans of the sampling kernel
// (kernels/sample_rows.hpp), launches it over the logits still on the device,
// copies back one id per plan, and finishes on the host, with choose_token
// on that row's logits, the plans the device leaves: those it cannot take
// (a top-k above kSampleMaxTopK, more top logprobs than
// kSampleMaxTopLogprobs, a vocabulary above its limit) and
// those it hands back (a flat top-p distribution). Either way each token is
// what choose_token gives for the same logits and plan (log-probability
// values up to the last bit of the device's logarithm).
//
// Owned by one backend and driven by its engine thread; its buffers grow on
// demand and are kept.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "engine/backend/backend.hpp"
#include "engine/cuda/device_pool.hpp"
#include "engine/cuda/kernels/sample_rows.hpp"

namespace llmd::engine::cuda {

// Whether the device can choose `plan`'s token for a vocabulary of `vocab`.
bool sample_on_device(const SamplePlan& plan, int vocab);

class DeviceSampler {
 public:
  // Plans one launch takes: its scratch is this many rows of logits.
  static constexpr int kMaxPlansPerLaunch = 64;

  explicit DeviceSampler(DeviceHealth& health) : health_(health) {}

  // Chooses out[k] for every samples[k] whose row lies in [row0, row0 +
  // n_rows): those rows' logits are on the device at `logits` (row row0
  // first), vocab floats each. Entries outside the range are left as they
  // are. Synchronizes the stream.
  Status run(const float* logits, int row0, int n_rows, int vocab, std::span<const RowSample> samples,
             std::vector<SampledToken>* out, cudaStream_t stream);

  // Device bytes held now (scratch and plan arrays).
  uint64_t device_bytes() const;

 private:
  Status ensure(DeviceBuffer* buf, size_t bytes, const char* what);
  Status ensure(PinnedBuffer* buf, size_t bytes, const char* what);
  // Runs the kernel for plans_/edits_/masks_ and leaves its results in
  // results_host_.
  Status launch_chunk(const float* logits, int vocab, cudaStream_t stream);

  DeviceHealth& health_;
  // The chunk being launched, in the kernel's form.
  std::vector<DeviceSamplePlan> plans_;
  std::vector<LogitEdit> edits_;
  std::vector<uint64_t> masks_;
  DeviceBuffer inputs_dev_, work_dev_, results_dev_;
  PinnedBuffer staging_;  // plans, edits and masks on their way in
  PinnedBuffer results_host_;
};

}  // namespace llmd::engine::cuda
