// The schema compiler and the byte matcher: documents accepted and refused,
// schema features refused by name.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/structured/json_matcher.hpp"
#include "engine/structured/schema_compiler.hpp"

namespace llmd::engine::structured {
namespace {

// Whether `text` is a complete document of the schema.
bool accepts(const std::string& schema, const std::string& text) {
  Result<GrammarPtr> g = compile_json_schema(schema);
  EXPECT_TRUE(g.ok()) << schema << ": " << (g.ok() ? "" : g.error().message);
  if (!g) return false;
  JsonMatcher m(*g);
  MatchState s = m.initial();
  return m.feed(&s, text) && m.can_end(s);
}

// Whether `text` can still become a document.
bool viable_prefix(const std::string& schema, const std::string& text) {
  Result<GrammarPtr> g = compile_json_schema(schema);
  if (!g) return false;
  JsonMatcher m(*g);
  MatchState s = m.initial();
  return m.feed(&s, text);
}

struct Case {
  const char* schema;
  const char* text;
  bool ok;
};

TEST(SchemaMatcher, AcceptRejectTable) {
  const std::vector<Case> cases = {
      // types
      {R"({"type":"string"})", R"("hello")", true},
      {R"({"type":"string"})", R"("a\"b\\c\n\u00e9")", true},
      {R"({"type":"string"})", R"("caf\u00e9 ☕")", true},
      {R"({"type":"string"})", R"("\ud800")", false},
      {R"({"type":"string"})", "\"\x01\"", false},
      {R"({"type":"string"})", "\"\xC0\x80\"", false},
      {R"({"type":"string"})", R"(12)", false},
      {R"({"type":"integer"})", R"(-120)", true},
      {R"({"type":"integer"})", R"(1.5)", false},
      {R"({"type":"integer"})", R"(012)", false},
      {R"({"type":"number"})", R"(-0.25e+3)", true},
      {R"({"type":"number"})", R"(1.)", false},
      {R"({"type":"number"})", R"(.5)", false},
      {R"({"type":"boolean"})", R"(false)", true},
      {R"({"type":"null"})", R"(null)", true},
      {R"({"type":["string","null"]})", R"(null)", true},
      {R"({"type":["string","null"]})", R"("x")", true},
      {R"({"type":["string","null"]})", R"(1)", false},
      // bounds
      {R"({"type":"string","minLength":2,"maxLength":3})", R"("ab")", true},
      {R"({"type":"string","minLength":2,"maxLength":3})", R"("a")", false},
      {R"({"type":"string","minLength":2,"maxLength":3})", R"("abcd")", false},
      {R"({"type":"string","maxLength":2})", R"("éé")", true},
      {R"({"type":"integer","minimum":10,"maximum":20})", R"(15)", true},
      {R"({"type":"integer","minimum":10,"maximum":20})", R"(21)", false},
      {R"({"type":"integer","minimum":10,"maximum":20})", R"(9)", false},
      {R"({"type":"integer","minimum":-5,"maximum":-2})", R"(-3)", true},
      {R"({"type":"integer","minimum":-5,"maximum":-2})", R"(-1)", false},
      {R"({"type":"number","exclusiveMinimum":0,"maximum":1})", R"(0)", false},
      {R"({"type":"number","exclusiveMinimum":0,"maximum":1})", R"(0.001)", true},
      {R"({"type":"number","exclusiveMinimum":0,"maximum":1})", R"(1.0)", true},
      {R"({"type":"number","exclusiveMinimum":0,"maximum":1})", R"(1.01)", false},
      {R"({"type":"number","minimum":0})", R"(1e5)", false},  // no exponents under bounds
      // enum / const
      {R"({"enum":["red","green",3,null]})", R"("green")", true},
      {R"({"enum":["red","green",3,null]})", R"(3)", true},
      {R"({"enum":["red","green",3,null]})", R"("blue")", false},
      {R"({"const":{"a":[1,2]}})", R"({"a":[1,2]})", true},
      // objects
      {R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false})",
       R"({"a": 1})", true},
      {R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false})",
       R"({})", false},
      {R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false})",
       R"({"a":1,"b":2})", false},
      {R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false})",
       R"({"a":1,"a":2})", false},
      {R"({"type":"object","properties":{"a":{"type":"integer"}}})", R"({"b":[true,{"c":null}],"a":2})", true},
      {R"({"type":"object","properties":{"a":{"type":"integer"}}})", R"({"a":"x"})", false},
      {R"({"type":"object","additionalProperties":{"type":"string"}})", R"({"x":"1","y":"2"})", true},
      {R"({"type":"object","additionalProperties":{"type":"string"}})", R"({"x":1})", false},
      {R"({"type":"object","properties":{"ab":{"type":"string"},"abc":{"type":"integer"}},"additionalProperties":false})",
       R"({"abc":1,"ab":"x"})", true},
      // arrays
      {R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2})", R"([1, 2])", true},
      {R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2})", R"([])", false},
      {R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2})", R"([1,2,3])", false},
      // anyOf, $ref, recursion
      {R"({"anyOf":[{"type":"object","properties":{"k":{"const":"a"},"v":{"type":"integer"}},"required":["k","v"],"additionalProperties":false},{"type":"object","properties":{"k":{"const":"b"},"v":{"type":"string"}},"required":["k","v"],"additionalProperties":false}]})",
       R"({"k":"b","v":"x"})", true},
      {R"({"anyOf":[{"type":"object","properties":{"k":{"const":"a"},"v":{"type":"integer"}},"required":["k","v"],"additionalProperties":false},{"type":"object","properties":{"k":{"const":"b"},"v":{"type":"string"}},"required":["k","v"],"additionalProperties":false}]})",
       R"({"k":"b","v":1})", false},
      {R"({"$defs":{"node":{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["next"],"additionalProperties":false}},"$ref":"#/$defs/node"})",
       R"({"next":{"next":{"next":null}}})", true},
      // formats
      {R"({"type":"string","format":"date"})", R"("2024-02-29")", true},
      {R"({"type":"string","format":"date"})", R"("2024-13-01")", false},
      {R"({"type":"string","format":"date-time"})", R"("2024-02-29T23:59:60Z")", false},
      {R"({"type":"string","format":"date-time"})", R"("2024-02-29T23:59:59.123+02:00")", true},
      {R"({"type":"string","format":"uuid"})", R"("123e4567-e89b-12d3-a456-426614174000")", true},
      {R"({"type":"string","format":"uuid"})", R"("123e4567e89b12d3a456426614174000")", false},
      {R"({"type":"string","format":"email"})", R"("jane.doe@example.com")", true},
      {R"({"type":"string","format":"email"})", R"("jane@localhost")", false},
      // whitespace: limited per gap, none after the document
      {R"({"type":"object"})", "{\n  \"a\" : 1\n}", true},
      {R"({"type":"object"})", "{          }", false},
      {R"({"type":"object"})", "{} ", false},
  };
  for (const Case& c : cases) EXPECT_EQ(accepts(c.schema, c.text), c.ok) << c.schema << "  <-  " << c.text;
}

