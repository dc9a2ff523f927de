// Token choice on the device with the host sampler's plans
// (engine/sampling/sample_plan.hpp; this header is C++17 for nvcc, so the
// plans come in the flat form below): the steps of choose_token, written once
// in engine/sampling/choice_steps.hpp and run here where the logits are, so a
// decode step returns ids instead of n_rows x n_vocab logits and chooses the
// same token the host would for the same logits and plan.
//
// One thread block per plan. What it does on the device: sanitizing, the
// plan's edits (penalties, bias) and token mask, log-probabilities, greedy, top-k up to
// kSampleMaxTopK (radix selection of the k-th largest logit), the dense
// draw with temperature and min-p, and dense top-p when the nucleus lies
// among at most kTopPShortlistMax tokens of weight ≥ kTopPShortlistWeight
// (the usual case for a model's peaked distribution). The rest is left to
// the host, per plan, with the row's logits untouched: the caller
// (engine/cuda/device_sampler.hpp) decides up front (a larger top-k or top
// logprobs list, a vocabulary of more than
// kSampleMaxBlocks blocks), and a result with status `host` says it after
// the fact (a flat distribution whose top-p nucleus is not in the shortlist).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "engine/sampling/choice_steps.hpp"

namespace llmd::engine::cuda {

constexpr int kSampleMaxTopK = 128;
constexpr int kSampleMaxBlocks = 2048;  // vocabularies up to 2048 * kRowBlock tokens
constexpr int kSampleMaxTopLogprobs = 20;

// A SamplePlan as the kernel reads it; edits and mask words live in arrays
// shared by all plans of a launch.
struct DeviceSamplePlan {
  int32_t row = 0;          // logits row
  int32_t edit_begin = 0;   // first of its edits
  int32_t edit_count = 0;
  int32_t mask_begin = -1;  // first of its mask words; -1: no mask
  int32_t mask_words = 0;
  int32_t greedy = 1;
  int32_t top_k = 0;
  float inv_t = 1.0f;
  float top_p = 1.0f;
  float min_p = 0.0f;
  int32_t logprobs = 0;    // fill the result's logprob and top list
  int32_t n_logprobs = 0;  // 0 .. kSampleMaxTopLogprobs
  double u = 0.0;
};

enum class SampleStatus : int32_t { done = 0, host = 1 };

struct DeviceTokenLogprob {
  int32_t id;
  float logprob;
};

// With logprobs, logprob is the chosen token's log-probability and top the
// n_logprobs most likely tokens (most likely first), as choose_token reports
// them; their values may differ from the host's in the last bit of the
// logarithm (the device's log), the ids do not.
struct DeviceSampleResult {
  int32_t id = -1;
  SampleStatus status = SampleStatus::host;
  float logprob = 0.0f;
  int32_t n_top = 0;
  DeviceTokenLogprob top[kSampleMaxTopLogprobs];
};

// Scratch the launch needs: one processed row of `vocab` floats per plan.
size_t sample_rows_work_bytes(int n_plans, int vocab);

// results[p] = the token plans[p] chooses from logits row plans[p].row.
// logits: [rows][vocab] f32, read only. edits/masks: the plans' arrays on the
// device. work: sample_rows_work_bytes(n_plans, vocab) bytes.
cudaError_t launch_sample_rows(const float* logits, int vocab, const DeviceSamplePlan* plans, int n_plans,
                               const LogitEdit* edits, const uint64_t* masks, float* work,
                               DeviceSampleResult* results, cudaStream_t stream);

}  // namespace llmd::engine::cuda
