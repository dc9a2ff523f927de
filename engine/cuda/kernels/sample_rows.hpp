// Token choice on the device with the host sampler's plans
// (engine/sampling/sample_plan.hpp; this header is C++17 for nvcc, so the
// plans come in the flat form below): the steps of choose_token, written once
// in engine/sampling/choice_steps.hpp and run here where the logits are, so a
// decode step returns ids instead of n_rows x n_vocab logits and chooses the
// same token the host would for the same logits and plan.
//
// One thread block per plan, running sample_row_in_block
// (sample_rows_block.hpp). What it does on the device: sanitizing, the
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

#include "engine/cuda/kernels/sample_rows_types.hpp"

namespace llmd::engine::cuda {

// Scratch the launch needs: one processed row of `vocab` floats per plan.
size_t sample_rows_work_bytes(int n_plans, int vocab);

// results[p] = the token plans[p] chooses from logits row plans[p].row.
// logits: [rows][vocab] f32, read only. edits/masks: the plans' arrays on the
// device. work: sample_rows_work_bytes(n_plans, vocab) bytes.
cudaError_t launch_sample_rows(const float* logits, int vocab, const DeviceSamplePlan* plans, int n_plans,
                               const LogitEdit* edits, const uint64_t* masks, float* work,
                               DeviceSampleResult* results, cudaStream_t stream);

}  // namespace llmd::engine::cuda
