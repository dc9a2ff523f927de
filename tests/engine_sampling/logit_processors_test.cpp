#include "engine/sampling/logit_processors.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace llmd::engine {
namespace {

// Each processor's edits, applied: what the sampler does to a row.
void apply_repetition_penalty(std::vector<float>& l, const std::vector<int32_t>& prompt,
                              const std::vector<int32_t>& generated, float penalty, int32_t window,
                              PenaltyScratch* scratch) {
  std::vector<LogitEdit> edits;
  append_repetition_edits(prompt, generated, penalty, window, l.size(), scratch, &edits);
  apply_logit_edits(l, edits);
}

void apply_presence_frequency(std::vector<float>& l, const std::vector<int32_t>& generated, float presence,
                              float frequency, PenaltyScratch* scratch) {
  std::vector<LogitEdit> edits;
  append_presence_frequency_edits(generated, presence, frequency, l.size(), scratch, &edits);
  apply_logit_edits(l, edits);
}

void apply_logit_bias(std::vector<float>& l, const std::vector<std::pair<int32_t, float>>& bias) {
  std::vector<LogitEdit> edits;
  append_logit_bias_edits(bias, l.size(), &edits);
  apply_logit_edits(l, edits);
}

void apply_logit_processors(std::vector<float>& l, const SamplingParams& p, const std::vector<int32_t>& prompt,
                            const std::vector<int32_t>& generated, PenaltyScratch* scratch) {
  std::vector<LogitEdit> edits;
  logit_edits(p, prompt, generated, l.size(), scratch, &edits);
  apply_logit_edits(l, edits);
}

TEST(RepetitionPenalty, DividesPositiveMultipliesNegativeOncePerId) {
  PenaltyScratch scratch;
  std::vector<float> l = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f};
  const std::vector<int32_t> prompt = {0, 1, 0, 4}, generated = {1, 0};
  apply_repetition_penalty(l, prompt, generated, 2.0f, 0, &scratch);
  EXPECT_EQ(l, (std::vector<float>{1.0f, -2.0f, 0.5f, 3.0f, 0.0f}));
}

TEST(RepetitionPenalty, WindowIsTailOfPromptThenGenerated) {
  PenaltyScratch scratch;
  const std::vector<int32_t> prompt = {3, 2, 0}, generated = {1};
  std::vector<float> l = {2.0f, -1.0f, 4.0f, 6.0f};
  apply_repetition_penalty(l, prompt, generated, 2.0f, 1, &scratch);  // {1}
  EXPECT_EQ(l, (std::vector<float>{2.0f, -2.0f, 4.0f, 6.0f}));
  l = {2.0f, -1.0f, 4.0f, 6.0f};
  apply_repetition_penalty(l, prompt, generated, 2.0f, 3, &scratch);  // {2, 0, 1}
  EXPECT_EQ(l, (std::vector<float>{1.0f, -2.0f, 2.0f, 6.0f}));
  l = {2.0f, -1.0f, 4.0f, 6.0f};
  apply_repetition_penalty(l, prompt, generated, 2.0f, 100, &scratch);  // everything
  EXPECT_EQ(l, (std::vector<float>{1.0f, -2.0f, 2.0f, 3.0f}));
}

TEST(RepetitionPenalty, IgnoresIdsOutsideVocabulary) {
  PenaltyScratch scratch;
  std::vector<float> l = {2.0f, 2.0f};
  const std::vector<int32_t> prompt = {-1, 2, 1000000, 1}, generated = {};
  apply_repetition_penalty(l, prompt, generated, 4.0f, 0, &scratch);
  EXPECT_EQ(l, (std::vector<float>{2.0f, 0.5f}));
}

TEST(PresenceFrequency, OpenAiFormula) {
  PenaltyScratch scratch;
  const float presence = 0.6f, frequency = 0.35f;
  const std::vector<float> base = {1.0f, 2.0f, -0.5f, 0.25f};
  const std::vector<int32_t> prompt = {0, 0, 0}, generated = {2, 3, 2, 2, 7};
  for (int round = 0; round < 2; ++round) {  // the scratch is left clean for the next call
    std::vector<float> l = base;
    apply_presence_frequency(l, generated, presence, frequency, &scratch);
    EXPECT_EQ(l[0], base[0]);  // prompt tokens are not penalized
    EXPECT_EQ(l[1], base[1]);
    EXPECT_EQ(l[2], base[2] - (3.0f * frequency + presence));
    EXPECT_EQ(l[3], base[3] - (1.0f * frequency + presence));
  }
}

TEST(LogitBias, AddsAndAccumulates) {
  std::vector<float> l = {0.0f, 1.0f, 2.0f};
  const std::vector<std::pair<int32_t, float>> bias = {{0, -100.0f}, {2, 5.0f}, {2, 1.5f}, {3, 9.0f}};
  apply_logit_bias(l, bias);
  EXPECT_EQ(l, (std::vector<float>{-100.0f, 1.0f, 8.5f}));
}

// Repetition penalty acts on the model's logits, the additive terms after it:
// with bias first, token 0 would end at (2 + 1) / 2 = 1.5 instead of 2.
TEST(LogitProcessors, DocumentedOrder) {
  PenaltyScratch scratch;
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  p.logit_bias = {{0, 1.0f}, {1, -3.0f}};
  std::vector<float> l = {2.0f, 4.0f, -1.0f};
  const std::vector<int32_t> prompt = {1}, generated = {0, 0};
  apply_logit_processors(l, p, prompt, generated, &scratch);
  EXPECT_EQ(l[0], 2.0f / 2.0f - (2.0f * 0.25f + 0.5f) + 1.0f);
  EXPECT_EQ(l[1], 4.0f / 2.0f - 3.0f);
  EXPECT_EQ(l[2], -1.0f);
}

TEST(LogitProcessors, EditsOutsideTheLogitsChangeNothing) {
  std::vector<float> l = {1.0f, 2.0f};
  const std::vector<LogitEdit> edits = {{-1, EditOp::add, 5.0f}, {2, EditOp::repeat, 2.0f}, {1, EditOp::subtract, 0.5f}};
  apply_logit_edits(l, edits);
  EXPECT_EQ(l, (std::vector<float>{1.0f, 1.5f}));
}

// One edit per distinct id and processor, in the order they apply.
TEST(LogitProcessors, EditsListEachChangeOnceInOrder) {
  PenaltyScratch scratch;
  SamplingParams p;
  p.repetition_penalty = 1.5f;
  p.frequency_penalty = 0.5f;
  p.logit_bias = {{2, 3.0f}, {9, 1.0f}, {2, -1.0f}};
  const std::vector<int32_t> prompt = {1, 1, 0}, generated = {0, 2, 0};
  std::vector<LogitEdit> edits;
  logit_edits(p, prompt, generated, 4, &scratch, &edits);
  ASSERT_EQ(edits.size(), 7u);
  const std::vector<std::pair<int32_t, EditOp>> want = {{1, EditOp::repeat},   {0, EditOp::repeat},
                                                        {2, EditOp::repeat},   {0, EditOp::subtract},
                                                        {2, EditOp::subtract}, {2, EditOp::add},
                                                        {2, EditOp::add}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(edits[i].id, want[i].first) << i;
    EXPECT_EQ(edits[i].op, want[i].second) << i;
  }
  EXPECT_EQ(edits[3].value, 2.0f * 0.5f);
  EXPECT_EQ(edits[6].value, -1.0f);
}

}  // namespace
}  // namespace llmd::engine
