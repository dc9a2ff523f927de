// Runs on every machine: a CUDA build without a usable device must say "no
// GPU" cleanly (an Error, no abort); with a device it must describe it. Also
// checks the error classification that decides when a backend is failed.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "engine/cuda/cuda_backend.hpp"
#include "engine/cuda/cuda_status.hpp"
#include "engine/cuda/device_info.hpp"
#include "engine/cuda/kernels/attention.hpp"
#include "engine/cuda/kernels/launch.hpp"

namespace llmd::engine::cuda {
namespace {

TEST(CudaProbe, ReportsDevicesOrNoGpu) {
  auto devs = list_devices();
  if (!devs) {
    EXPECT_EQ(devs.error().code, errc::kNoGpu);
    EXPECT_EQ(devs.error().message.rfind("no GPU", 0), 0u) << devs.error().message;
    std::printf("no device: %s\n", devs.error().message.c_str());
    auto one = device_info(0);
    ASSERT_FALSE(one.ok());
    EXPECT_EQ(one.error().code, errc::kNoGpu);
    return;
  }
  ASSERT_FALSE(devs->empty());
  for (const auto& d : *devs) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.cc_major, 7);
    EXPECT_GT(d.sm_count, 0);
    EXPECT_GT(d.total_bytes, 0u);
    std::printf("device %d: %s\n", d.index, describe(d).c_str());
  }
  auto missing = device_info(static_cast<int>(devs->size()));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, errc::kNoGpu);
}

TEST(CudaProbe, BackendWithoutDeviceSaysNoGpu) {
  // A tiny configuration: on a machine with a GPU this builds a real backend.
  ModelConfig c;
  c.arch_name = "llama";
  c.n_vocab = 64;
  c.n_embd = 64;
  c.n_layer = 1;
  c.n_head = 2;
  c.n_head_kv = 1;
  c.head_dim = 32;
  c.n_ff = 128;
  c.n_ctx_train = 128;
  c.n_rot = 32;
  auto be = CudaBackend::create_random(c, DType::bf16, 1, {});
  if (!list_devices().ok()) {
    ASSERT_FALSE(be.ok());
    EXPECT_EQ(be.error().code, errc::kNoGpu);
    EXPECT_EQ(be.error().message.rfind("no GPU", 0), 0u) << be.error().message;
    return;
  }
  ASSERT_TRUE(be.ok()) << be.error().message;
  EXPECT_TRUE((*be)->healthy());
  EXPECT_EQ((*be)->name(), "cuda:0");
}

// The programmatic-launch switch belongs to the enqueuing thread: a scope
// turns it on and restores the previous state, and other threads (another
// model's backend) never see it.
TEST(CudaLaunchMode, ScopeIsPerThreadAndRestores) {
  EXPECT_FALSE(programmatic_launch());
  {
    ProgrammaticLaunchScope on(true);
    EXPECT_TRUE(programmatic_launch());
    bool seen_elsewhere = true;
    std::thread([&] { seen_elsewhere = programmatic_launch(); }).join();
    EXPECT_FALSE(seen_elsewhere);
    {
      ProgrammaticLaunchScope off(false);
      EXPECT_FALSE(programmatic_launch());
    }
    EXPECT_TRUE(programmatic_launch());
  }
  EXPECT_FALSE(programmatic_launch());
}

