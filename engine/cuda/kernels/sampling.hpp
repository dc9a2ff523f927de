// Token selection on the device, so a decode step returns ids instead of
// n_rows x n_vocab logits.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace llmd::engine::cuda {

constexpr int kMaxDeviceTopK = 128;

// ids[r] = argmax_i logits[r][i]; the lowest index wins ties; NaN never wins.
cudaError_t launch_argmax(const float* logits, int n_rows, int vocab, int32_t* ids, cudaStream_t stream);

// Samples ids[r] from softmax(logits[r] / temperature) restricted to the
// top_k largest logits (top_k <= 0 or >= vocab: the whole vocabulary;
// 1 <= top_k <= kMaxDeviceTopK otherwise). The uniform draw of row r comes
// from a counter-based hash of seeds[r] (device array), so the same seed and
// logits give the same id. temperature must be > 0.
bool sample_topk_supported(int top_k, int vocab);
cudaError_t launch_sample_topk(const float* logits, int n_rows, int vocab, int top_k, float temperature,
                               const uint64_t* seeds, int32_t* ids, cudaStream_t stream);

}  // namespace llmd::engine::cuda