TEST(SchemaMatcher, PrefixesThatCannotFinishAreRefusedEarly) {
  // No integer between 10 and 20 starts with 3 or has three digits.
  EXPECT_FALSE(viable_prefix(R"({"type":"integer","minimum":10,"maximum":20})", "3"));
  EXPECT_FALSE(viable_prefix(R"({"type":"integer","minimum":10,"maximum":20})", "100"));
  EXPECT_TRUE(viable_prefix(R"({"type":"integer","minimum":10,"maximum":20})", "1"));
  EXPECT_FALSE(viable_prefix(R"({"type":"integer","minimum":10,"maximum":20})", "-"));
  // A key that no remaining property starts with.
  EXPECT_FALSE(viable_prefix(R"({"properties":{"name":{}},"additionalProperties":false})", R"({"x)"));
  EXPECT_TRUE(viable_prefix(R"({"type":"string","enum":["yes","no"]})", R"("ye)"));
  EXPECT_FALSE(viable_prefix(R"({"type":"string","enum":["yes","no"]})", R"("ya)"));
  EXPECT_TRUE(viable_prefix(R"({"type":"string","format":"date"})", R"("2024-1)"));
  EXPECT_FALSE(viable_prefix(R"({"type":"string","format":"date"})", R"("2024-2)"));
}

TEST(SchemaMatcher, CompleteDocumentsEndTheMatch) {
  Result<GrammarPtr> g = compile_json_schema(R"({"type":"object","properties":{"a":{"type":"integer"}}})");
  ASSERT_TRUE(g.ok());
  JsonMatcher m(*g);
  MatchState s = m.initial();
  ASSERT_TRUE(m.feed(&s, R"({"a":12})"));
  EXPECT_TRUE(m.must_end(s));
  // A number at the top may end or go on.
  Result<GrammarPtr> n = compile_json_schema(R"({"type":"integer"})");
  ASSERT_TRUE(n.ok());
  JsonMatcher mn(*n);
  MatchState sn = mn.initial();
  ASSERT_TRUE(mn.feed(&sn, "12"));
  EXPECT_TRUE(mn.can_end(sn));
  EXPECT_FALSE(mn.must_end(sn));
}

TEST(SchemaCompiler, UnsupportedFeaturesAreNamed) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"({"type":"string","pattern":"^a"})", "schema.pattern"},
      {R"({"type":"integer","multipleOf":3})", "schema.multipleOf"},
      {R"({"type":"object","properties":{"x":{"type":"string","pattern":"a"}}})", "schema.properties.x.pattern"},
      {R"({"type":"array","prefixItems":[{}]})", "schema.prefixItems"},
      {R"({"type":"array","uniqueItems":true})", "schema.uniqueItems"},
      {R"({"type":"object","minProperties":1})", "schema.minProperties"},
      {R"({"not":{"type":"string"}})", "schema.not"},
      {R"({"if":{},"then":{}})", "schema.if"},
      {R"({"type":"string","format":"uri"})", "schema.format"},
      {R"({"allOf":[{"type":"string"},{"maxLength":3}]})", "schema.allOf"},
      {R"({"$ref":"https://example.com/s.json"})", "schema.$ref"},
      {R"({"type":"object","patternProperties":{"a":{}}})", "schema.patternProperties"},
  };
  for (const auto& [schema, where] : cases) {
    Result<GrammarPtr> g = compile_json_schema(schema);
    ASSERT_FALSE(g.ok()) << schema;
    EXPECT_EQ(g.error().code, ErrorCode::unsupported) << schema;
    EXPECT_NE(g.error().message.find(std::string("'") + where), std::string::npos) << g.error().message;
  }
}

TEST(SchemaCompiler, InvalidSchemasAreRefused) {
  for (const char* schema : {R"({"type":"strin"})", R"({"type":"string","minLength":3,"maxLength":2})",
                             R"({"type":"integer","minimum":1.2,"maximum":1.8})", R"({"enum":[]})",
                             R"({"type":"string","enum":[1,2]})", R"({"$ref":"#/$defs/missing"})", R"([1])",
                             R"({"type":"array","minItems":-1})", R"({"type":)"}) {
    Result<GrammarPtr> g = compile_json_schema(schema);
    ASSERT_FALSE(g.ok()) << schema;
    EXPECT_EQ(g.error().code, ErrorCode::invalid_argument) << schema << ": " << g.error().message;
  }
}

}  // namespace
}  // namespace llmd::engine::structured
