// Token masks: the trie walk agrees with checking every token on its own, and
// random generation under the mask always ends in a document that an
// independent validator accepts; tool-call grammars read back as tool calls.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/chat/tool_calls.hpp"
#include "engine/sampling/sampler.hpp"
#include "engine/structured/grammar_constraint.hpp"
#include "engine/structured/schema_compiler.hpp"
#include "engine/structured/tool_call_grammar.hpp"
#include "tests/support/json_schema_validator.hpp"

namespace llmd::engine::structured {
namespace {

// Every single byte, then multi-byte tokens like a BPE vocabulary has, then EOS.
std::shared_ptr<const VocabTrie> test_vocab() {
  std::vector<std::string> pieces;
  for (int b = 0; b < 256; ++b) pieces.push_back(std::string(1, static_cast<char>(b)));
  for (const char* p : {"\"", "\":", "\": ", "\", \"", "{\"", "\"}", "}}", "]}", "[{", "true", "false", "null", "nul",
                        " \"", ", ", "12", "2024", "-0", "0.5", "e+", "the", " the", "name", "age", "é", "\xE2\x98",
                        "\x95", "\\n", "\\u00", "ab", "abc", "<tool_call>", "</tool", "_call>", "\n", "@example",
                        ".com", "T12", ":00Z", "-4", "4-", "[TOOL_CALLS]", "arguments", "\"name\"", "\u2581x", ""}) {
    pieces.push_back(p);
  }
  const auto eos = static_cast<int32_t>(pieces.size());
  pieces.push_back("</s>");  // its text is ignored: it is listed as end-of-generation
  return std::make_shared<VocabTrie>(pieces, std::vector<int32_t>{eos});
}

bool bit(std::span<const uint64_t> bits, int32_t id) { return bits[static_cast<size_t>(id) / 64] >> (id % 64) & 1; }

// Generates with random choices among the allowed tokens (structural bytes
// and end of text favoured so that documents finish); returns the text, or
// fails the test if the mask ever leaves nothing to choose.
std::string generate(const GrammarPtr& g, const std::shared_ptr<const VocabTrie>& vocab, uint64_t seed,
                     bool check_brute_force) {
  GrammarConstraint c(g, vocab);
  JsonMatcher m(g);
  MatchState state = m.initial();
  std::mt19937_64 rng(seed);
  std::string text;
  for (int step = 0; step < 20000 && !c.finished(); ++step) {
    const std::span<const uint64_t> allowed = c.allowed();
    std::vector<int32_t> ids, favoured;
    for (int32_t id = 0; id < vocab->n_vocab(); ++id) {
      if (!bit(allowed, id)) continue;
      ids.push_back(id);
      const std::string& p = vocab->piece(id);
      if (vocab->is_eog(id) || (!p.empty() && std::string_view("\"}],0123456789tfn").find(p[0]) != std::string::npos)) {
        favoured.push_back(id);
      }
      if (check_brute_force) {
        // The walk's verdict for this token equals feeding it alone.
        MatchState s = state;
        const bool ok = vocab->is_eog(id) ? m.can_end(state) : (!p.empty() && m.feed(&s, p));
        EXPECT_TRUE(ok) << "allowed but refused alone: token " << id << " after " << text;
      }
    }
    if (check_brute_force) {
      for (int32_t id = 0; id < vocab->n_vocab(); ++id) {
        if (bit(allowed, id)) continue;
        MatchState s = state;
        const std::string& p = vocab->piece(id);
        const bool ok = vocab->is_eog(id) ? m.can_end(state) : (!p.empty() && m.feed(&s, p));
        EXPECT_FALSE(ok) << "masked but fine alone: token " << id << " after " << text;
      }
    }
    if (ids.empty()) {
      ADD_FAILURE() << "no token may follow " << text;
      return text;
    }
    const std::vector<int32_t>& pool = (!favoured.empty() && rng() % 3 == 0) ? favoured : ids;
    const int32_t id = pool[rng() % pool.size()];
    EXPECT_TRUE(c.accept(id));
    if (vocab->is_eog(id)) break;
    text += vocab->piece(id);
    EXPECT_TRUE(m.feed(&state, vocab->piece(id)));
  }
  EXPECT_TRUE(c.finished()) << "unfinished: " << text;
  return text;
}

const std::vector<std::string>& schemas() {
  static const std::vector<std::string> k = {
      R"({"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":150},"tags":{"type":"array","items":{"type":"string","maxLength":5},"maxItems":3}},"required":["name","age"],"additionalProperties":false})",
      R"({"type":"object","properties":{"when":{"type":"string","format":"date-time"},"id":{"type":"string","format":"uuid"},"mail":{"type":"string","format":"email"},"day":{"type":"string","format":"date"}},"required":["when","id","mail","day"],"additionalProperties":false})",
      R"({"type":"object","properties":{"color":{"enum":["red","green","blue"]},"score":{"type":"number","exclusiveMinimum":0,"maximum":1},"ok":{"type":["boolean","null"]}},"required":["color","score","ok"],"additionalProperties":false})",
      R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer","minimum":-9,"maximum":9},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"],"additionalProperties":false}},"$ref":"#/$defs/node"})",
      R"({"type":"array","items":{"anyOf":[{"type":"integer","minimum":100,"maximum":120},{"type":"string","minLength":2,"maxLength":2}]},"minItems":2,"maxItems":4})",
  };
  return k;
}

