#include "engine/cuda/device_sampler.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace llmd::engine::cuda {
namespace {

size_t align_up(size_t x) { return (x + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment; }

int n_row_blocks(int vocab) { return (vocab + static_cast<int>(kRowBlock) - 1) / static_cast<int>(kRowBlock); }

}  // namespace

bool sample_on_device(const SamplePlan& plan, int vocab) {
  if (vocab <= 0 || n_row_blocks(vocab) > kSampleMaxBlocks) return false;
  if (plan.n_logprobs < 0 || plan.n_logprobs > kSampleMaxTopLogprobs) return false;
  if (plan.greedy) return true;
  return plan.top_k <= 0 || plan.top_k >= vocab || plan.top_k <= kSampleMaxTopK;
}

uint64_t DeviceSampler::device_bytes() const {
  return inputs_dev_.bytes() + work_dev_.bytes() + results_dev_.bytes();
}

Status DeviceSampler::ensure(DeviceBuffer* buf, size_t bytes, const char* what) {
  if (buf->bytes() >= bytes) return ok_status();
  return buf->allocate(health_, std::max(bytes, 2 * buf->bytes()), what);
}

Status DeviceSampler::ensure(PinnedBuffer* buf, size_t bytes, const char* what) {
  if (buf->bytes() >= bytes) return ok_status();
  return buf->allocate(health_, std::max(bytes, 2 * buf->bytes()), what);
}

Status DeviceSampler::run(const float* logits, int row0, int n_rows, int vocab, std::span<const RowSample> samples,
                          std::vector<SampledToken>* out, cudaStream_t stream) {
  std::vector<size_t> on_device, on_host;
  for (size_t k = 0; k < samples.size(); ++k) {
    const RowSample& s = samples[k];
    if (s.row < row0 || s.row >= row0 + n_rows) continue;
    (s.plan && sample_on_device(*s.plan, vocab) ? on_device : on_host).push_back(k);
  }
  const auto mask_words = static_cast<size_t>((vocab + 63) / 64);
  for (size_t c0 = 0; c0 < on_device.size(); c0 += kMaxPlansPerLaunch) {
    const size_t c1 = std::min(on_device.size(), c0 + kMaxPlansPerLaunch);
    plans_.clear();
    edits_.clear();
    masks_.clear();
    for (size_t j = c0; j < c1; ++j) {
      const RowSample& s = samples[on_device[j]];
      const SamplePlan& p = *s.plan;
      DeviceSamplePlan d;
      d.row = s.row - row0;
      d.edit_begin = static_cast<int32_t>(edits_.size());
      for (const LogitEdit& e : p.edits)  // as on the host, ids outside the vocabulary change nothing
        if (e.id >= 0 && e.id < vocab) edits_.push_back(e);
      d.edit_count = static_cast<int32_t>(edits_.size()) - d.edit_begin;
      if (p.has_mask) {
        const size_t words = std::min(p.allowed.size(), mask_words);
        d.mask_begin = static_cast<int32_t>(masks_.size());
        d.mask_words = static_cast<int32_t>(words);
        masks_.insert(masks_.end(), p.allowed.begin(), p.allowed.begin() + static_cast<std::ptrdiff_t>(words));
      }
      d.greedy = p.greedy ? 1 : 0;
      d.top_k = p.top_k;
      d.inv_t = p.inv_t;
      d.top_p = p.top_p;
      d.min_p = p.min_p;
      d.logprobs = p.logprobs || p.n_logprobs > 0 ? 1 : 0;
      d.n_logprobs = p.n_logprobs;
      d.u = p.u;
      plans_.push_back(d);
    }
    LLMD_TRY(launch_chunk(logits, vocab, stream));
    const auto* results = results_host_.as<const DeviceSampleResult>();
    for (size_t j = c0; j < c1; ++j) {
      const DeviceSampleResult& r = results[j - c0];
      if (r.status != SampleStatus::done) {
        on_host.push_back(on_device[j]);
        continue;
      }
      SampledToken& t = (*out)[on_device[j]];
      t = SampledToken{};
      t.id = r.id;
      t.logprob = std::numeric_limits<float>::quiet_NaN();  // as choose_token without logprobs
      if (plans_[j - c0].logprobs) {
        t.logprob = r.logprob;
        for (int i = 0; i < std::min(r.n_top, kSampleMaxTopLogprobs); ++i)
          t.top_logprobs.push_back({r.top[i].id, r.top[i].logprob});
      }
    }
  }
  // The rest on the host, from a copy of the row.
  std::vector<float> row(on_host.empty() ? 0 : static_cast<size_t>(vocab));
  for (const size_t k : on_host) {
    const RowSample& s = samples[k];
    if (!s.plan) return Error(ErrorCode::engine_error, "a sample without a plan");
    const float* src = logits + static_cast<size_t>(s.row - row0) * static_cast<size_t>(vocab);
    LLMD_CUDA_TRY(health_, cudaMemcpyAsync(row.data(), src, row.size() * sizeof(float), cudaMemcpyDeviceToHost,
                                           stream));
    LLMD_CUDA_TRY(health_, cudaStreamSynchronize(stream));
    (*out)[k] = choose_token(row, *s.plan);
  }
  return ok_status();
}

Status DeviceSampler::launch_chunk(const float* logits, int vocab, cudaStream_t stream) {
  const int n = static_cast<int>(plans_.size());
  const size_t plans_bytes = align_up(plans_.size() * sizeof(DeviceSamplePlan));
  const size_t edits_bytes = align_up(edits_.size() * sizeof(LogitEdit));
  const size_t masks_bytes = align_up(masks_.size() * sizeof(uint64_t));
  const size_t total = plans_bytes + edits_bytes + masks_bytes;
  LLMD_TRY(ensure(&staging_, total, "sampling plans (host)"));
  LLMD_TRY(ensure(&inputs_dev_, total, "sampling plans"));
  LLMD_TRY(ensure(&work_dev_, sample_rows_work_bytes(kMaxPlansPerLaunch, vocab), "sampling scratch"));
  LLMD_TRY(ensure(&results_dev_, kMaxPlansPerLaunch * sizeof(DeviceSampleResult), "sampled tokens"));
  LLMD_TRY(ensure(&results_host_, kMaxPlansPerLaunch * sizeof(DeviceSampleResult), "sampled tokens (host)"));

  auto* host = static_cast<unsigned char*>(staging_.get());
  std::memcpy(host, plans_.data(), plans_.size() * sizeof(DeviceSamplePlan));
  if (!edits_.empty()) std::memcpy(host + plans_bytes, edits_.data(), edits_.size() * sizeof(LogitEdit));
  if (!masks_.empty())
    std::memcpy(host + plans_bytes + edits_bytes, masks_.data(), masks_.size() * sizeof(uint64_t));
  LLMD_CUDA_TRY(health_, cudaMemcpyAsync(inputs_dev_.get(), host, total, cudaMemcpyHostToDevice, stream));
  auto* dev = static_cast<unsigned char*>(inputs_dev_.get());
  LLMD_CUDA_TRY(health_, launch_sample_rows(logits, vocab, reinterpret_cast<const DeviceSamplePlan*>(dev), n,
                                            reinterpret_cast<const LogitEdit*>(dev + plans_bytes),
                                            reinterpret_cast<const uint64_t*>(dev + plans_bytes + edits_bytes),
                                            work_dev_.as<float>(), results_dev_.as<DeviceSampleResult>(), stream));
  LLMD_CUDA_TRY(health_, cudaMemcpyAsync(results_host_.get(), results_dev_.get(), n * sizeof(DeviceSampleResult),
                                         cudaMemcpyDeviceToHost, stream));
  LLMD_CUDA_TRY(health_, cudaStreamSynchronize(stream));
  return ok_status();
}

}  // namespace llmd::engine::cuda
