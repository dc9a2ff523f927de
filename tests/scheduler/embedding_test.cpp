// Embedding requests through the scheduler on the CPU backend: the pooled,
// L2-normalised hidden state of synthetic embedding models (llama with mean
// and CLS pooling, qwen3 with last-token pooling, and every pooling on both)
// against the float64 numpy reference (tests/engine_cpu/reference_forward.py
// --embed), with the text cut into several prefill chunks; the same
// embeddings batched with other embeddings and with chat generations, under
// KV pressure that preempts them, and after a prefix-cache hit; and the
// request checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <tuple>

#include "scheduler/scheduler.hpp"
#include "tests/engine_cpu/synth_fixture.hpp"
#include "tests/scheduler/scheduler_harness.hpp"

namespace llmd::scheduler::test {
namespace {

using engine::PoolingType;

struct EmbedResult {
  std::vector<float> embedding;
  FinishReason finish = FinishReason::none;
  Usage usage;
  int events = 0;
  bool done = false;
  std::string error;
};

GenerationRequest embed_request(std::vector<int32_t> ids, PoolingType pooling, const std::shared_ptr<EmbedResult>& out,
                                 const std::string& team = "default") {
  GenerationRequest r;
  r.prompt = std::move(ids);
  r.embed = pooling;
  r.team = team;
  r.cache_salt = team;
  r.on_event = [out](StreamEvent&& ev) {
    ++out->events;
    out->finish = ev.finish;
    out->usage = ev.usage;
    out->done = ev.done;
    out->error = ev.error.message;
    out->embedding = std::move(ev.embedding);
  };
  return r;
}

std::vector<int32_t> random_ids(size_t n, int32_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids(n);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return ids;
}

std::string model_file(const std::string& shape_name, const std::string& type, PoolingType pooling) {
  const engine::synth::SynthShape* shape = engine::synth::find_synth_shape(shape_name);
  EXPECT_NE(shape, nullptr) << shape_name;
  return llmd::test::synth_model_file(*shape, type, 1, static_cast<int>(pooling));
}

// Runs each text alone, in a fresh scheduler of `cfg`, and returns its embedding.
std::vector<float> embed_alone(LoadedModel& m, const SchedulerConfig& cfg, const std::vector<int32_t>& ids,
                               PoolingType pooling) {
  auto s = make_scheduler(m, cfg);
  if (!s) return {};
  auto out = std::make_shared<EmbedResult>();
  auto id = s->submit(embed_request(ids, pooling, out));
  EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error().message);
  run_to_idle(*s);
  EXPECT_TRUE(out->done);
  EXPECT_EQ(out->finish, FinishReason::stop) << out->error;
  return out->embedding;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double d = 0.0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(static_cast<double>(a[i]) - b[i]));
  return d;
}

using Param = std::tuple<std::string, std::string, PoolingType>;  // shape, weight type, pooling

class EmbeddingReference : public ::testing::TestWithParam<Param> {};

TEST_P(EmbeddingReference, PooledEmbeddingMatchesFloat64Reference) {
  if (!std::filesystem::exists(llmd::test::kPython)) GTEST_SKIP() << llmd::test::kPython << " is absent";
  const auto& [shape_name, type, pooling] = GetParam();
  const std::string path = model_file(shape_name, type, pooling);
  auto m = load_model(path, 2);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->model->config().pooling, pooling);
  const int32_t V = m->model->config().n_vocab;

  SchedulerConfig cfg;
  cfg.max_seqs = 4;
  cfg.max_batched_tokens = 16;  // a text of 37 tokens is computed in three chunks
  cfg.block_size = 16;
  const bool exact = type == "f32";
  cfg.kv_dtype = exact ? engine::KvDtype::f32 : engine::KvDtype::f16;
  const double tol = exact ? 1e-4 : 2e-2;  // relative L2 error of the unit vector

  for (size_t len : {size_t{1}, size_t{37}}) {
    SCOPED_TRACE("text of " + std::to_string(len) + " tokens");
    const std::vector<int32_t> ids = random_ids(len, V, static_cast<uint32_t>(len * 7 + 1));
    const std::vector<double> ref = llmd::test::reference_logits(path, ids, /*embed=*/true);
    ASSERT_EQ(ref.size(), static_cast<size_t>(m->model->config().n_embd));

    auto s = make_scheduler(*m, cfg);
    ASSERT_NE(s, nullptr);
    auto out = std::make_shared<EmbedResult>();
    ASSERT_TRUE(s->submit(embed_request(ids, pooling, out)).ok());
    run_to_idle(*s);
    ASSERT_TRUE(out->done);
    EXPECT_EQ(out->events, 1);
    ASSERT_EQ(out->finish, FinishReason::stop) << out->error;
    EXPECT_EQ(out->usage.prompt_tokens, static_cast<int32_t>(len));
    EXPECT_EQ(out->usage.completion_tokens, 0);
    ASSERT_EQ(out->embedding.size(), ref.size());

    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < ref.size(); ++i) {
      diff += (out->embedding[i] - ref[i]) * (out->embedding[i] - ref[i]);
      norm += static_cast<double>(out->embedding[i]) * out->embedding[i];
    }
    EXPECT_NEAR(norm, 1.0, 1e-5) << "the embedding is L2-normalised";
    EXPECT_LE(std::sqrt(diff), tol) << shape_name << " " << type << " " << engine::pooling_name(pooling);
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string s = std::get<0>(info.param) + "_" + std::get<1>(info.param) + "_" +
                  engine::pooling_name(std::get<2>(info.param));
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Synth, EmbeddingReference,
                         ::testing::Combine(::testing::Values("test-llama-embed", "test-qwen3-embed"),
                                            ::testing::Values("f32", "q8_0"),
                                            ::testing::Values(PoolingType::mean, PoolingType::cls,
                                                              PoolingType::last)),
                         param_name);

