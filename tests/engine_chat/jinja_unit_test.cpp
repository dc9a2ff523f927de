// The interpreter's pieces, one small template each: expressions and
// operators, filters, tests, string and dict methods, slicing, loops,
// scoping, macros, namespaces, whitespace control, tojson and Python's
// printing of values. Each expectation is written out here, and is also
// checked against Python jinja2 (Hugging Face's settings) when it is
// available, so the expectations themselves cannot drift from Jinja.
#include <gtest/gtest.h>

#include "engine/jinja/json.hpp"
#include "engine/jinja/template.hpp"
#include "tests/engine_chat/jinja_reference.hpp"

namespace llmd::engine::jinja {
namespace {

const char* kMessages =
    R"([{"role": "system", "content": " Be brief. "}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
        {"role": "user", "content": "Bye"}])";

struct Snippet {
  const char* source;
  const char* expected;
};

const Snippet kSnippets[] = {
    // literals, printing, arithmetic
    {"{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 1 / 2 }}", "7|9|3|-4|2|1024|0.5"},
    {"{{ 1.0 }}|{{ 0.1 + 0.2 }}|{{ 1e20 }}|{{ 1.5e-7 }}|{{ 3 * 1.5 }}|{{ 10 / 5 }}", "1.0|0.30000000000000004|1e+20|1.5e-07|4.5|2.0"},
    {"{{ none }}|{{ true }}|{{ False }}|{{ [1, 'a', none, true, 1.5] }}|{{ {'a': 1, 'b': [2]} }}|{{ (1, 2) | list }}",
     "None|True|False|[1, 'a', None, True, 1.5]|{'a': 1, 'b': [2]}|[1, 2]"},
    {"{{ \"it's\" }}|{{ [\"it's\", 'say \"x\"', 'a\\nb'] }}", "it's|[\"it's\", 'say \"x\"', 'a\\nb']"},
    {"{{ 'a' ~ 1 ~ none }}|{{ 'ab' + 'cd' }}|{{ 'ab' * 3 }}|{{ [1] + [2] }}|{{ 'x' 'y' }}", "a1None|abcd|ababab|[1, 2]|xy"},
    {"{{ 1 < 3 < 2 }}|{{ 1 < 2 < 3 }}|{{ 'a' in 'cat' }}|{{ 2 not in [1, 3] }}|{{ 'k' in {'k': 1} }}|{{ 1 == 1.0 }}|{{ 'a' != 'a' }}",
     "False|True|True|True|True|True|False"},
    {"{{ 'y' if 0 else 'n' }}|{{ 'y' if [1] }}|{{ none or 'b' }}|{{ 0 and 1 }}|{{ not none }}", "n|y|b|0|True"},
    // undefined behaviour
    {"[{{ nope }}]|{{ nope is defined }}|{{ messages[9] is defined }}|{{ messages[0].nope is defined }}|{{ nope | length }}",
     "[]|False|False|False|0"},
    {"{% for x in nope %}x{% else %}empty{% endfor %}|{{ (none.x) is defined }}", "empty|False"},
    // filters
    {"{{ '  a b  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}|{{ 'Ab' | upper }}{{ 'Ab' | lower }}",
     "a b|a|Hello World|Hello|ABab"},
    {"{{ [3, 1, 2] | length }}|{{ 'héllo' | length }}|{{ [3, 1, 2] | first }}|{{ [3, 1, 2] | last }}|{{ [3, 1, 2] | sort | list }}|{{ 'abc' | list }}",
     "3|5|3|2|[1, 2, 3]|['a', 'b', 'c']"},
    {"{{ [1, 2, 3] | join(', ') }}|{{ messages | map(attribute='role') | join('/') }}|{{ messages | map(attribute='role') | unique | list }}",
     "1, 2, 3|system/user/assistant/user|['system', 'user', 'assistant']"},
    {"{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}|"
     "{{ messages | rejectattr('role', 'equalto', 'user') | list | length }}|{{ messages | selectattr('tool_calls') | list | length }}",
     "['Hi', 'Bye']|2|1"},
    {"{{ [1, 0, 2, none] | select | list }}|{{ [1, 2, 3, 4] | reject('odd') | list }}|{{ ['a', 'b'] | map('upper') | list }}",
     "[1, 2]|[2, 4]|['A', 'B']"},
    {"{{ nope | default('d') }}|{{ '' | default('d', true) }}|{{ '' | default('d') }}|{{ none | d('x') }}", "d|d||None"},
    {"{% for k, v in {'b': 1, 'a': 2} | items %}{{ k }}{{ v }}{% endfor %}|{% for k, v in {'b': 1, 'a': 2} | dictsort %}{{ k }}{{ v }}{% endfor %}",
     "b1a2|a2b1"},
    {"{{ 42 | string }}|{{ '12' | int + 1 }}|{{ '3.9' | int }}|{{ 'x' | int }}|{{ '2.5' | float }}|{{ 3.7 | int }}|{{ true | int }}",
     "42|13|3|0|2.5|3|1"},
    {"{{ 'a-b-c' | replace('-', '+') }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ [1, 2] | sum }}|{{ [3, 9, 2] | max }}{{ [3, 9, 2] | min }}|{{ -3 | abs }}",
     "a+b+c|bba|3|92|3"},
    {"{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'x\\n\\ny' | indent(1, blank=true) }}",
     "a\n  b\n\n  c|  a\n  b|x\n \n y"},
    {"{{ [1, 2, 3] | reverse | list }}|{{ 'abc' | reverse }}|{{ 2.567 | round(2) }}|{{ 'a & <b>' | escape }}|{{ 'x' | safe }}",
     "[3, 2, 1]|cba|2.57|a &amp; &lt;b&gt;|x"},
    {"{{ '<a>' | safe + '<b>' }}|{{ '<a>' ~ '<b>' | safe }}", "<a>&lt;b&gt;|<a><b>"},
    {"{{ [1, 2] | map('string') }}", "<generator object>"},
    // tojson (json.dumps with ensure_ascii=False)
    {"{{ {'a': [1, 2.0, none, true], 'é': 'x\"\\n'} | tojson }}", "{\"a\": [1, 2.0, null, true], \"é\": \"x\\\"\\n\"}"},
    {"{{ {'b': {'c': []}, 'a': {}} | tojson(indent=2) }}", "{\n  \"b\": {\n    \"c\": []\n  },\n  \"a\": {}\n}"},
    {"{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ 'é' | tojson(true) }}|{{ messages[2].tool_calls[0].function.arguments | tojson }}",
     "{\"a\": 2, \"b\": 1}|\"\\u00e9\"|{\"a\": 1}"},
    // tests
    {"{{ 1 is number }}{{ true is number }}{{ true is integer }}{{ 1.5 is float }}{{ 'a' is string }}{{ {} is mapping }}"
     "{{ [] is iterable }}{{ 'a' is sequence }}{{ none is none }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}",
     "TrueTrueFalseTrueTrueTrueTrueTrueTrueTrueTrueTrue"},
    {"{{ 1 is equalto 1 }}{{ 'a' is eq 'b' }}{{ 2 is gt 1 }}{{ 'A' is upper }}{{ 'a' is lower }}{{ 1 is in [1] }}{{ nope is undefined }}{{ true is boolean }}",
     "TrueFalseTrueTrueTrueTrueTrueTrue"},
    // string and dict methods, slicing
    {"{{ ' x '.strip() }}|{{ 'xax'.strip('x') }}|{{ ' x '.lstrip() }}.|{{ ' x '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}",
     "x|a|x .| x|['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']"},
    {"{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aXb'.upper() }}{{ 'aXb'.lower() }}|{{ 'hi there'.title() }}|{{ 'a-a'.replace('a', 'b') }}|{{ 'x{}y{}'.format(1, 'z') }}",
     "TrueTrue|AXBaxb|Hi There|b-b|x1yz"},
    {"{{ {'a': 1}.get('a') }}|{{ {'a': 1}.get('b') }}|{{ {'a': 1}.get('b', 2) }}|{{ {'a': 1, 'b': 2}.keys() | list }}|{{ {'a': 1}.values() | list }}|{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}",
     "1|None|2|['a', 'b']|[1]|a=1;b=2;"},
    {"{{ [1, 2, 3, 4][1:3] }}|{{ [1, 2, 3, 4][::-1] }}|{{ [1, 2, 3, 4][-2:] }}|{{ 'héllo'[1:3] }}|{{ 'abc'[-1] }}|{{ [1, 2, 3, 4][::2] }}|{{ messages[1:] | length }}",
     "[2, 3]|[4, 3, 2, 1]|[3, 4]|él|c|[1, 3]|3"},
    {"{{ messages[0]['content'] }}|{{ messages[0].content.strip() }}|{{ messages[-1].role }}|{{ messages[2]['tool_calls'][0]['function']['name'] }}",
     " Be brief. |Be brief.|user|f"},
    // loops
    {"{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
     "104TrueFalse4;213FalseFalse4;322FalseFalse4;431FalseTrue4;"},
    {"{% for x in [1, 2, 3] %}{{ loop.previtem | default('-') }}{{ loop.nextitem | default('-') }}{{ loop.cycle('a', 'b') }} {% endfor %}",
     "-2a 13b 2-a "},
    {"{% for x in range(10) if x is odd %}{{ x }}{{ ',' if not loop.last }}{% endfor %}|{% for x in [] %}x{% else %}none{% endfor %}",
     "1,3,5,7,9|none"},
    {"{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", "0134"},
    {"{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }};{% endfor %}|{% for i in range(1, 10, 3) %}{{ i }}{% endfor %}|{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}",
     "3;7;|147|321"},
    {"{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{% endfor %}{{ loop.index }}|{% endfor %}", "121|122|"},
    // scoping: a loop's variables stay in the loop; if does not scope
    {"{% set x = 'o' %}{% for i in range(2) %}[{{ x }}]{% set x = i %}[{{ x }}]{% endfor %}{{ x }}", "[o][0][o][1]o"},
    {"{% set x = 'o' %}{% if true %}{% set x = 'i' %}{% endif %}{{ x }}", "i"},
    {"{% set ns = namespace(n=0, seen=[]) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% set ns.seen = ns.seen + [m.role] %}{% endfor %}{{ ns.n }}{{ ns.seen }}",
     "4['system', 'user', 'assistant', 'user']"},
    {"{% set ns = namespace(clear=1, items=2) %}{% set ns.update = 3 %}{{ ns.clear }}{{ ns.items }}{{ ns.update }}", "123"},
    {"{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set block %}  x{{ 1 }}  {% endset %}[{{ block }}]|{% set t | upper %}abc{% endset %}{{ t }}", "12|[  x1  ]|ABC"},
    // macros
    {"{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }}|{{ greet('b', '?') }}|{{ greet(punct='.', name='c') }}",
     "Hi a!|Hi b?|Hi c."},
    {"{% set g = 'G' %}{% macro m() %}{{ g }}{% endmacro %}{{ m() }}{% set g = 'H' %}{{ m() }}", "GH"},
    {"{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(5) }}", "120"},
    {"{% filter upper %}abc{{ 'd' }}{% endfilter %}", "ABCD"},
    // whitespace control, trim_blocks, lstrip_blocks, comments, raw
    {"a  {{- ' b ' -}}  c", "a b c"},
    {"{% if true %}\n  x\n{% endif %}\n  {% if true %}\ny{% endif %}", "  x\ny"},
    {"  {%+ if true %}x{% endif %}|{#- c -#}  |\n  {# note #}\nz", "  x||\nz"},
    {"{% raw %}{{ not evaluated }}{% endraw %}", "{{ not evaluated }}"},
    {"line1\nline2\n", "line1\nline2"},
    {"a\r\nb", "a\nb"},
};

