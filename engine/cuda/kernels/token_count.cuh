// Kernels specialised per token count (GEMV variants for 1..kGemvMaxTokens
// tokens) pick their instance through one switch.
#pragma once

#include <cuda_runtime_api.h>

#include <type_traits>

namespace llmd::engine::cuda {

// Returns launch(std::integral_constant<int, n>{}) for n = n_tokens in 1..8
// (anything above 8 as 8; callers check the range first).
template <typename Launch>
cudaError_t with_token_count(int n_tokens, Launch&& launch) {
  switch (n_tokens) {
    case 1: return launch(std::integral_constant<int, 1>{});
    case 2: return launch(std::integral_constant<int, 2>{});
    case 3: return launch(std::integral_constant<int, 3>{});
    case 4: return launch(std::integral_constant<int, 4>{});
    case 5: return launch(std::integral_constant<int, 5>{});
    case 6: return launch(std::integral_constant<int, 6>{});
    case 7: return launch(std::integral_constant<int, 7>{});
    default: return launch(std::integral_constant<int, 8>{});
  }
}

}  // namespace llmd::engine::cuda
