// What a request asks for: several choices sharing a prompt, seeded
// sampling, logprobs, stop strings and ids, max_tokens, the context limit,
// end-of-generation, and the submit errors the API maps to HTTP statuses.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/scheduler/scheduler_harness.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::scheduler::test {
namespace {

class RequestOptions : public ::testing::Test {
 protected:
  void SetUp() override {
    LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
    m_ = load_model(::llmd::test::shared_file(kStoriesRel));
    ASSERT_TRUE(m_);
  }
  std::unique_ptr<Scheduler> sched(SchedulerConfig cfg = {}) { return make_scheduler(*m_, cfg); }
  // Runs one request alone and returns its recorder.
  std::shared_ptr<Recorder> run(Scheduler& s, GenerationRequest req, int n = 1) {
    auto rec = std::make_shared<Recorder>(n);
    req.on_event = rec->sink();
    auto id = s.submit(std::move(req));
    EXPECT_TRUE(id) << (id ? "" : id.error().message);
    run_to_idle(s);
    EXPECT_TRUE(rec->done());
    EXPECT_EQ(rec->protocol_errors(), 0);
    return rec;
  }
  std::unique_ptr<LoadedModel> m_;
};

TEST_F(RequestOptions, ChoicesShareThePromptBlocks) {
  // 40 prompt tokens: two full blocks and a tail of 8.
  std::vector<int32_t> prompt = m_->encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day");
  prompt.resize(40);
  const auto alone = generate_alone(*m_, prompt, 20);
  auto s = sched();
  auto rec = std::make_shared<Recorder>(3);
  auto req = greedy_request(prompt, 20, rec);
  req.n = 3;
  ASSERT_TRUE(s->submit(std::move(req)));
  ASSERT_TRUE(s->step());  // computes the prompt and forks
  // Two shared blocks, plus a copied tail block per choice.
  EXPECT_EQ(s->stats().kv_blocks_used, 2 + 3);
  EXPECT_EQ(s->stats().running, 3);
  run_to_idle(*s);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(rec->choice(i).ids, alone) << "choice " << i;
    EXPECT_EQ(rec->choice(i).finish, FinishReason::length);
  }
  EXPECT_EQ(rec->usage().prompt_tokens, 40);
  EXPECT_EQ(rec->usage().completion_tokens, 60);
  EXPECT_EQ(s->stats().kv_blocks_used, 0);
}

TEST_F(RequestOptions, ChoicesUnderMemoryPressureStillMatch) {
  // Four blocks for a 40-token prompt (three blocks) and three choices: at
  // the fork only one choice gets a tail block; the other waits and
  // recomputes, and growth forces preemptions.
  std::vector<int32_t> prompt = m_->encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day");
  prompt.resize(40);
  const auto alone = generate_alone(*m_, prompt, 20);
  SchedulerConfig cfg;
  cfg.kv_blocks = 4;
  cfg.max_seqs = 3;
  cfg.max_choices = 3;
  auto s = sched(cfg);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->max_context(), 64);
  auto rec = std::make_shared<Recorder>(3);
  auto req = greedy_request(prompt, 20, rec);
  req.n = 3;
  ASSERT_TRUE(s->submit(std::move(req)));
  ASSERT_TRUE(s->step());
  EXPECT_EQ(s->stats().running, 2);
  EXPECT_EQ(s->stats().waiting, 1);
  run_to_idle(*s);
  ASSERT_TRUE(rec->done());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rec->choice(i).ids, alone) << "choice " << i;
  EXPECT_GT(s->stats().preemptions, 0u);
  EXPECT_EQ(s->stats().kv_blocks_used, 0);
  EXPECT_EQ(rec->protocol_errors(), 0);
}

TEST_F(RequestOptions, SeededChoicesEqualSingleRequestsWithSeedPlusIndex) {
  const auto prompt = m_->encode("The little dog");
  auto s = sched();
  auto sampled = [&](uint64_t seed, int n) {
    GenerationRequest r;
    r.prompt = prompt;
    r.sampling.temperature = 0.9f;
    r.sampling.top_p = 0.95f;
    r.sampling.seed = seed;
    r.max_tokens = 30;
    r.ignore_eos = true;
    r.n = n;
    return run(*s, std::move(r), n);
  };
  auto both = sampled(42, 2);
  auto first = sampled(42, 1);
  auto second = sampled(43, 1);
  EXPECT_EQ(both->choice(0).ids, first->choice().ids);
  EXPECT_EQ(both->choice(1).ids, second->choice().ids);
  EXPECT_NE(both->choice(0).ids, both->choice(1).ids);
  auto again = sampled(42, 2);
  EXPECT_EQ(again->choice(1).ids, both->choice(1).ids);
}