TEST(JinjaInterpreter, Snippets) {
  auto messages = parse_json(kMessages, true);
  ASSERT_TRUE(messages.ok()) << messages.error().message;
  Dict vars;
  vars.set("messages", *messages);
  for (const Snippet& s : kSnippets) {
    auto t = Template::parse(s.source, "snippet");
    ASSERT_TRUE(t.ok()) << s.source << ": " << t.error().message;
    auto out = t->render(vars);
    ASSERT_TRUE(out.ok()) << s.source << ": " << out.error().message;
    EXPECT_EQ(out->text, s.expected) << s.source;
  }
}

TEST(JinjaInterpreter, SnippetExpectationsAreWhatJinja2Renders) {
  if (!test::jinja_available()) GTEST_SKIP() << "/usr/bin/python3 with jinja2 is needed";
  for (const Snippet& s : kSnippets) {
    if (std::string_view(s.expected) == "<generator object>") continue;  // Python prints an address
    test::JinjaCase c;
    c.messages_json = kMessages;
    const auto ref = test::render_with_jinja(s.source, "", "", 0, {c});
    ASSERT_TRUE(ref.has_value()) << s.source;
    ASSERT_TRUE((*ref)[0].ok) << s.source << ": " << (*ref)[0].text;
    EXPECT_EQ((*ref)[0].text, s.expected) << s.source;
  }
}

