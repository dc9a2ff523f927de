// Hostile templates are stopped with a clear error, never a crash, a hang or
// a leak: endless and huge loops, huge outputs and values, deep recursion,
// deep nesting, slow renders, self-referencing namespaces, bad syntax.
#include <gtest/gtest.h>

#include <chrono>

#include "engine/jinja/template.hpp"

namespace llmd::engine::jinja {
namespace {

Error render_error(const std::string& source, const Limits& limits = {}) {
  auto t = Template::parse(source, "hostile.jinja");
  if (!t.ok()) return t.error();
  auto out = t->render(Dict{}, limits);
  EXPECT_FALSE(out.ok()) << source << " rendered " << out->text.size() << " bytes";
  return out.ok() ? Error() : out.error();
}

// The time bound is raised so that the bound under test is the one that
// stops the render even on a slow (sanitizer) build; tests of the time bound
// pass their own.
Limits roomy_time() {
  Limits l;
  l.max_time = std::chrono::milliseconds(120000);
  return l;
}

void expect_limit(const std::string& source, const char* says, const Limits& limits = roomy_time()) {
  const auto start = std::chrono::steady_clock::now();
  const Error e = render_error(source, limits);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_EQ(e.code, ErrorCode::chat_template_limit) << source << ": " << e.message;
  EXPECT_NE(e.message.find("hostile.jinja"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find(says), std::string::npos) << source << ": " << e.message;
  EXPECT_LT(ms.count(), 60000) << source << " took " << ms.count() << " ms to stop";
}

TEST(JinjaLimits, LoopsAreBounded) {
  expect_limit("{% for i in range(100000000000) %}x{% endfor %}", "iteration limit");
  expect_limit("{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{% endfor %}{% endfor %}{% endfor %}",
               "loop iterations");
  // The same loop with a small iteration budget.
  Limits small = roomy_time();
  small.max_iterations = 5000;
  expect_limit("{% for a in range(100) %}{% for b in range(100) %}{% endfor %}{% endfor %}", "more than 5000", small);
}

TEST(JinjaLimits, OutputAndValuesAreBounded) {
  expect_limit("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "output exceeds");
  expect_limit("{{ 'x' * 100000000000 }}", "exceeds the limit");
  expect_limit("{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
               "exceeds the limit");
  expect_limit("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
               "exceeds the limit");
  expect_limit("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s | replace('a', ns.s) %}{% endfor %}",
               "exceeds the limit");
  // Many large strings kept alive: the allocation budget stops it.
  expect_limit("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = ns.l + [('x' * 1000000) ~ i] %}"
               "{% endfor %}",
               "built exceed");
  Limits tiny = roomy_time();
  tiny.max_output_bytes = 10;
  expect_limit("{{ 'abcdefghijk' }}", "output exceeds 10 bytes", tiny);
  expect_limit("{% set x %}{% for i in range(20) %}a{% endfor %}{% endset %}", "output exceeds 10 bytes", tiny);
}

TEST(JinjaLimits, RecursionIsBounded) {
  expect_limit("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "deeper than");
  expect_limit("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}", "deeper than");
  // Wide recursion: each call fans out; the iteration budget stops it.
  expect_limit("{% macro f(n) %}{% if n < 40 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}",
               "macro calls");
}

TEST(JinjaLimits, SharedAndDeepValuesAreBounded) {
  // A list holding the same list twice, 100 levels deep: 2^100 items to print.
  const std::string dag =
      "{% set ns = namespace(x=[1]) %}{% for i in range(100) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}";
  expect_limit(dag + "{{ ns.x }}", "output exceeds");
  expect_limit(dag + "{{ ns.x | tojson }}", "exceeds");
  expect_limit(dag + "{{ ns.x ~ '' }}", "exceeds the limit");
  auto eq = Template::parse(dag + "{{ ns.x == ns.x }}{{ [ns.x] == [ns.x] }}", "hostile.jinja");
  ASSERT_TRUE(eq.ok());
  auto same = eq->render(Dict{});
  ASSERT_TRUE(same.ok()) << same.error().message;
  EXPECT_EQ(same->text, "TrueTrue");
  // Nesting grows one level per iteration: refused past the value depth bound.
  expect_limit("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}",
               "nested deeper than");
  expect_limit("{% set ns = namespace(d={}) %}{% for i in range(100000) %}{% set ns.d = {'a': ns.d} %}{% endfor %}",
               "nested deeper than");
  // A chain of 300000 namespaces is freed without deep recursion.
  auto chain = Template::parse(
      "{% set ns = namespace(x=none) %}{% for i in range(300000) %}{% set ns.x = namespace(x=ns.x) %}{% endfor %}ok",
      "chain.jinja");
  ASSERT_TRUE(chain.ok());
  Limits roomy;
  roomy.max_time = std::chrono::milliseconds(60000);
  auto out = chain->render(Dict{}, roomy);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->text, "ok");
}

TEST(JinjaLimits, SlowRendersAreStoppedInTime) {
  Limits quick;
  quick.max_iterations = 1'000'000'000;
  quick.max_time = std::chrono::milliseconds(50);
  expect_limit("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", "longer than 50 ms",
               quick);
  // Long single operations check the clock too.
  expect_limit("{{ range(1000000) | unique | list | length }}", "longer than 50 ms", quick);
  expect_limit("{{ range(1000000) | map('string') | sort | list | length }}", "longer than 50 ms", quick);
}

TEST(JinjaLimits, DeepNestingIsASyntaxError) {
  for (const std::string& source :
       {"{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}", "{{ " + std::string(5000, '[') + " }}",
        std::string("{{ ") + [] {
          std::string s;
          for (int i = 0; i < 5000; ++i) s += "not ";
          return s;
        }() + "x }}",
        [] {
          std::string s;
          for (int i = 0; i < 5000; ++i) s += "{% if x %}";
          return s;
        }(),
        "{{ " + [] {
          std::string s = "x";
          for (int i = 0; i < 5000; ++i) s += "|trim";
          return s;
        }() + " }}",
        "{{ -" + std::string(5000, '-') + "1 }}"}) {
    auto t = Template::parse(source, "hostile.jinja");
    if (t.ok()) {
      // Accepted shapes (a long filter chain is flat) still render within the limits.
      auto out = t->render(Dict{});
      if (!out.ok()) {
        EXPECT_EQ(out.error().code, ErrorCode::chat_template_limit) << out.error().message;
      }
      continue;
    }
    EXPECT_EQ(t.error().code, ErrorCode::chat_template_syntax) << t.error().message;
    EXPECT_NE(t.error().message.find("hostile.jinja"), std::string::npos);
  }
}

// Parsing is linear in the source: a megabyte of whitespace-trimming tags
// parses in moments (work per tag must not depend on what follows it).
TEST(JinjaLimits, LongTemplatesParseInLinearTime) {
  std::string src;
  for (int i = 0; i < 100000; ++i) src += "{{- x -}}  \n  {%- if y -%} {%- endif -%}";
  const auto start = std::chrono::steady_clock::now();
  auto t = Template::parse(src, "long.jinja");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_LT(ms.count(), 20000) << "parsing " << src.size() << " bytes took " << ms.count() << " ms";
}

TEST(JinjaLimits, SelfReferencesNeitherHangNorLeak) {
  auto t = Template::parse(
      "{% set ns = namespace() %}{% set ns.me = ns %}{% set ns.l = [ns, ns] %}{{ ns }}{{ ns.me.me.l | length }}"
      "{{ ns == ns.me }}",
      "self.jinja");
  ASSERT_TRUE(t.ok()) << t.error().message;
  auto out = t->render(Dict{});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->text, "<Namespace>2True");
  // tojson of a namespace is an error, not endless recursion.
  auto j = Template::parse("{% set ns = namespace() %}{% set ns.me = ns %}{{ [ns] | tojson }}", "self.jinja");
  ASSERT_TRUE(j.ok());
  EXPECT_FALSE(j->render(Dict{}).ok());
}

TEST(JinjaLimits, GarbageNeverCrashes) {
  // Every prefix of a real-looking template, and bytes that are not UTF-8.
  const std::string src =
      "{%- set ns = namespace(x=0) -%}{% for m in messages if m.role != 'x' %}{{ m['content'] | trim ~ '\\n' }}"
      "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}{% endfor %}{# c #}\xff\xfe";
  for (size_t n = 0; n <= src.size(); ++n) {
    auto t = Template::parse(src.substr(0, n), "prefix.jinja");
    if (t.ok()) (void)t->render(Dict{});
  }
}

// Random token soup, seeded: every template either fails to parse or renders
// (or fails) cleanly within small bounds; under the sanitizers this also
// checks memory safety of every path the soup reaches.
TEST(JinjaLimits, RandomTemplatesNeverCrash) {
  const char* const pieces[] = {
      "for ", " in ", "if ", "elif ", "else", "endif", "endfor",
      "set ", "endset", "macro ", "endmacro", "filter ", "endfilter", "break", "continue", "x", "y", "m", "ns",
      "messages", "loop", ".index", ".content", "['role']", "[0]", "[1:]", "[::-1]", "(", ")", "[", "]", "{", "}",
      ", ", ": ", " = ", " + ", " - ", " * ", " / ", " // ", " % ", " ** ", " ~ ", " == ", " < ", " and ", " or ",
      " not ", " is ", "defined", "none", "string", "mapping", " | ", "trim", "tojson", "length", "items", "list",
      "join(',')", "map(attribute='role')", "selectattr('role')", "default(1)", "first", "unique", "indent(2)",
      "'a'", "\"b\"", "0", "1", "-1", "2.5", "true", "none", "namespace(a=1)", "range(3)", "range(-5)",
      ".strip()", ".split()", ".items()", ".get('a')", ".format(1)", "raise_exception('r')", "text ", "\n", "  ",
  };
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  Dict vars;
  List msgs;
  for (const char* role : {"system", "user", "assistant"}) {
    auto d = Dict::make();
    d->set("role", Value(role));
    d->set("content", Value::tainted(std::string(" hi ") + role));
    msgs.push_back(Value(d));
  }
  vars.set("messages", Value(std::move(msgs)));
  Limits small;
  small.max_output_bytes = 1 << 16;
  small.max_iterations = 20000;
  small.max_time = std::chrono::milliseconds(200);
  int parsed = 0, rendered = 0;
  for (int i = 0; i < 20000; ++i) {
    // Tags of random tokens among text.
    auto soup = [&] {
      std::string s;
      const int n = 1 + static_cast<int>(next() % 8);
      for (int k = 0; k < n; ++k) s += pieces[next() % (sizeof pieces / sizeof pieces[0])];
      return s;
    };
    std::string src;
    const int tags = 1 + static_cast<int>(next() % 8);
    for (int k = 0; k < tags; ++k) {
      const uint64_t r = next() % 10;
      src += r < 4 ? "{{ " + soup() + " }}" : r < 8 ? "{%- " + soup() + " %}" : r < 9 ? std::string("{# c #}\n") : soup();
    }
    auto t = Template::parse(src, "soup.jinja");
    if (!t.ok()) {
      EXPECT_EQ(t.error().code, ErrorCode::chat_template_syntax) << src << ": " << t.error().message;
      continue;
    }
    ++parsed;
    auto out = t->render(vars, small);
    if (out.ok()) {
      ++rendered;
    } else {
      EXPECT_TRUE(out.error().code == ErrorCode::chat_template_error ||
                  out.error().code == ErrorCode::chat_template_limit)
          << src << ": " << out.error().message;
    }
  }
  EXPECT_GT(parsed, 400) << "the soup reaches the evaluator";
  EXPECT_GT(rendered, 200);
}

}  // namespace
}  // namespace llmd::engine::jinja
