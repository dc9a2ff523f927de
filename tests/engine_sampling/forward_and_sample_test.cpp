// forward_and_sample on a real CPU backend (a small synthetic model written
// by the project's GGUF writer): the host chooses the batch's samples from the
// logits the step returns, exactly as Sampler::sample does on them, several
// from one row included; a sample naming a row the step lacks, or without a
// plan, is a clear error.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/backend/backend.hpp"
#include "engine/cpu/cpu_backend.hpp"
#include "engine/model/model.hpp"
#include "engine/sampling/sampler.hpp"
#include "engine/synth/synth_model.hpp"
#include "engine/synth/synth_shapes.hpp"

namespace llmd::engine {
namespace {

struct TinyModel {
  std::string path;
  std::unique_ptr<Model> model;
  std::unique_ptr<Backend> backend;
  TinyModel() {
    path = (std::filesystem::temp_directory_path() / ("llmd_fas_" + std::to_string(::getpid()) + ".gguf")).string();
    const synth::SynthShape* shape = synth::find_synth_shape("test-llama");
    EXPECT_NE(shape, nullptr);
    synth::SynthOptions so;
    so.threads = 1;
    EXPECT_TRUE(synth::write_synth_model(*shape, so, path).ok());
    auto m = Model::load(path);
    EXPECT_TRUE(m.ok());
    model = std::move(*m);
    auto b = make_cpu_backend(*model, {.threads = 1});
    EXPECT_TRUE(b.ok());
    backend = std::move(*b);
    EXPECT_TRUE(backend->init_kv({.n_blocks = 8, .block_size = 16, .dtype = KvDtype::f32}).ok());
  }
  ~TinyModel() { std::filesystem::remove(path); }
};

// Two sequences of one prompt token each, blocks 0 and 1.
ForwardBatch two_sequences(const std::vector<int32_t>& tokens, const std::vector<int32_t>& tables) {
  ForwardBatch b;
  b.seqs.push_back({std::span<const int32_t>(tokens).subspan(0, 1), 0, std::span<const int32_t>(tables).subspan(0, 1),
                    LogitsMode::last});
  b.seqs.push_back({std::span<const int32_t>(tokens).subspan(1, 1), 0, std::span<const int32_t>(tables).subspan(1, 1),
                    LogitsMode::last});
  return b;
}

TEST(ForwardAndSample, TheHostChoosesWhatTheSamplerWouldFromTheStepsLogits) {
  TinyModel m;
  ASSERT_TRUE(m.backend);
  ASSERT_FALSE(m.backend->samples_rows());
  const auto n_vocab = static_cast<size_t>(m.model->config().n_vocab);
  const std::vector<int32_t> tokens = {1, 2}, tables = {0, 1}, prompt = {1};
  SamplingParams greedy, hot;
  greedy.temperature = 0.0f;
  hot.temperature = 0.9f;
  hot.top_p = 0.8f;
  hot.presence_penalty = 0.5f;
  hot.seed = 7;
  Sampler a(greedy), b(hot);
  ForwardBatch batch = two_sequences(tokens, tables);
  const SamplePlan pa = a.plan(n_vocab, prompt, {}), pb = b.plan(n_vocab, prompt, {}), pc = b.plan(n_vocab, prompt, {});
  batch.samples = {{1, &pa}, {0, &pb}, {0, &pc}};  // two choices from row 0
  ForwardOutput out;
  ASSERT_TRUE(forward_and_sample(*m.backend, batch, &out).ok());
  ASSERT_EQ(out.sampled.size(), 3u);
  ASSERT_EQ(out.n_rows, 2);
  Sampler a2(greedy), b2(hot);
  EXPECT_EQ(out.sampled[0].id, a2.sample(out.row(1), prompt, {}).id);
  EXPECT_EQ(out.sampled[1].id, b2.sample(out.row(0), prompt, {}).id);
  EXPECT_EQ(out.sampled[2].id, b2.sample(out.row(0), prompt, {}).id);  // the stream's next draw
}

TEST(ForwardAndSample, ASampleOfAMissingRowOrWithoutAPlanIsAnError) {
  TinyModel m;
  ASSERT_TRUE(m.backend);
  const std::vector<int32_t> tokens = {1, 2}, tables = {0, 1};
  Sampler s(SamplingParams{});
  const SamplePlan p = s.plan(static_cast<size_t>(m.model->config().n_vocab), {}, {});
  for (const RowSample bad : {RowSample{-1, &p}, RowSample{2, &p}, RowSample{0, nullptr}}) {
    ForwardBatch batch = two_sequences(tokens, tables);
    batch.samples = {bad};
    ForwardOutput out;
    const Status st = forward_and_sample(*m.backend, batch, &out);
    ASSERT_FALSE(st.ok()) << bad.row;
    EXPECT_EQ(st.error().code, ErrorCode::engine_error);
  }
}

}  // namespace
}  // namespace llmd::engine