// Embeddings computed together with other embeddings and chat generations
// (different chunk boundaries, other rows in every step) equal each one
// computed alone. The CPU backend computes each row by the same operations
// whatever the batch, so the tolerance is 1e-6 on a unit vector (in practice
// the values are identical).
class EmbeddingBatching : public ::testing::TestWithParam<PoolingType> {};

TEST_P(EmbeddingBatching, BatchedWithOtherWorkEqualsAlone) {
  const PoolingType pooling = GetParam();
  auto m = load_model(model_file("test-qwen3-embed", "q8_0", pooling), 2);
  ASSERT_NE(m, nullptr);
  const int32_t V = m->model->config().n_vocab;
  SchedulerConfig cfg;
  cfg.max_seqs = 8;
  cfg.max_batched_tokens = 48;
  cfg.block_size = 16;

  const std::vector<size_t> lengths = {3, 17, 40, 64, 5, 100};
  std::vector<std::vector<int32_t>> texts;
  std::vector<std::vector<float>> alone;
  for (size_t i = 0; i < lengths.size(); ++i) {
    texts.push_back(random_ids(lengths[i], V, static_cast<uint32_t>(100 + i)));
    alone.push_back(embed_alone(*m, cfg, texts.back(), pooling));
  }
  const std::vector<int32_t> chat_prompt = random_ids(20, V, 7);
  const std::vector<int32_t> chat_alone = generate_alone(*m, chat_prompt, 12);

  auto s = make_scheduler(*m, cfg);
  ASSERT_NE(s, nullptr);
  auto chat = std::make_shared<Recorder>();
  ASSERT_TRUE(s->submit(greedy_request(chat_prompt, 12, chat, "chat")).ok());
  std::vector<std::shared_ptr<EmbedResult>> outs;
  for (size_t i = 0; i < texts.size(); ++i) {
    outs.push_back(std::make_shared<EmbedResult>());
    ASSERT_TRUE(s->submit(embed_request(texts[i], pooling, outs.back(), i % 2 ? "a" : "b")).ok());
    if (i == 2) s->step();  // later ones join a batch already running
  }
  run_to_idle(*s);
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_TRUE(outs[i]->done);
    ASSERT_EQ(outs[i]->finish, FinishReason::stop) << outs[i]->error;
    EXPECT_LE(max_abs_diff(outs[i]->embedding, alone[i]), 1e-6) << "text " << i;
  }
  ASSERT_TRUE(chat->done());
  EXPECT_EQ(chat->choice().ids, chat_alone) << "the chat generation is unchanged by the embeddings beside it";
}

// Too few KV blocks for everything at once: a long chat generation grows
// while batch-priority embeddings are computed beside it, so embeddings are
// preempted in the middle of their text and computed again later (reusing
// their own blocks from the prefix cache); their results do not change.
TEST_P(EmbeddingBatching, PreemptedEmbeddingsEqualAlone) {
  const PoolingType pooling = GetParam();
  auto m = load_model(model_file("test-llama-embed", "q8_0", pooling), 2);
  ASSERT_NE(m, nullptr);
  const int32_t V = m->model->config().n_vocab;
  SchedulerConfig roomy;
  roomy.max_seqs = 4;
  roomy.max_batched_tokens = 64;
  roomy.block_size = 16;
  SchedulerConfig tight = roomy;
  tight.kv_blocks = 12;  // 192 tokens: the chat (166) and one text of 100 do not fit together

  std::vector<std::vector<int32_t>> texts;
  std::vector<std::vector<float>> alone;
  for (uint32_t i = 0; i < 4; ++i) {
    texts.push_back(random_ids(100, V, 300 + i));
    alone.push_back(embed_alone(*m, roomy, texts.back(), pooling));
  }
  auto s = make_scheduler(*m, tight);
  ASSERT_NE(s, nullptr);
  auto chat = std::make_shared<Recorder>();
  ASSERT_TRUE(s->submit(greedy_request(random_ids(16, V, 9), 150, chat, "chat")).ok());
  // The chat holds 8 of the 12 blocks when the embeddings arrive.
  for (int i = 0; i < 1000 && chat->generated_total() < 100; ++i) s->step();
  std::vector<std::shared_ptr<EmbedResult>> outs;
  for (const auto& t : texts) {
    outs.push_back(std::make_shared<EmbedResult>());
    GenerationRequest r = embed_request(t, pooling, outs.back(), "rag");
    r.priority = Priority::batch;
    ASSERT_TRUE(s->submit(std::move(r)).ok());
  }
  run_to_idle(*s);
  EXPECT_GT(s->stats().preemptions, 0u) << "the pool was meant to be too small for the chat and an embedding";
  ASSERT_TRUE(chat->done());
  EXPECT_EQ(chat->choice().ids.size(), 150u);
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_TRUE(outs[i]->done);
    ASSERT_EQ(outs[i]->finish, FinishReason::stop) << outs[i]->error;
    EXPECT_LE(max_abs_diff(outs[i]->embedding, alone[i]), 1e-6) << "text " << i;
  }
}

