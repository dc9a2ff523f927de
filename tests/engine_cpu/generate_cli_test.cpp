// `llmd generate`: the reference ids of stories260K through the command line,
// seeded sampling reproducibility, synthetic models, and bad arguments.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

#include "tests/engine_cpu/synth_fixture.hpp"
#include "tests/support/shared_data.hpp"
#include "tests/support/shell_command.hpp"
#include "tests/support/stories_reference.hpp"

namespace llmd::test {
namespace {

namespace fs = std::filesystem;

fs::path llmd_binary() { return binary_dir() / "bin" / "llmd"; }

using RunResult = CommandOutput;

// Runs `llmd ARGS`, capturing stdout (stderr goes to the test log).
RunResult run_llmd(const std::string& args) { return run_shell("'" + llmd_binary().string() + "' " + args); }

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

#define REQUIRE_LLMD()                                                                  \
  do {                                                                                  \
    if (!fs::exists(llmd_binary())) GTEST_SKIP() << llmd_binary() << " is not built in this tree"; \
  } while (0)

TEST(GenerateCli, Stories260KReferenceIds) {
  REQUIRE_LLMD();
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.reference.txt");
  int checked = 0;
  for (const StoriesReference& c : read_stories_reference()) {
    const std::string& prompt = c.prompt;
    std::string want;
    for (int32_t id : c.gen_ids) want += (want.empty() ? "" : " ") + std::to_string(id);
    const RunResult r = run_llmd("generate -m " + quote(shared_file("models/stories260K.gguf").string()) + " -p " +
                                 quote(prompt) + " -n 64 --ids --threads 2");
    ASSERT_EQ(r.status, 0);
    EXPECT_EQ(r.out, want + "\n") << "prompt '" << prompt << "'";
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST(GenerateCli, SyntheticModelTextAndSeededSampling) {
  REQUIRE_LLMD();
  const std::string model = quote(synth_model_file(*engine::synth::find_synth_shape("test-qwen2"), "q8_0"));
  const RunResult text = run_llmd("generate -m " + model + " -p 'hello world' -n 12 --ignore-eos");
  ASSERT_EQ(text.status, 0);
  EXPECT_FALSE(text.out.empty());
  const std::string sampled = "generate -m " + model + " -p 'hello world' -n 12 --ids --temp 0.9 --seed 42 --ignore-eos";
  const RunResult a = run_llmd(sampled), b = run_llmd(sampled);
  ASSERT_EQ(a.status, 0);
  EXPECT_EQ(a.out, b.out);
  std::istringstream ids(a.out);
  int n = 0, id;
  while (ids >> id) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, 512);
    ++n;
  }
  EXPECT_EQ(n, 12);
  const RunResult other = run_llmd("generate -m " + model + " -p 'hello world' -n 12 --ids --temp 0.9 --seed 43 --ignore-eos");
  EXPECT_NE(a.out, other.out);
}

TEST(GenerateCli, BadArgumentsAndModels) {
  REQUIRE_LLMD();
  EXPECT_EQ(run_llmd("generate -p hi -n 3 2>/dev/null").status, 2);
  EXPECT_EQ(run_llmd("generate -m x.gguf -p hi 2>/dev/null").status, 2);
  EXPECT_EQ(run_llmd("generate -m x.gguf -p hi -n -4 2>/dev/null").status, 2);
  EXPECT_EQ(run_llmd("generate -m /nonexistent.gguf -p hi -n 3 2>/dev/null").status, 1);
  const std::string model = quote(synth_model_file(*engine::synth::find_synth_shape("test-llama"), "q8_0"));
  EXPECT_EQ(run_llmd("generate -m " + model + " -p hi -n 3 --temp 7 2>/dev/null").status, 2);
  EXPECT_EQ(run_llmd("generate -m " + model + " -p hi -n 3 --isa nonsense 2>/dev/null").status, 1);
  // A GGUF that is not a model.
  const std::string not_model = temp_path("vocab-only.gguf");
  {
    gguf::GgufWriter w;
    w.set_string("general.architecture", "bert");
    ASSERT_TRUE(w.write_file(not_model).ok());
  }
  const RunResult r = run_llmd("generate -m " + quote(not_model) + " -p hi -n 3 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("unsupported model architecture 'bert'"), std::string::npos) << r.out;
}

TEST(GenerateCli, SplitAcrossDevicesGivesReferenceIds) {
  REQUIRE_LLMD();
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.reference.txt");
  const StoriesReference c = read_stories_reference().at(0);
  std::string want;
  for (int32_t id : c.gen_ids) want += (want.empty() ? "" : " ") + std::to_string(id);
  const std::string base = "generate -m " + quote(shared_file("models/stories260K.gguf").string()) + " -p " +
                           quote(c.prompt) + " -n 64 --ids --threads 1 ";
  for (const char* split : {"--devices cpu:0,cpu:1 --layer-split 3,2", "--devices cpu:0,cpu:1,cpu:2"}) {
    const RunResult r = run_llmd(base + split);
    ASSERT_EQ(r.status, 0) << split;
    EXPECT_EQ(r.out, want + "\n") << split;
  }
  const RunResult bad = run_llmd(base + "--devices cpu:0,cpu:1 --layer-split 3,3 2>&1");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("the layer split sums to 6 layers"), std::string::npos) << bad.out;
  EXPECT_EQ(run_llmd(base + "--devices cpu:0,npu:1 2>/dev/null").status, 2);
  EXPECT_EQ(run_llmd(base + "--layer-split 3,0 2>/dev/null").status, 2);
}

}  // namespace
}  // namespace llmd::test
