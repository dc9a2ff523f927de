// A sticky device error (here: a kernel reading far outside its buffer) must
// mark a CUDA backend failed: forward() returns "cuda_fatal" and healthy()
// turns false. Runs in its own executable because the fault destroys the
// process's CUDA context.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "engine/cuda/cuda_backend.hpp"
#include "engine/cuda/cuda_status.hpp"
#include "engine/cuda/kernels/elementwise.hpp"
#include "tests/engine_cuda/cuda_test_util.hpp"

namespace llmd::engine::cuda {
namespace {

TEST(CudaFault, StickyErrorFailsTheBackend) {
  LLMD_REQUIRE_GPU();
  ModelConfig c;
  c.arch_name = "llama";
  c.n_vocab = 256;
  c.n_embd = 128;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_head_kv = 1;
  c.head_dim = 64;
  c.n_ff = 256;
  c.n_ctx_train = 256;
  c.n_rot = 64;
  auto be = CudaBackend::create_random(c, DType::bf16, 3, {});
  ASSERT_TRUE(be.ok()) << be.error().message;
  ASSERT_TRUE((*be)->init_kv({.n_blocks = 4, .block_size = 16, .dtype = KvDtype::f16}).ok());
  std::vector<int32_t> toks = {1, 2, 3}, table = {0};
  ForwardBatch b;
  BatchSeq s;
  s.tokens = toks;
  s.block_table = table;
  b.seqs.push_back(s);
  ForwardOutput out;
  ASSERT_TRUE((*be)->forward(b, &out).ok());
  ASSERT_TRUE((*be)->healthy());

  // Gather row 2^30 of a 1 MiB table: terabytes past the allocation.
  test::cuda::DevArray<float> table_d(1 << 18), out_d(1 << 10);
  test::cuda::DevArray<int32_t> bad(std::vector<int32_t>{1 << 30});
  ASSERT_TRUE(table_d.ok() && out_d.ok() && bad.ok());
  (void)launch_embed(table_d.get(), DType::f32, bad.get(), 1, 1024, out_d.get(), nullptr);
  const cudaError_t e = cudaDeviceSynchronize();
  ASSERT_NE(e, cudaSuccess) << "the out-of-bounds read was not detected";
  std::printf("fault: %s\n", cudaGetErrorName(e));

  Status st = (*be)->forward(b, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, errc::kCudaFatal) << st.error().message;
  EXPECT_FALSE((*be)->healthy());
  // Every later call fails fast with the same code.
  EXPECT_EQ((*be)->forward(b, &out).error().code, errc::kCudaFatal);
  EXPECT_EQ((*be)->copy_kv_block(0, 1).error().code, errc::kCudaFatal);
}

}  // namespace
}  // namespace llmd::engine::cuda