TEST(JinjaInterpreter, ErrorsNameTheTemplateAndLine) {
  struct Bad {
    const char* source;
    ErrorCode code;
    const char* says;
  };
  const Bad bad[] = {
      {"{{ 1 +", ErrorCode::chat_template_syntax, "line 1"},
      {"ok\n{% if x %}", ErrorCode::chat_template_syntax, "expected 'elif' or 'else' or 'endif'"},
      {"{% endfor %}", ErrorCode::chat_template_syntax, "unknown or unsupported tag 'endfor'"},
      {"{{ x | nosuchfilter }}", ErrorCode::chat_template_syntax, "no filter named 'nosuchfilter'"},
      {"{{ x is nosuchtest }}", ErrorCode::chat_template_syntax, "no test named 'nosuchtest'"},
      {"{% include 'other.jinja' %}", ErrorCode::chat_template_syntax, "unsupported tag 'include'"},
      {"{{ 'unterminated }}", ErrorCode::chat_template_syntax, "unterminated string"},
      {"{# never closed", ErrorCode::chat_template_syntax, "unterminated comment"},
      {"{% break %}", ErrorCode::chat_template_syntax, "outside a loop"},
      {"a\nb\n{{ raise_exception('Roles must alternate') }}", ErrorCode::chat_template_error, "line 3: Roles must alternate"},
      {"{{ nope.attr }}", ErrorCode::chat_template_error, "'nope' is undefined"},
      {"{{ 1 + 'a' }}", ErrorCode::chat_template_error, "unsupported operand"},
      {"{{ 1 // 0 }}", ErrorCode::chat_template_error, "division or modulo by zero"},
      {"{{ [].append(1) }}", ErrorCode::chat_template_error, "unsafe"},
      {"{% set x = 1 %}{% set x.a = 2 %}", ErrorCode::chat_template_error, "only a namespace() can be changed"},
      {"{{ [1] | map('nosuch') | list }}", ErrorCode::chat_template_error, "no filter named 'nosuch'"},
      {"{{ [1, 2] | map('string') | tojson }}", ErrorCode::chat_template_error, "not JSON serializable"},
      {"{{ 9223372036854775807 + 1 }}", ErrorCode::chat_template_error, "overflow"},
  };
  for (const Bad& b : bad) {
    auto t = Template::parse(b.source, "bad.jinja");
    Error e;
    if (!t.ok()) {
      e = t.error();
    } else {
      auto out = t->render(Dict{});
      ASSERT_FALSE(out.ok()) << b.source << " rendered: " << out->text;
      e = out.error();
    }
    EXPECT_EQ(e.code, b.code) << b.source << ": " << e.message;
    EXPECT_NE(e.message.find("bad.jinja"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find(b.says), std::string::npos) << b.source << ": " << e.message;
  }
}

TEST(JinjaInterpreter, TaintFollowsTheCallersText) {
  Dict vars;
  vars.set("user", Value::tainted("  <|x|> "));
  auto t = Template::parse("<a>{{ user | trim }}<b>{{ ('[' ~ user.strip() ~ ']') | upper }}{{ user.split('|')[1] }}", "t");
  ASSERT_TRUE(t.ok());
  auto out = t->render(vars);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->text, "<a><|x|><b>[<|X|>]x");
  // "<|x|>" (trimmed), "<|X|>" inside the upper-cased part (all of it), "x".
  ASSERT_EQ(out->taint.ranges.size(), 2u);
  EXPECT_EQ(out->taint.ranges[0], (Range{3, 8}));
  EXPECT_EQ(out->taint.ranges[1], (Range{11, out->text.size()}));
}

