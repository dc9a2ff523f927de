// The scheduler benchmarks stay runnable: llmd-bench-batch's serving mode
// runs each of its parts on stories260K with small sizes and prints its
// table, and bad arguments get the usage with exit status 2. (Figures are
// not judged here: benchmarks print, tests do not time.)
#include <gtest/gtest.h>

#include <string>

#include "tests/support/shared_data.hpp"
#include "tests/support/shell_command.hpp"

namespace llmd::test {
namespace {

CommandOutput run_bench(const std::string& args) {
  return run_shell(std::string("'") + LLMD_BENCH_BATCH_BIN + "' " + args + " 2>&1");
}

TEST(BenchPrograms, TheServingModeRunsEveryPartOnTheCpu) {
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  const CommandOutput r = run_bench("-m '" + shared_file("models/stories260K.gguf").string() +
                                "' --threads 1 --serving --batches 1,4 --contexts 16:64 --decode-tokens 8"
                                " --prefill-tokens 100 --chunk 32 --e2e 4:16:8 --bandwidth-gbs 10");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* row : {"| decode, batch 1, contexts 16-64 |", "| decode, batch 4, contexts 16-64 |",
                          "| prefill, 100 tokens in chunks of 32 |", "| 4 requests at once, 16 + 8 tokens"}) {
    EXPECT_NE(r.out.find(row), std::string::npos) << row << "\n" << r.out;
  }
  // Every decode row measured steps in which the whole batch decoded.
  EXPECT_EQ(r.out.find("(0 steps)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("ended early"), std::string::npos) << r.out;  // every request got all its tokens
  EXPECT_NE(r.out.find("% of it"), std::string::npos) << r.out;
}

TEST(BenchPrograms, BadArgumentsGetTheUsage) {
  for (const char* args : {"--batches 1,,8", "--batches 0", "--contexts 64", "--contexts 64:16", "--e2e 4:16",
                           "--nope"}) {
    const CommandOutput r = run_bench(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.out.find("llmd-bench-batch"), std::string::npos) << args << ": " << r.out;
  }
}

}  // namespace
}  // namespace llmd::test
