// The flat plans and results of the device sampling kernel
// (sample_rows.hpp), plain C++17 with no CUDA header: the host side fills
// them, and the kernel's algorithm (sample_rows_block.hpp) also runs on the
// host in a test.
#pragma once

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

}  // namespace llmd::engine::cuda
