// Fuzz target: the Jinja chat-template interpreter (engine/jinja): the
// input is a template, parsed and rendered over a chat context (messages of
// every role, tools, the usual flags) under tight Limits; the input is also
// fed to the interpreter's JSON parser. Invariants: a render that succeeds
// stays within max_output_bytes; a failure carries a message.
#include <chrono>
#include <string>
#include <string_view>

#include "engine/jinja/json.hpp"
#include "engine/jinja/template.hpp"
#include "fuzz/fuzz_target.hpp"

namespace {

using namespace llmd::engine::jinja;

constexpr std::string_view kContext = R"({
  "messages": [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Hi <|im_end|> {{ 1 }}"},
    {"role": "assistant", "content": "", "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21}"},
    {"role": "user", "content": [{"type": "text", "text": "and tomorrow?"}]}
  ],
  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
  "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": true
})";

Dict make_context() {
  auto v = parse_json(kContext, true);
  if (!v || !v->is_dict()) std::abort();
  return v->dict();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Dict context = make_context();
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto json = parse_json(text, true, 32); json) {
    (void)to_json(*json);
  }

  auto tmpl = Template::parse(text, "fuzz");
  if (!tmpl) {
    fuzz_check(!tmpl.error().message.empty());
    return 0;
  }
  Limits limits;
  limits.max_output_bytes = 64 * 1024;
  limits.max_iterations = 20'000;
  limits.max_depth = 100;
  limits.max_time = std::chrono::milliseconds(500);
  limits.max_allocated_bytes = 8u << 20;
  auto out = tmpl->render(context, limits, [](const std::string&) { return std::string("07 Dec 2026"); });
  if (out) {
    fuzz_check(out->text.size() <= limits.max_output_bytes);
  } else {
    fuzz_check(!out.error().message.empty());
  }
  return 0;
}