TEST(TokenMask, RandomGenerationAlwaysValidates) {
  const auto vocab = test_vocab();
  for (const std::string& schema : schemas()) {
    Result<GrammarPtr> g = compile_json_schema(schema);
    ASSERT_TRUE(g.ok()) << g.error().message;
    for (uint64_t seed = 0; seed < 40; ++seed) {
      const std::string text = generate(*g, vocab, seed, /*check_brute_force=*/seed == 0);
      EXPECT_EQ(test::validate_json(schema, text), "") << schema << "\n  " << text;
    }
  }
}

TEST(TokenMask, AnyObject) {
  const auto vocab = test_vocab();
  const GrammarPtr g = json_object_grammar();
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const std::string text = generate(g, vocab, seed, seed == 0);
    auto v = jinja::parse_json(text, false);
    ASSERT_TRUE(v.ok()) << text;
    EXPECT_TRUE(v->is_dict()) << text;
  }
}

TEST(TokenMask, EndOfTextOnlyWhenComplete) {
  const auto vocab = test_vocab();
  Result<GrammarPtr> g = compile_json_schema(R"({"type":"integer"})");
  ASSERT_TRUE(g.ok());
  GrammarConstraint c(*g, vocab);
  const int32_t eos = vocab->eog()[0];
  EXPECT_FALSE(bit(c.allowed(), eos));
  EXPECT_FALSE(c.accept(eos));
  ASSERT_TRUE(c.accept('4'));
  EXPECT_TRUE(bit(c.allowed(), eos));
  EXPECT_FALSE(c.finished());
  EXPECT_FALSE(c.accept('x'));
  EXPECT_TRUE(c.accept(eos));
  EXPECT_TRUE(c.finished());
}

// The sampler applies the mask after logit_bias: a biased token that the
// grammar does not allow is never drawn, greedy or not.
TEST(TokenMask, SamplerNeverDrawsAMaskedToken) {
  const auto vocab = test_vocab();
  Result<GrammarPtr> g = compile_json_schema(R"({"enum":["yes","no"]})");
  ASSERT_TRUE(g.ok());
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> logit(-3.0f, 3.0f);
  for (float temperature : {0.0f, 1.0f}) {
    for (uint64_t seed = 0; seed < 50; ++seed) {
      SamplingParams p;
      p.temperature = temperature;
      p.seed = seed;
      p.logit_bias = {{'x', 100.0f}, {'{', 100.0f}};
      Sampler sampler(p);
      GrammarConstraint c(*g, vocab);
      std::string text;
      std::vector<int32_t> generated;
      while (!c.finished() && generated.size() < 20) {
        std::vector<float> logits(static_cast<size_t>(vocab->n_vocab()));
        for (float& l : logits) l = logit(rng);
        const SampledToken t = sampler.sample(logits, {}, generated, &c);
        ASSERT_TRUE(bit(c.allowed(), t.id)) << "token " << t.id << " after " << text;
        ASSERT_TRUE(c.accept(t.id));
        generated.push_back(t.id);
        if (!vocab->is_eog(t.id)) text += vocab->piece(t.id);
      }
      const std::string doc = text.substr(std::min(text.size(), text.find_first_not_of(" \t\n\r")));
      EXPECT_TRUE(doc == "\"yes\"" || doc == "\"no\"") << text;
    }
  }
}

TEST(ToolCallGrammar, EachFormatReadsBackAsValidCalls) {
  const auto vocab = test_vocab();
  const std::string weather = R"({"type":"object","properties":{"city":{"type":"string","maxLength":8},"unit":{"enum":["c","f"]}},"required":["city","unit"],"additionalProperties":false})";
  const std::vector<ToolSchema> tools = {{"get_weather", weather}, {"get_time", ""}};
  for (ToolCallFormat f : {ToolCallFormat::hermes, ToolCallFormat::mistral, ToolCallFormat::llama3,
                           ToolCallFormat::firefunction, ToolCallFormat::functionary31, ToolCallFormat::functionary32,
                           ToolCallFormat::command_r, ToolCallFormat::command_r7b, ToolCallFormat::deepseek_r1}) {
    for (int32_t max_calls : {1, 3}) {
      Result<GrammarPtr> g = tool_call_grammar(f, tools, {0, 1}, max_calls);
      ASSERT_TRUE(g.ok()) << g.error().message;
      for (uint64_t seed = 0; seed < 20; ++seed) {
        const std::string text = generate(*g, vocab, seed, seed == 0);
        const ParsedOutput out = parse_tool_calls(f, text);
        ASSERT_FALSE(out.calls.empty()) << tool_call_format_name(f) << ": " << text;
        EXPECT_TRUE(out.content.empty()) << text;
        EXPECT_LE(out.calls.size(), static_cast<size_t>(f == ToolCallFormat::llama3 ? 1 : max_calls)) << text;
        for (const ParsedToolCall& call : out.calls) {
          if (call.name == "get_weather") {
            EXPECT_EQ(test::validate_json(weather, call.arguments), "") << text;
          } else {
            EXPECT_EQ(call.name, "get_time");
            auto v = jinja::parse_json(call.arguments, false);
            EXPECT_TRUE(v.ok() && v->is_dict()) << text;
          }
        }
      }
    }
  }
  // A named function: only that one.
  Result<GrammarPtr> named = tool_call_grammar(ToolCallFormat::hermes, tools, {1}, 1);
  ASSERT_TRUE(named.ok());
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const ParsedOutput out = parse_tool_calls(ToolCallFormat::hermes, generate(*named, vocab, seed, false));
    ASSERT_EQ(out.calls.size(), 1u);
    EXPECT_EQ(out.calls[0].name, "get_time");
  }
}

}  // namespace
}  // namespace llmd::engine::structured
