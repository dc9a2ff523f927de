// `llmd tokenize` / `llmd detokenize` as a user runs them: stdin in, ids or
// text out, non-zero exit status with a message on bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/tokenizer/regex_splitter.hpp"
#include "tests/support/shared_data.hpp"
#include "tests/support/shell_command.hpp"

namespace llmd {
namespace {

namespace fs = std::filesystem;

using CmdResult = test::CommandOutput;

fs::path llmd_binary() { return test::binary_dir() / "bin" / "llmd"; }

// Runs `llmd ARGS` with `input` on stdin; captures stdout (stderr to the log).
CmdResult run(const std::string& args, const std::string& input) {
  char tmpl[] = "/tmp/llmd-cli-test-XXXXXX";
  int fd = mkstemp(tmpl);
  EXPECT_GE(fd, 0);
  if (fd < 0) return {};
  EXPECT_EQ(write(fd, input.data(), input.size()), static_cast<ssize_t>(input.size()));
  close(fd);
  const std::string cmd = "'" + llmd_binary().string() + "' " + args + " < '" + tmpl + "'";
  CmdResult r = test::run_shell(cmd);
  unlink(tmpl);
  return r;
}

#define REQUIRE_LLMD()                                                                              \
  do {                                                                                              \
    if (!fs::exists(llmd_binary())) GTEST_SKIP() << llmd_binary() << " is not built in this tree"; \
  } while (0)

std::string model(const char* name) { return "-m '" + test::shared_file(std::string("vocab/") + name).string() + "'"; }

TEST(TokenizeCommand, MatchesTheReferenceVectors) {
  REQUIRE_LLMD();
  LLMD_REQUIRE_SHARED_FILE("vocab/ggml-vocab-llama-spm.gguf");
  // A few tricky strings per vocabulary, read straight from the vector files.
  for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf"}) {
    if (std::string(name).find("spm") == std::string::npos && !engine::RegexSplitter::available()) continue;
    std::ifstream inp(test::shared_file(std::string("vocab/") + name + ".inp"), std::ios::binary);
    std::ifstream outp(test::shared_file(std::string("vocab/") + name + ".out"));
    std::stringstream ss;
    ss << inp.rdbuf();
    const std::string all = ss.str(), sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> inputs, outputs;
    for (size_t pos = 0, hit; (hit = all.find(sep, pos)) != std::string::npos; pos = hit + sep.size()) {
      inputs.push_back(all.substr(pos, hit - pos));
    }
    // The expected lines list the ids each after a space.
    for (std::string line; std::getline(outp, line);) outputs.push_back(line.empty() ? line : line.substr(1));
    ASSERT_EQ(inputs.size(), outputs.size());
    for (size_t i : {size_t{0}, size_t{6}, size_t{17}, size_t{29}, inputs.size() - 1}) {
      const CmdResult r = run("tokenize " + model(name), inputs[i]);
      EXPECT_EQ(r.status, 0);
      EXPECT_EQ(r.out, outputs[i] + "\n") << name << " string #" << i;
    }
  }
}

TEST(TokenizeCommand, FlagsAddBosAndParseSpecialText) {
  REQUIRE_LLMD();
  LLMD_REQUIRE_SHARED_FILE("vocab/ggml-vocab-llama-spm.gguf");
  const std::string m = model("ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(run("tokenize " + m, "Hello world").out, "15043 3186\n");
  EXPECT_EQ(run("tokenize " + m + " --bos", "Hello world").out, "1 15043 3186\n");
  EXPECT_EQ(run("tokenize " + m + " --special", "<s>Hello").out, "1 15043\n");
  EXPECT_NE(run("tokenize " + m, "<s>Hello").out, "1 15043\n");
  EXPECT_EQ(run("tokenize " + m, "").out, "\n");
  // Newlines in the input are part of the text.
  EXPECT_EQ(run("tokenize " + m, "a\nb\n").out, run("tokenize " + m, "a\nb\n").out);
  EXPECT_NE(run("tokenize " + m, "a\nb\n").out, run("tokenize " + m, "a\nb").out);
}

TEST(TokenizeCommand, BadInputFails) {
  REQUIRE_LLMD();
  LLMD_REQUIRE_SHARED_FILE("vocab/ggml-vocab-llama-spm.gguf");
  const std::string m = model("ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(run("tokenize " + m, "ok \xC3\x28 not").status, 1);  // invalid UTF-8
  EXPECT_EQ(run("tokenize", "x").status, 2);                     // no model
  EXPECT_EQ(run("tokenize -m /nonexistent/model.gguf", "x").status, 1);
  EXPECT_EQ(run("tokenize " + m + " --frobnicate", "x").status, 2);
  EXPECT_EQ(run("tokenize -m '" + test::shared_dir().string() + "'", "x").status, 1);  // a directory
}

TEST(DetokenizeCommand, PrintsTextAndRejectsBadIds) {
  REQUIRE_LLMD();
  LLMD_REQUIRE_SHARED_FILE("vocab/ggml-vocab-llama-spm.gguf");
  const std::string m = model("ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(run("detokenize " + m, "15043 3186\n").out, "Hello world");
  EXPECT_EQ(run("detokenize " + m, "15043, 3186").out, "Hello world");
  EXPECT_EQ(run("detokenize " + m, "1 15043").out, "<s> Hello");
  EXPECT_EQ(run("detokenize " + m + " --no-special", "1 15043 2").out, " Hello");
  EXPECT_EQ(run("detokenize " + m, "").out, "");
  EXPECT_EQ(run("detokenize " + m, "15043 abc").status, 1);
  EXPECT_EQ(run("detokenize " + m, "15043 32000").status, 1);
  EXPECT_EQ(run("detokenize " + m, "-1").status, 1);
  EXPECT_EQ(run("detokenize " + m, "99999999999999999999999").status, 1);
  // Round trip through both commands.
  const std::string text = "Round trip:\n  ünïcödé and 🦙 emoji\n";
  const CmdResult ids = run("tokenize " + m, text);
  ASSERT_EQ(ids.status, 0);
  EXPECT_EQ(run("detokenize " + m, ids.out).out, text);
}

}  // namespace
}  // namespace llmd
