// Every built-in template renders system/user/assistant conversations to
// exactly what the family's real Jinja template renders (Python jinja2 with
// Hugging Face's settings), and every template in the reference folder is
// recognised as its family or refused with a reason.
#include <gtest/gtest.h>

#include <ctime>
#include <functional>

#include "engine/chat/builtin_templates.hpp"
#include "engine/chat/prompt_builder.hpp"
#include "engine/chat/template_recognizer.hpp"
#include "engine/gguf/gguf_reader.hpp"
#include "tests/engine_chat/jinja_reference.hpp"

namespace llmd::engine {
namespace {

using test::JinjaCase;
using Msgs = std::vector<ChatMessage>;

constexpr long long kNow = 1764154800;  // a fixed "today" for strftime_now

std::string utc_strftime(const char* fmt) {
  const std::time_t t = static_cast<std::time_t>(kNow);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[128];
  return std::string(buf, std::strftime(buf, sizeof buf, fmt, &tm));
}

// Conversations every template is checked on (each with and without the
// generation prompt).
std::vector<Msgs> conversations() {
  return {
      // three turns with a system message
      {{"system", "You are a concise assistant."},
       {"user", "Hi there!"},
       {"assistant", "Hello! How can I help?"},
       {"user", "Tell me a joke."}},
      {{"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}},
      {{"user", "  spaced out \n"}},
      {{"system", "Rules:\n- be nice\n"},
       {"user", "\xC3\x9Cn\xC3\xAF\x63\xC3\xB6\x64\xC3\xA9 \xF0\x9F\xA6\x99 \"quotes\" 'single' \\ and {{ braces }}"},
       {"assistant", "<think>I should greet.</think>\n\nHi!  "},
       {"user", "Again\t"}},
      {{"system", ""}, {"user", "empty system"}},
      {{"system", "only a system message"}},
      {{"user", "a"}, {"assistant", "b"}, {"system", "mid-conversation system"}, {"user", "c"}},
      {{"user", "a"}, {"system", "odd system"}, {"user", "c"}},
      {{"user", "one"}, {"user", "two"}},
      {{"assistant", "starts with the assistant"}, {"user", "x"}},
      {{"system", "s1"}, {"user", "u1"}, {"assistant", "a1"}, {"user", "u2"}, {"assistant", "a2"}, {"user", "u3"}},
  };
}

struct Source {
  const char* label;
  const char* expect;  // recognised name
  std::string bos, eos;
  bool folds_system = false;  // the original rejects or drops a system message
  std::function<std::optional<std::string>()> text;
};

void PrintTo(const Source& s, std::ostream* os) { *os << s.label; }

std::optional<std::string> shared_template(const char* file) {
  const auto p = test::shared_file(std::string("templates/") + file);
  if (!std::filesystem::exists(p)) return std::nullopt;
  return test::read_text(p);
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

const std::string kLlamaBos = "<|begin_of_text|>", kLlamaEos = "<|end_of_text|>";
const std::string kDsBos = "<｜begin▁of▁sentence｜>", kDsEos = "<｜end▁of▁sentence｜>";

std::vector<Source> sources() {
  std::vector<Source> s;
  auto shared = [](const char* f) { return [f] { return shared_template(f); }; };
  auto inline_text = [](const char* t) { return [t] { return std::optional<std::string>(t); }; };

  // Real templates from the reference folder.
  s.push_back({"Qwen25", "qwen2.5", "", "<|im_end|>", false, shared("Qwen-Qwen2.5-7B-Instruct.jinja")});
  s.push_back({"DeepSeekR1DistillLlama", "deepseek-r1", kDsBos, kDsEos, false,
               shared("deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja")});
  s.push_back({"DeepSeekR1DistillQwen", "deepseek-r1", kDsBos, kDsEos, false,
               shared("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja")});
  s.push_back({"DeepSeekR1LlamaCpp", "deepseek-r1-user-eos", kDsBos, kDsEos, false,
               shared("llama-cpp-deepseek-r1.jinja")});
  s.push_back({"Gemma2", "gemma", "<bos>", "<eos>", true, shared("google-gemma-2-2b-it.jinja")});
  s.push_back({"Llama31", "llama-3.1", kLlamaBos, "<|eot_id|>", false,
               shared("meta-llama-Llama-3.1-8B-Instruct.jinja")});
  s.push_back({"Llama32", "llama-3.2", kLlamaBos, "<|eot_id|>", false,
               shared("meta-llama-Llama-3.2-3B-Instruct.jinja")});
  s.push_back({"Llama33", "llama-3.1", kLlamaBos, "<|eot_id|>", false,
               shared("meta-llama-Llama-3.3-70B-Instruct.jinja")});
  s.push_back({"Phi35", "phi-3.5", "<s>", "<|endoftext|>", false, shared("microsoft-Phi-3.5-mini-instruct.jinja")});
  s.push_back({"MistralNemo", "mistral-v3-tekken", "<s>", "</s>", false,
               shared("mistralai-Mistral-Nemo-Instruct-2407.jinja")});
  // Close relatives of those, made by changing what differs.
  s.push_back({"MistralV3", "mistral-v3", "<s>", "</s>", false, [] {
                 auto t = shared_template("mistralai-Mistral-Nemo-Instruct-2407.jinja");
                 if (!t) return t;
                 std::string v = replace(*t, "\"[INST]\" + system_message", "\"[INST] \" + system_message");
                 v = replace(v, "\"[INST]\" + message[\"content\"]", "\"[INST] \" + message[\"content\"]");
                 v = replace(v, "{{- message[\"content\"] + eos_token}}", "{{- \" \" + message[\"content\"]|trim + eos_token}}");
                 return std::optional<std::string>(v);
               }});
  s.push_back({"DeepSeekV3", "deepseek-v3", kDsBos, kDsEos, false, [] {
                 auto t = shared_template("deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja");
                 if (!t) return t;
                 std::string v = replace(*t, "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}", "");
                 v = replace(v, "{{'<｜Assistant｜><think>\\n'}}", "{{'<｜Assistant｜>'}}");
                 return std::optional<std::string>(v);
               }});
  // The template inside the Phi-3 vocabulary file (the original Phi-3 mini one).
  s.push_back({"Phi3Original", "phi-3", "<s>", "<|endoftext|>", true, [] {
                 const auto p = test::shared_file("vocab/ggml-vocab-phi-3.gguf");
                 if (!std::filesystem::exists(p)) return std::optional<std::string>();
                 auto f = gguf::GgufFile::open(p.string());
                 return f ? (*f)->get_string("tokenizer.chat_template") : std::nullopt;
               }});
  // Classic templates as published with these models (short, so kept here).
  s.push_back({"ChatML", "chatml", "", "<|im_end|>", false,
               inline_text("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                           "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' "
                           "}}{% endif %}")});
  s.push_back({"ChatMLWithBos", "chatml", "<|begin_of_text|>", "<|im_end|>", false,
               inline_text("{{bos_token}}{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                           "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
                           "'<|im_start|>assistant\\n' }}{% endif %}")});
  s.push_back({"Qwen2", "qwen2", "", "<|endoftext|>", false,
               inline_text("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
                           "'<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + "
                           "message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if "
                           "add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")});
  s.push_back({"Llama2", "llama-2", "<s>", "</s>", false,
               inline_text("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
                           "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set "
                           "system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] "
                           "== 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
                           "user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != "
                           "false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + "
                           "message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if "
                           "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif "
                           "message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% "
                           "endfor %}")});
  s.push_back({"Llama3", "llama-3", kLlamaBos, "<|eot_id|>", false,
               inline_text("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
                           "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim "
                           "+ '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ "
                           "content }}{% endfor %}{% if add_generation_prompt %}{{ "
                           "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")});
  s.push_back({"MistralV1", "mistral-v1", "<s>", "</s>", true,
               inline_text("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
                           "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
                           "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] "
                           "' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
                           "message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles "
                           "are supported!') }}{% endif %}{% endfor %}")});
  s.push_back({"MistralV7", "mistral-v7", "<s>", "</s>", false,
               inline_text("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' "
                           "+ message['content'] + '[/INST]' }}{% elif message['role'] == 'system' %}{{ '[SYSTEM_PROMPT] ' "
                           "+ message['content'] + '[/SYSTEM_PROMPT]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + "
                           "message['content'] + eos_token }}{% else %}{{ raise_exception('Only user, system and assistant "
                           "roles are supported!') }}{% endif %}{% endfor %}")});
  s.push_back({"Zephyr", "zephyr", "<s>", "</s>", false,
               inline_text("{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + "
                           "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' "
                           "+ message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ "
                           "'<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and "
                           "add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}")});
  s.push_back({"DeepSeekLLM", "deepseek", kDsBos, kDsEos, false,
               inline_text("{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif "
                           "%}{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + "
                           "message['content'] + '\\n\\n' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + "
                           "message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ message['content'] + "
                           "'\\n\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif "
                           "%}")});
  return s;
}

class BuiltinVsJinja : public ::testing::TestWithParam<Source> {};

TEST_P(BuiltinVsJinja, RendersExactlyLikeTheJinjaTemplate) {
  const Source& src = GetParam();
  const auto text = src.text();
  if (!text) GTEST_SKIP() << "reference template for " << src.label << " is absent (set LLMD_SHARED_DIR)";
  const chat::Recognition r = chat::recognise_template(*text);
  ASSERT_EQ(r.name, src.expect) << "recognition: " << r.why;
  if (!test::jinja_available()) GTEST_SKIP() << "/usr/bin/python3 with jinja2 is needed for the reference renderings";

  TemplateEnv env;
  env.bos_token = src.bos;
  env.eos_token = src.eos;
  env.strftime_now = utc_strftime;
  auto tmpl = make_builtin_chat_template(r.name, env, r.options);
  ASSERT_TRUE(tmpl.ok()) << tmpl.error().message;

  std::vector<JinjaCase> cases;
  for (const Msgs& m : conversations()) {
    for (bool gen : {true, false}) {
      cases.push_back({src.folds_system ? chat::fold_system_into_first_user(m) : m, gen});
    }
  }
  const auto ref = test::render_with_jinja(*text, src.bos, src.eos, kNow, cases);
  ASSERT_TRUE(ref.has_value()) << "the reference renderer failed";
  size_t i = 0, n_ok = 0;
  for (const Msgs& m : conversations()) {
    for (bool gen : {true, false}) {
      const test::JinjaResult& want = (*ref)[i++];
      auto got = (*tmpl)->render(m, gen);
      if (want.ok) {
        ++n_ok;
        ASSERT_TRUE(got.ok()) << src.label << " case " << i - 1 << ": " << got.error().message;
        EXPECT_EQ(*got, want.text) << src.label << " case " << i - 1 << " (generation prompt " << gen << ")";
        // The marked content ranges lie inside the text and in order.
        auto p = (*tmpl)->render_prompt(m, gen);
        ASSERT_TRUE(p.ok());
        EXPECT_EQ(p->text, *got);
        size_t last = 0;
        for (const auto& [b, e] : p->content_ranges) {
          EXPECT_LE(last, b);
          EXPECT_LT(b, e);
          EXPECT_LE(e, p->text.size());
          last = e;
        }
      } else {
        EXPECT_FALSE(got.ok()) << src.label << " case " << i - 1 << ": Jinja refuses (" << want.text
                               << ") but the built-in rendered:\n"
                               << *got;
      }
    }
  }
  EXPECT_GE(n_ok, 8u) << "most conversations render";
}

INSTANTIATE_TEST_SUITE_P(Families, BuiltinVsJinja, ::testing::ValuesIn(sources()),
                         [](const auto& info) { return std::string(info.param.label); });

// Every template in the reference folder: its family, or a refusal.
TEST(Recognition, EveryReferenceTemplate) {
  const std::pair<const char*, const char*> expected[] = {
      {"CohereForAI-c4ai-command-r-plus-tool_use.jinja", ""},
      {"CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja", ""},
      {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", ""},
      {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", ""},
      {"Qwen-Qwen2.5-7B-Instruct.jinja", "qwen2.5"},
      {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", "deepseek-r1"},
      {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "deepseek-r1"},
      {"fireworks-ai-llama-3-firefunction-v2.jinja", ""},
      {"google-gemma-2-2b-it.jinja", "gemma"},
      {"llama-cpp-deepseek-r1.jinja", "deepseek-r1-user-eos"},
      {"meetkai-functionary-medium-v3.1.jinja", ""},
      {"meetkai-functionary-medium-v3.2.jinja", ""},
      {"meta-llama-Llama-3.1-8B-Instruct.jinja", "llama-3.1"},
      {"meta-llama-Llama-3.2-3B-Instruct.jinja", "llama-3.2"},
      {"meta-llama-Llama-3.3-70B-Instruct.jinja", "llama-3.1"},
      {"microsoft-Phi-3.5-mini-instruct.jinja", "phi-3.5"},
      {"mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral-v3-tekken"},
  };
  const auto dir = test::shared_file("templates");
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << dir << " is absent";
  size_t seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".jinja") continue;
    ++seen;
    const std::string file = entry.path().filename().string();
    const chat::Recognition r = chat::recognise_template(test::read_text(entry.path()));
    bool listed = false;
    for (const auto& [f, name] : expected) {
      if (file != f) continue;
      listed = true;
      EXPECT_EQ(r.name, name) << file << ": " << r.why;
      if (r.name.empty()) {
        EXPECT_FALSE(r.why.empty()) << file;
      }
    }
    EXPECT_TRUE(listed) << "new reference template " << file << " is recognised as '" << r.name << "' (" << r.why
                        << "); add it to this table";
  }
  EXPECT_EQ(seen, std::size(expected));
}

TEST(Recognition, OddTemplatesAreRefused) {
  EXPECT_EQ(chat::recognise_template("{{ messages }}").name, "");
  EXPECT_EQ(chat::recognise_template("").name, "");
  EXPECT_EQ(chat::recognise_template("{% for m in messages %}[INST]{{ m.content }}{% endfor %}").name, "");
  EXPECT_EQ(chat::recognise_template("<|im_start|> but never closed").name, "");
}

TEST(PyStrip, MatchesPythonWhitespace) {
  EXPECT_EQ(chat::py_strip("  a b \n\t"), "a b");
  EXPECT_EQ(chat::py_strip("\xE3\x80\x80x\xC2\xA0"), "x");   // U+3000, U+00A0
  EXPECT_EQ(chat::py_strip("\x1Fx\x1C"), "x");               // Python counts these as space
  EXPECT_EQ(chat::py_strip("\xE2\x80\x8Bx"), "\xE2\x80\x8Bx");  // U+200B is not
  EXPECT_EQ(chat::py_strip("   "), "");
  EXPECT_EQ(chat::py_strip("x\xFF "), "x\xFF");
}

}  // namespace
}  // namespace llmd::engine
