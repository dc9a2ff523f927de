// The memory estimate for the CUDA backend (engine/backend/backend_factory.hpp)
// on synthetic models: block-quantized matrices are counted as the backend
// keeps them (quantized, in the device layout: within 5 % of the file's
// tensor bytes) plus the scratch that a step dequantizes them into; 16-bit
// files need no scratch. Runs without a GPU: the estimate is host arithmetic.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "engine/backend/backend_factory.hpp"
#include "engine/model/model.hpp"
#include "tests/engine_cpu/synth_fixture.hpp"
#include "tests/support/quantized_copy.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::engine {
namespace {

constexpr KvCacheShape kKv{.n_blocks = 16, .block_size = 16, .dtype = KvDtype::f16};
constexpr int kTokens = 512;

MemoryEstimate cuda_estimate(const std::string& shape, const std::string& type, uint64_t* file_bytes) {
  auto m = Model::load(test::synth_model_file(*synth::find_synth_shape(shape), type));
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  if (!m.ok()) return {};
  *file_bytes = (*m)->weight_bytes();
  auto e = estimate_memory(**m, DeviceKind::cuda, kKv, kTokens);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
  return e.ok() ? *e : MemoryEstimate{};
}

TEST(CudaMemoryEstimate, QuantizedWeightsTakeAboutTheFilesBytes) {
  // test-llama3 ties its output to the embedding; test-qwen2 has QKV biases.
  for (const char* shape : {"test-llama", "test-llama3", "test-qwen2"}) {
    for (const char* type : {"q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "q4_k_m"}) {
      SCOPED_TRACE(std::string(shape) + " " + type);
      uint64_t file = 0;
      const MemoryEstimate e = cuda_estimate(shape, type, &file);
      ASSERT_GT(file, 0u);
      EXPECT_LE(static_cast<double>(e.weights), 1.05 * static_cast<double>(file));
      EXPECT_GE(static_cast<double>(e.weights), 0.95 * static_cast<double>(file));
    }
  }
}

TEST(CudaMemoryEstimate, QuantizedModelsCountTheDequantizationScratch) {
  uint64_t file16 = 0, file8 = 0;
  const MemoryEstimate f16 = cuda_estimate("test-llama", "f16", &file16);
  const MemoryEstimate q8 = cuda_estimate("test-llama", "q8_0", &file8);
  // 16-bit weights as stored; the q8_0 model's largest layer matrix (gate|up,
  // 2 n_ff x n_embd = 1024 x 256) fits in the scratch, f16 elements.
  EXPECT_LE(static_cast<double>(f16.weights), 1.05 * static_cast<double>(file16));
  EXPECT_GE(q8.workspace, f16.workspace + 1024u * 256u * 2u);
  EXPECT_LT(q8.weights, f16.weights);
}

// stories260K rewritten in q8_0 (the model the CUDA tests compare with the
// CPU backend): rows of 64 become q8_0, rows of 172 (ffn_down) f16, and the
// estimate stays within 5 % of the rewritten file.
TEST(CudaMemoryEstimate, Stories260KInQ8_0) {
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  const std::string path = test::temp_path("stories260K-q8_0.gguf");
  ASSERT_FALSE(test::write_quantized_copy(test::shared_file("models/stories260K.gguf").string(), path,
                                                gguf::GgmlType::Q8_0).empty());
  auto m = Model::load(path);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const LayerWeights& L = (*m)->layer(0);
  EXPECT_EQ(L.wq.type, gguf::GgmlType::Q8_0);
  EXPECT_EQ(L.w_gate.type, gguf::GgmlType::Q8_0);
  EXPECT_EQ(L.w_down.type, gguf::GgmlType::F16);
  EXPECT_EQ((*m)->token_embd().type, gguf::GgmlType::Q8_0);
  auto e = estimate_memory(**m, DeviceKind::cuda, kKv, kTokens);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_LE(static_cast<double>(e->weights), 1.05 * static_cast<double>((*m)->weight_bytes()));
}

}  // namespace
}  // namespace llmd::engine