TEST(JinjaJson, ParsesAndPrintsLikePython) {
  auto v = parse_json(R"({"a": [1, -2.5e3, true, null, "\u00e9\ud83e\udd99\n"], "b": {}})", false);
  ASSERT_TRUE(v.ok()) << v.error().message;
  auto s = to_json(*v);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->text, "{\"a\": [1, -2500.0, true, null, \"é🦙\\n\"], \"b\": {}}");
  EXPECT_FALSE(parse_json("[1, 2", false).ok());
  EXPECT_FALSE(parse_json("{\"a\" 1}", false).ok());
  EXPECT_FALSE(parse_json(std::string(1000, '['), false).ok()) << "nesting is bounded";
  EXPECT_EQ(float_repr(1e16), "1e+16");
  EXPECT_EQ(float_repr(123456789012345.0), "123456789012345.0");
  EXPECT_EQ(float_repr(0.0001), "0.0001");
  EXPECT_EQ(float_repr(0.00001), "1e-05");
  EXPECT_EQ(float_repr(-0.0), "-0.0");
}

// Found by the jinja_template fuzz target: a sign at the start of a value was
// checked against the character before the text (out of bounds).
TEST(JinjaJson, ASignWithoutAnExponentBeforeItIsRefused) {
  const std::string buffer = "e+1";
  EXPECT_FALSE(parse_json(std::string_view(buffer).substr(1), false).ok());
  EXPECT_FALSE(parse_json("+{- ", false).ok());
  EXPECT_FALSE(parse_json("[+1]", false).ok());
  auto v = parse_json("[-1, 2e+3, 4E-1]", false);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(to_json(*v)->text, "[-1, 2000.0, 0.4]");
}

}  // namespace
}  // namespace llmd::engine::jinja