TEST_F(RequestOptions, LogprobsComeWithEveryToken) {
  auto s = sched();
  GenerationRequest r;
  r.prompt = m_->encode("Once upon a time");
  r.sampling.temperature = 0.0f;
  r.sampling.n_logprobs = 3;
  r.max_tokens = 8;
  auto rec = std::make_shared<Recorder>();
  std::vector<GeneratedToken> seen;
  r.on_event = [&seen, sink = rec->sink()](StreamEvent&& ev) {
    for (const auto& t : ev.tokens) seen.push_back(t);
    sink(std::move(ev));
  };
  ASSERT_TRUE(s->submit(std::move(r)));
  run_to_idle(*s);
  ASSERT_EQ(seen.size(), 8u);
  for (const auto& t : seen) {
    ASSERT_EQ(t.top_logprobs.size(), 3u);
    EXPECT_EQ(t.top_logprobs[0].id, t.id);  // greedy picks the most likely
    EXPECT_FLOAT_EQ(t.top_logprobs[0].logprob, t.logprob);
    EXPECT_LE(t.logprob, 0.0f);
    EXPECT_GE(t.top_logprobs[0].logprob, t.top_logprobs[1].logprob);
  }
}

TEST_F(RequestOptions, StopStringsEndTheChoiceAndNeverShow) {
  auto s = sched();
  auto req = [&](std::vector<std::string> stops) {
    GenerationRequest r;
    r.prompt = m_->encode("Once upon a time");
    r.sampling.temperature = 0.0f;
    r.max_tokens = 64;
    r.stop = std::move(stops);
    return r;
  };
  auto plain = run(*s, req({}));
  ASSERT_EQ(plain->choice().text.rfind(", there was a little girl named Lily.", 0), 0u) << plain->choice().text;

  auto stopped = run(*s, req({"zebra", "named Li"}));
  EXPECT_EQ(stopped->choice().text, ", there was a little girl ");
  EXPECT_EQ(stopped->choice().finish, FinishReason::stop);
  EXPECT_EQ(stopped->choice().stop_index, 1);
  EXPECT_LT(stopped->choice().ids.size(), 12u);

  // A stop id: generation ends at it and it is not part of the output.
  const int32_t third = plain->choice().ids[2];
  GenerationRequest r = req({});
  r.stop_token_ids = {third};
  auto by_id = run(*s, std::move(r));
  EXPECT_EQ(by_id->choice().finish, FinishReason::stop);
  EXPECT_EQ(by_id->choice().ids, std::vector<int32_t>(plain->choice().ids.begin(), plain->choice().ids.begin() + 2));
  EXPECT_EQ(by_id->usage().completion_tokens, 3);
}

TEST_F(RequestOptions, EndOfGenerationAndLimits) {
  // A logit bias makes the end-of-sequence token certain: the choice ends at
  // once, the token counts as generated but is not part of the output.
  auto s = sched();
  const int32_t eos_id = m_->tokenizer->eos_id();
  ASSERT_GE(eos_id, 0);
  ASSERT_TRUE(m_->tokenizer->is_eog(eos_id));
  GenerationRequest r;
  r.prompt = m_->encode("Once upon a time");
  r.sampling.temperature = 0.0f;
  r.sampling.logit_bias = {{eos_id, 100.0f}};
  r.max_tokens = 10;
  auto eos = run(*s, r);
  EXPECT_EQ(eos->choice().finish, FinishReason::eos);
  EXPECT_TRUE(eos->choice().ids.empty());
  EXPECT_EQ(eos->usage().completion_tokens, 1);
  // With ignore_eos it keeps going to max_tokens.
  r.ignore_eos = true;
  auto past = run(*s, r);
  EXPECT_EQ(past->choice().finish, FinishReason::length);
  EXPECT_EQ(past->choice().ids, std::vector<int32_t>(10, eos_id));
  EXPECT_EQ(past->usage().completion_tokens, 10);

  // max_tokens 0 runs to the (configured) context limit.
  SchedulerConfig cfg;
  cfg.max_context = 48;
  auto small = sched(cfg);
  EXPECT_EQ(small->max_context(), 48);
  GenerationRequest full = greedy_request(m_->encode("Once upon a time"), 0, std::make_shared<Recorder>());
  auto ctx = run(*small, full);
  EXPECT_EQ(ctx->choice().finish, FinishReason::length);
  EXPECT_EQ(ctx->usage().prompt_tokens + ctx->usage().completion_tokens, 48);
}