// Host-side planning of split decode attention: every split length is a
// multiple of the granule, the splits cover the context, and short contexts
// still get many splits (one block per 16 keys) instead of a few long ones.
TEST(CudaAttentionSplit, LengthsCoverTheContextInGranules) {
  EXPECT_EQ(attention_split_len(256, 32), 16);
  EXPECT_EQ(attention_split_len(2048, 32), 64);
  EXPECT_EQ(attention_split_len(1, 32), kAttnSplitGranule);
  EXPECT_EQ(attention_split_len(300, 1), 300);
  for (int ctx : {1, 15, 16, 17, 255, 256, 257, 1000, 4096, 32768}) {
    for (int n : {2, 3, 8, 32}) {
      const int len = attention_split_len(ctx, n);
      EXPECT_EQ(len % kAttnSplitGranule, 0) << ctx << " " << n;
      EXPECT_GE(static_cast<long>(len) * n, ctx) << ctx << " " << n;
    }
  }
  // Batch 1 on 132 SMs: 8 KV heads get enough splits to fill the device.
  EXPECT_EQ(choose_attention_split(1, 8, 0, 132, 2048).n_splits, 32);
  EXPECT_EQ(choose_attention_split(1, 8, 100, 132, 2048).n_splits, 7);  // capped by 100 keys / 16
  EXPECT_EQ(choose_attention_split(64, 8, 0, 132, 2048).n_splits, 1);
  // Long contexts are cut into pieces of about split_keys even when the
  // batch fills the device: 64 sequences of up to 2,048 keys in four.
  EXPECT_EQ(choose_attention_split(64, 8, 0, 132, 2048, 2048, 512).n_splits, 4);
  EXPECT_EQ(choose_attention_split(64, 8, 0, 132, 2048, 2049, 512).n_splits, 5);
  EXPECT_EQ(choose_attention_split(64, 8, 0, 132, 2048, 512, 512).n_splits, 1);  // short: one pass
  EXPECT_EQ(choose_attention_split(64, 8, 0, 132, 2048, 2048, 0).n_splits, 1);   // off
  // The partials bound them (256 x 8 = 2,048), and so does the cap of 32.
  EXPECT_EQ(choose_attention_split(256, 8, 0, 132, 2048, 32768, 512).n_splits, 8);
  EXPECT_EQ(choose_attention_split(1, 8, 0, 132, 2048, 65536, 512).n_splits, 32);
  // Filling the device still decides where it asks for more.
  EXPECT_EQ(choose_attention_split(1, 8, 0, 132, 2048, 1024, 512).n_splits, 32);
}

TEST(CudaProbe, VersionsAreStrings) {
  EXPECT_FALSE(cuda_runtime_version().empty());
  EXPECT_FALSE(cuda_driver_version().empty());
  std::printf("runtime %s, driver %s\n", cuda_runtime_version().c_str(), cuda_driver_version().c_str());
}

TEST(CudaHealth, StickyErrorsMarkTheDeviceFailed) {
  DeviceHealth h;
  EXPECT_TRUE(h.healthy());
  EXPECT_TRUE(h.check(cudaSuccess, "nothing").ok());

  Status s = h.check(cudaErrorInvalidValue, "cudaMemcpy");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, errc::kCuda);
  EXPECT_NE(s.error().message.find("cudaMemcpy"), std::string::npos);
  EXPECT_TRUE(h.healthy()) << "an invalid argument must not fail the device";

  Status oom = h.check(cudaErrorMemoryAllocation, "cudaMalloc");
  ASSERT_FALSE(oom.ok());
  EXPECT_EQ(oom.error().code, errc::kOutOfMemory);
  EXPECT_TRUE(h.healthy());

  Status fatal = h.check(cudaErrorIllegalAddress, "kernel");
  ASSERT_FALSE(fatal.ok());
  EXPECT_EQ(fatal.error().code, errc::kCudaFatal);
  EXPECT_FALSE(h.healthy());
  EXPECT_NE(h.failure().find("kernel"), std::string::npos);
  EXPECT_EQ(h.failed_error().code, errc::kCudaFatal);

  // The first failure is kept.
  (void)h.check(cudaErrorLaunchFailure, "second");
  EXPECT_EQ(h.failure().find("second"), std::string::npos);
}

TEST(CudaHealth, NoDeviceIsNotFatal) {
  DeviceHealth h;
  Status s = h.check(cudaErrorNoDevice, "cudaSetDevice");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, errc::kNoGpu);
  EXPECT_TRUE(h.healthy());
}

TEST(CudaHealth, CublasFailuresAreReported) {
  DeviceHealth h;
  Status s = h.check(CUBLAS_STATUS_NOT_SUPPORTED, "cublasLtMatmul");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("CUBLAS_STATUS_NOT_SUPPORTED"), std::string::npos);
  EXPECT_TRUE(h.healthy());
}

}  // namespace
}  // namespace llmd::engine::cuda
