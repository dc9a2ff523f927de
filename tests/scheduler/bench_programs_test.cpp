// The scheduler benchmarks stay runnable: llmd-bench-batch's serving mode
// runs each of its parts on stories260K with small sizes and prints its
// table, and bad arguments get the usage with exit status 2. (Figures are
// not judged here: benchmarks print, tests do not time.)
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

#include "tests/support/shared_data.hpp"

namespace llmd::test {
namespace {

struct RunResult {
  int status = -1;
  std::string out;  // stdout and stderr
};

RunResult run_bench(const std::string& args) {
  RunResult r;
  const std::string cmd = std::string("'") + LLMD_BENCH_BATCH_BIN + "' " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(BenchPrograms, TheServingModeRunsEveryPartOnTheCpu) {
  LLMD_REQUIRE_SHARED_FILE("models/stories260K.gguf");
  const RunResult r = run_bench("-m '" + shared_file("models/stories260K.gguf").string() +
                                "' --threads 1 --serving --batches 1,4 --contexts 16:64 --decode-tokens 8"
                                " --prefill-tokens 100 --chunk 32 --e2e 4:16:8 --bandwidth-gbs 10");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* row : {"| decode, batch 1, contexts 16-64 |", "| decode, batch 4, contexts 16-64 |",
                          "| prefill, 100 tokens in chunks of 32 |", "| 4 requests at once, 16 + 8 tokens"}) {
    EXPECT_NE(r.out.find(row), std::string::npos) << row << "\n" << r.out;
  }
  // Every decode row measured steps in which the whole batch decoded.
  EXPECT_EQ(r.out.find("(0 steps)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("% of it"), std::string::npos) << r.out;
}

TEST(BenchPrograms, BadArgumentsGetTheUsage) {
  for (const char* args : {"--batches 1,,8", "--batches 0", "--contexts 64", "--contexts 64:16", "--e2e 4:16",
                           "--nope"}) {
    const RunResult r = run_bench(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.out.find("llmd-bench-batch"), std::string::npos) << args << ": " << r.out;
  }
}

}  // namespace
}  // namespace llmd::test