TEST_F(RequestOptions, SubmitErrors) {
  SchedulerConfig cfg;
  cfg.max_context = 64;
  cfg.max_waiting = 3;
  cfg.max_waiting_per_team = 2;
  cfg.max_choices = 2;
  auto s = sched(cfg);
  auto rec = std::make_shared<Recorder>();
  auto code = [&](GenerationRequest r) {
    auto id = s->submit(std::move(r));
    return id ? std::string("ok") : std::string(id.error().code_name());
  };
  const std::vector<int32_t> p = {1, 403, 407};
  EXPECT_EQ(code(greedy_request(std::vector<int32_t>(64, 5), 0, rec)), "context_length_exceeded");
  EXPECT_EQ(code(greedy_request(std::vector<int32_t>(60, 5), 5, rec)), "context_length_exceeded");
  EXPECT_EQ(code(greedy_request({}, 5, rec)), "invalid_request");
  EXPECT_EQ(code(greedy_request({1, 512}, 5, rec)), "invalid_request");
  EXPECT_EQ(code(greedy_request({1, -1}, 5, rec)), "invalid_request");
  auto r = greedy_request(p, 5, rec);
  r.n = 3;
  EXPECT_EQ(code(std::move(r)), "invalid_request");
  r = greedy_request(p, -1, rec);
  EXPECT_EQ(code(std::move(r)), "invalid_request");
  r = greedy_request(p, 5, rec);
  r.team_weight = 0;
  EXPECT_EQ(code(std::move(r)), "invalid_request");
  r = greedy_request(p, 5, rec);
  r.sampling.temperature = 5.0f;
  EXPECT_EQ(code(std::move(r)), "invalid_parameter");
  r = greedy_request(p, 5, rec);
  r.on_event = nullptr;
  EXPECT_EQ(code(std::move(r)), "invalid_request");

  // Queue limits: two per team, three in all.
  std::vector<std::shared_ptr<Recorder>> recs;
  auto queued = [&](const std::string& team) {
    recs.push_back(std::make_shared<Recorder>());
    return code(greedy_request(p, 4, recs.back(), team));
  };
  EXPECT_EQ(queued("a"), "ok");
  EXPECT_EQ(queued("a"), "ok");
  EXPECT_EQ(queued("a"), "queue_full");
  EXPECT_EQ(queued("b"), "ok");
  EXPECT_EQ(queued("c"), "queue_full");
  EXPECT_GE(s->retry_after_seconds(), 1);
  EXPECT_LE(s->retry_after_seconds(), 60);
  run_to_idle(*s);
  EXPECT_EQ(queued("c"), "ok");  // admitted requests leave the queue
  run_to_idle(*s);
  int done = 0;
  for (auto& x : recs) done += x->done() ? 1 : 0;
  EXPECT_EQ(done, 4);  // every accepted request, none of the refused ones
  const auto st = s->stats();
  EXPECT_EQ(st.requests_rejected, 12u);
  EXPECT_EQ(st.requests_finished, 4u);

  // After stop() everything pending ends and new work is refused.
  auto pending = std::make_shared<Recorder>();
  ASSERT_TRUE(s->submit(greedy_request(p, 4, pending)));
  s->stop();
  EXPECT_TRUE(pending->done());
  EXPECT_EQ(pending->choice().finish, FinishReason::abort);
  EXPECT_EQ(code(greedy_request(p, 4, rec)), "shutting_down");
}

}  // namespace
}  // namespace llmd::scheduler::test

namespace llmd::scheduler::test {
namespace {

TEST(SchedulerConfigCheck, BadSettingsAreRefusedWithAClearError) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  auto error_of = [&](SchedulerConfig c, ModelLimits limits) {
    auto s = Scheduler::create(*m->backend, *m->tokenizer, limits, c);
    return s ? std::string("ok") : std::string(s.error().code_name()) + ": " + s.error().message;
  };
  const ModelLimits ok = m->limits();
  SchedulerConfig c;
  EXPECT_EQ(error_of(c, ok), "ok");
  c.max_seqs = 0;
  EXPECT_NE(error_of(c, ok).find("max_seqs"), std::string::npos);
  c = {};
  c.max_batched_tokens = 4;
  c.max_seqs = 8;
  EXPECT_NE(error_of(c, ok).find("max_batched_tokens"), std::string::npos);
  c = {};
  c.max_choices = 100;
  EXPECT_NE(error_of(c, ok).find("max_choices"), std::string::npos);
  c = {};
  c.block_size = 0;
  EXPECT_NE(error_of(c, ok).find("block_size"), std::string::npos);
  c = {};
  c.kv_blocks = -1;
  EXPECT_NE(error_of(c, ok).find("kv_blocks"), std::string::npos);
  c = {};
  c.weights.prompt_token = -1;
  EXPECT_NE(error_of(c, ok).find("weights"), std::string::npos);
  c = {};
  EXPECT_NE(error_of(c, ModelLimits{1, ok.n_vocab}).find("context"), std::string::npos);
  // A memory budget sizes the pool from the backend's block size.
  c = {};
  c.kv_bytes = m->backend->kv_block_bytes(engine::KvCacheShape{0, 16, engine::KvDtype::f16}) * 10;
  auto s = Scheduler::create(*m->backend, *m->tokenizer, ok, c);
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->stats().kv_blocks_total, 10);
  EXPECT_EQ((*s)->max_context(), 160);
}

}  // namespace
}  // namespace llmd::scheduler::test
