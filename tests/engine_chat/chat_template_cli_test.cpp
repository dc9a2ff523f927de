// `llmd chat-template` as a user runs it: the rendered prompt on stdout,
// exactly; a non-zero exit status with a message for bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "tests/support/shared_data.hpp"
#include "tests/support/shell_command.hpp"

namespace llmd {
namespace {

namespace fs = std::filesystem;

fs::path llmd_binary() { return test::binary_dir() / "bin" / "llmd"; }

using CmdResult = test::CommandOutput;

class ChatTemplateCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(llmd_binary())) GTEST_SKIP() << llmd_binary() << " is not built in this tree";
    char tmpl[] = "/tmp/llmd-chat-template-cli-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return "'" + (dir_ / name).string() + "'";
  }
  CmdResult run(const std::string& args) {
    return test::run_shell("'" + llmd_binary().string() + "' chat-template " + args + " 2>/dev/null");
  }
  fs::path dir_;
};

const char* kTemplate =
    "{{ bos_token }}{% if tools %}[tools: {{ tools | map(attribute='function.name') | join(', ') }}]\n{% endif %}"
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content | trim }}{% if m.role == 'assistant' %}{{ eos_token }}"
    "{% endif %}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

TEST_F(ChatTemplateCommand, PrintsThePromptExactly) {
  const std::string t = file("t.jinja", kTemplate);
  const std::string m = file("m.json", R"([{"role": "user", "content": " Hi "}, {"role": "assistant", "content": "Yo"}])");
  auto r = run("--template " + t + " --messages " + m + " --bos '<s>' --eos '</s>'");
  EXPECT_EQ(r.status, 0);
  // (trim_blocks drops the newline after {% endif %}, as in jinja2)
  EXPECT_EQ(r.out, "<s><|user|>Hi<|assistant|>Yo</s><|assistant|>");

  const std::string tools = file("tools.json", R"([{"type": "function", "function": {"name": "a"}},
                                                  {"type": "function", "function": {"name": "b"}}])");
  r = run("--template " + t + " --messages " + m + " --tools " + tools + " --no-generation-prompt");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "[tools: a, b]\n<|user|>Hi<|assistant|>Yo");
}

TEST_F(ChatTemplateCommand, BadInputExitsNonZero) {
  const std::string t = file("t.jinja", kTemplate);
  const std::string m = file("m.json", R"([{"role": "user", "content": "x"}])");
  EXPECT_EQ(run("--template " + t).status, 2) << "--messages is required";
  EXPECT_EQ(run("--template " + t + " --messages " + file("bad.json", "[{")).status, 1);
  EXPECT_EQ(run("--template " + t + " --messages " + file("obj.json", "{}")).status, 1) << "not an array";
  EXPECT_EQ(run("--template " + file("syntax.jinja", "{% for %}") + " --messages " + m).status, 1);
  auto raised = run("--template " + file("raise.jinja", "{{ raise_exception('no') }}") + " --messages " + m);
  EXPECT_EQ(raised.status, 1);
  EXPECT_EQ(raised.out, "");
  EXPECT_EQ(run("--template /nonexistent/t.jinja --messages " + m).status, 1);
}

}  // namespace
}  // namespace llmd
