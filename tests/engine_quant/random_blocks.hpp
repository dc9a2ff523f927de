// Matrices of random quantized blocks for tests of code that reads them: every
// byte random, except the block scales (d, and dmin for q4_K/q5_K), which are
// finite half floats of either sign with magnitudes in [lo, hi], so that every
// bit pattern of the values, sub-block scales and mins occurs and no weight is
// infinite or NaN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "engine/gguf/ggml_type.hpp"
#include "engine/quant/block_types.hpp"
#include "engine/quant/fp16.hpp"

namespace llmd::test {

// The file bytes of a rows x cols matrix of a q8_0, q4_0, q4_K, q5_K or q6_K type.
inline std::vector<uint8_t> random_blocks(gguf::GgmlType type, int64_t rows, int64_t cols, std::mt19937_64& rng,
                                          float lo = 1e-3f, float hi = 1e-2f) {
  const auto traits = gguf::ggml_type_traits(static_cast<uint32_t>(type));
  const size_t block_bytes = traits->block_bytes;
  const size_t n_blocks = static_cast<size_t>(rows * (cols / traits->block_elems));
  std::vector<uint8_t> m(n_blocks * block_bytes);
  for (uint8_t& b : m) b = static_cast<uint8_t>(rng());
  std::vector<size_t> scale_at;  // offsets of the f16 scales in a block
  switch (type) {
    case gguf::GgmlType::Q8_0: scale_at = {offsetof(quant::BlockQ8_0, d)}; break;
    case gguf::GgmlType::Q4_0: scale_at = {offsetof(quant::BlockQ4_0, d)}; break;
    case gguf::GgmlType::Q4_K: scale_at = {offsetof(quant::BlockQ4_K, d), offsetof(quant::BlockQ4_K, dmin)}; break;
    case gguf::GgmlType::Q5_K: scale_at = {offsetof(quant::BlockQ5_K, d), offsetof(quant::BlockQ5_K, dmin)}; break;
    case gguf::GgmlType::Q6_K: scale_at = {offsetof(quant::BlockQ6_K, d)}; break;
    default: return {};
  }
  std::uniform_real_distribution<float> mag(lo, hi);
  for (size_t i = 0; i < n_blocks; ++i) {
    for (size_t at : scale_at) {
      const float v = (rng() & 1) ? mag(rng) : -mag(rng);
      const uint16_t h = quant::f32_to_f16(v);
      std::memcpy(m.data() + i * block_bytes + at, &h, 2);
    }
  }
  return m;
}

}  // namespace llmd::test
