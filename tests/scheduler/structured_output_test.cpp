// Structured output end to end through the scheduler with a real (tiny)
// model: whatever the model would write, every answer is a document of the
// schema (checked by an independent validator), for 100 seeds per schema; a
// forced tool call reads back as calls whose arguments validate.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/chat/tool_calls.hpp"
#include "engine/jinja/json.hpp"
#include "engine/structured/schema_compiler.hpp"
#include "engine/structured/tool_call_grammar.hpp"
#include "tests/scheduler/scheduler_harness.hpp"
#include "tests/support/json_schema_validator.hpp"
#include "tests/support/shared_data.hpp"

namespace llmd::scheduler::test {
namespace {

// Bounded schemas: every document fits in far fewer bytes than max_tokens.
const std::vector<std::string>& schemas() {
  static const std::vector<std::string> k = {
      R"({"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":16},"age":{"type":"integer","minimum":1,"maximum":120},"pet":{"enum":["cat","dog","fish"]}},"required":["name","age","pet"],"additionalProperties":false})",
      R"({"type":"object","properties":{"title":{"type":"string","maxLength":24},"tags":{"type":"array","items":{"type":"string","maxLength":8},"minItems":1,"maxItems":3},"done":{"type":"boolean"},"score":{"type":["number","null"],"minimum":-1,"maximum":1}},"required":["title","tags","done","score"],"additionalProperties":false})",
      R"({"type":"object","properties":{"day":{"type":"string","format":"date"},"id":{"type":"string","format":"uuid"},"kind":{"anyOf":[{"type":"object","properties":{"cat":{"const":"a"},"n":{"type":"integer","minimum":0,"maximum":9}},"required":["cat","n"],"additionalProperties":false},{"type":"object","properties":{"cat":{"const":"b"},"s":{"type":"string","maxLength":4}},"required":["cat","s"],"additionalProperties":false}]}},"required":["day","id","kind"],"additionalProperties":false})",
      R"({"type":"array","items":{"$ref":"#/$defs/pt"},"minItems":1,"maxItems":3,"$defs":{"pt":{"type":"object","properties":{"x":{"type":"integer","minimum":-50,"maximum":50},"y":{"type":"integer","minimum":-50,"maximum":50}},"required":["x","y"],"additionalProperties":false}}})",
  };
  return k;
}

constexpr int kSeeds = 100;

std::vector<std::shared_ptr<Recorder>> run_seeds(LoadedModel& m, const engine::structured::GrammarPtr& g,
                                                 const std::string& prompt, int seeds, int32_t max_tokens,
                                                 const std::vector<std::pair<int32_t, float>>& bias = {}) {
  SchedulerConfig cfg;
  cfg.max_seqs = 32;
  auto s = make_scheduler(m, cfg);
  std::vector<std::shared_ptr<Recorder>> recs;
  if (!s) return recs;
  for (int seed = 0; seed < seeds; ++seed) {
    recs.push_back(std::make_shared<Recorder>());
    GenerationRequest r = greedy_request(m.encode(prompt), max_tokens, recs.back());
    r.ignore_eos = false;
    r.sampling.temperature = 1.0f;
    r.sampling.seed = static_cast<uint64_t>(seed);
    r.grammar = g;
    r.sampling.logit_bias = bias;
    EXPECT_TRUE(s->submit(std::move(r)));
  }
  run_to_idle(*s);
  return recs;
}

TEST(StructuredOutput, StoriesSchemasAlwaysValidate) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  for (const std::string& schema : schemas()) {
    Result<engine::structured::GrammarPtr> g = engine::structured::compile_json_schema(schema);
    ASSERT_TRUE(g.ok()) << g.error().message;
    const auto recs = run_seeds(*m, *g, "Once upon a time", kSeeds, 600);
    ASSERT_EQ(recs.size(), static_cast<size_t>(kSeeds));
    for (int seed = 0; seed < kSeeds; ++seed) {
      const auto& r = *recs[static_cast<size_t>(seed)];
      ASSERT_TRUE(r.done());
      EXPECT_EQ(r.protocol_errors(), 0);
      const ChoiceRecord& c = r.choice();
      EXPECT_TRUE(c.finish == FinishReason::stop || c.finish == FinishReason::eos)
          << "seed " << seed << ": " << to_string(c.finish) << "\n  " << c.text;
      EXPECT_EQ(::llmd::test::validate_json(schema, c.text), "") << "seed " << seed << "\n  " << c.text;
    }
  }
}

TEST(StructuredOutput, StoriesJsonObjectIsAnObjectOrCutByLength) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  // The model writes stories: left alone it keeps its strings and objects
  // open for hundreds of tokens. A bias towards closing them makes most
  // answers end within the budget (the mask still decides what is allowed).
  std::vector<std::pair<int32_t, float>> bias;
  for (int32_t id = 0; id < m->tokenizer->n_vocab(); ++id) {
    const std::string_view p = m->tokenizer->token_piece(id);
    if (p == "\"" || p == "}" || p == "]") bias.emplace_back(id, 6.0f);
  }
  ASSERT_FALSE(bias.empty());
  const auto recs = run_seeds(*m, engine::structured::json_object_grammar(), "Once upon a time", 40, 300, bias);
  int complete = 0;
  for (const auto& r : recs) {
    ASSERT_TRUE(r->done());
    const ChoiceRecord& c = r->choice();
    if (c.finish == FinishReason::length) continue;  // a document may be cut by max_tokens, as documented
    ++complete;
    auto v = engine::jinja::parse_json(c.text, false);
    ASSERT_TRUE(v.ok()) << c.text;
    EXPECT_TRUE(v->is_dict()) << c.text;
  }
  EXPECT_GE(complete, 20);
}

TEST(StructuredOutput, StoriesForcedToolCallsReadBack) {
  LLMD_REQUIRE_SHARED_FILE(kStoriesRel);
  auto m = load_model(::llmd::test::shared_file(kStoriesRel));
  ASSERT_TRUE(m);
  const std::string weather =
      R"({"type":"object","properties":{"city":{"type":"string","maxLength":10},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"],"additionalProperties":false})";
  const std::vector<engine::structured::ToolSchema> tools = {{"get_weather", weather},
                                                             {"get_time", R"({"type":"object","properties":{"tz":{"enum":["UTC","CET"]}},"required":["tz"],"additionalProperties":false})"}};
  for (engine::ToolCallFormat f : {engine::ToolCallFormat::hermes, engine::ToolCallFormat::mistral,
                                   engine::ToolCallFormat::llama3}) {
    Result<engine::structured::GrammarPtr> g = engine::structured::tool_call_grammar(f, tools, {0, 1}, 1);
    ASSERT_TRUE(g.ok()) << g.error().message;
    const auto recs = run_seeds(*m, *g, "Tom asked about the weather", 30, 400);
    for (const auto& r : recs) {
      ASSERT_TRUE(r->done());
      const ChoiceRecord& c = r->choice();
      ASSERT_NE(c.finish, FinishReason::length) << c.text;
      const engine::ParsedOutput out = engine::parse_tool_calls(f, c.text);
      ASSERT_EQ(out.calls.size(), 1u) << c.text;
      const std::string& schema = out.calls[0].name == "get_weather" ? weather : tools[1].parameters;
      EXPECT_EQ(::llmd::test::validate_json(schema, out.calls[0].arguments), "") << c.text;
    }
  }
}

}  // namespace
}  // namespace llmd::scheduler::test