// The same text twice in one scheduler (the second may meet the first's
// blocks in the prefix cache): the same embedding.
TEST_P(EmbeddingBatching, RepeatedTextAfterPrefixCacheEqualsFirst) {
  const PoolingType pooling = GetParam();
  auto m = load_model(model_file("test-llama-embed", "q8_0", pooling), 2);
  ASSERT_NE(m, nullptr);
  SchedulerConfig cfg;
  cfg.block_size = 16;
  auto s = make_scheduler(*m, cfg);
  ASSERT_NE(s, nullptr);
  const std::vector<int32_t> text = random_ids(70, m->model->config().n_vocab, 11);
  std::vector<std::vector<float>> got;
  for (int round = 0; round < 2; ++round) {
    auto out = std::make_shared<EmbedResult>();
    ASSERT_TRUE(s->submit(embed_request(text, pooling, out)).ok());
    run_to_idle(*s);
    ASSERT_EQ(out->finish, FinishReason::stop) << out->error;
    got.push_back(out->embedding);
    if (round == 1 && pooling == PoolingType::last) {
      EXPECT_GT(out->usage.cached_tokens, 0) << "last-token pooling may reuse cached blocks";
    }
    if (round == 1 && pooling != PoolingType::last) {
      EXPECT_EQ(out->usage.cached_tokens, 0) << "mean and CLS pooling need every position computed";
    }
  }
  EXPECT_EQ(got[0], got[1]);
}

INSTANTIATE_TEST_SUITE_P(Pooling, EmbeddingBatching,
                         ::testing::Values(PoolingType::mean, PoolingType::cls, PoolingType::last),
                         [](const ::testing::TestParamInfo<PoolingType>& info) {
                           return std::string(engine::pooling_name(info.param));
                         });

TEST(EmbeddingRequests, Checks) {
  auto m = load_model(model_file("test-llama-embed", "q8_0", PoolingType::mean), 1);
  ASSERT_NE(m, nullptr);
  SchedulerConfig cfg;
  auto s = make_scheduler(*m, cfg);
  ASSERT_NE(s, nullptr);
  const int32_t ctx = s->max_context();
  auto out = std::make_shared<EmbedResult>();

  GenerationRequest two = embed_request({1, 2, 3}, PoolingType::mean, out);
  two.n = 2;
  auto r = s->submit(std::move(two));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::invalid_request);

  // An embedding may fill the whole context (nothing is generated after it)...
  auto full = s->submit(embed_request(random_ids(static_cast<size_t>(ctx), 512, 5), PoolingType::mean, out));
  EXPECT_TRUE(full.ok()) << (full.ok() ? "" : full.error().message);
  run_to_idle(*s);
  EXPECT_EQ(out->finish, FinishReason::stop) << out->error;
  // ... but not exceed it.
  auto over = s->submit(embed_request(random_ids(static_cast<size_t>(ctx) + 1, 512, 5), PoolingType::mean, out));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::context_length_exceeded);

  // A scheduler whose model declares no pooling refuses embedding requests.
  ModelLimits no_embd = m->limits();
  no_embd.n_embd = 0;
  auto plain = Scheduler::create(*m->backend, *m->tokenizer, no_embd, cfg);
  ASSERT_TRUE(plain.ok());
  auto refused = (*plain)->submit(embed_request({1, 2, 3}, PoolingType::mean, out));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::invalid_request);
}

// An aborted embedding ends with `done` and no embedding.
TEST(EmbeddingRequests, AbortEndsWithoutEmbedding) {
  auto m = load_model(model_file("test-qwen3-embed", "q8_0", PoolingType::last), 1);
  ASSERT_NE(m, nullptr);
  SchedulerConfig cfg;
  cfg.max_batched_tokens = 16;
  auto s = make_scheduler(*m, cfg);
  ASSERT_NE(s, nullptr);
  auto out = std::make_shared<EmbedResult>();
  auto id = s->submit(embed_request(random_ids(100, 512, 3), PoolingType::last, out));
  ASSERT_TRUE(id.ok());
  s->step();
  s->abort(*id);
  run_to_idle(*s);
  EXPECT_TRUE(out->done);
  EXPECT_EQ(out->finish, FinishReason::abort);
  EXPECT_TRUE(out->embedding.empty());
}

}  // namespace
}  // namespace llmd::scheduler::test
