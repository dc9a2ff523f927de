// Command-line parsing and the synthetic model file shared by the scheduler
// benchmarks: flags with values, bounded integers, a usage text printed with
// the reason on any bad argument (exit status 2).
#pragma once

#include <string>
#include <vector>

namespace llmd::bench {

class BenchArgs {
 public:
  // `usage` is the text after "usage: ", without the trailing newline.
  BenchArgs(std::string program, std::string usage, int argc, char** argv)
      : program_(std::move(program)), usage_(std::move(usage)), argc_(argc), argv_(argv) {}

  // The next flag, or false at the end; "-h"/"--help" print the usage.
  bool next(std::string* flag);
  // The value after the current flag.
  std::string value();
  // The value after the current flag as an integer in [lo, hi].
  int number(int lo, int hi);
  // The value after the current flag as `min_count`..`max_count` integers in
  // [lo, hi] separated by `sep` ("1,8,32", "256:2048").
  std::vector<int> numbers(int lo, int hi, size_t min_count, size_t max_count, char sep = ',');
  // The current flag is not one of the program's.
  [[noreturn]] void unknown();
  [[noreturn]] void usage(const std::string& why) const;

  const std::string& program() const { return program_; }

 private:
  std::string program_, usage_;
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string flag_;
};

struct ModelChoice {
  std::string model;  // a GGUF file; empty: a synthetic model of `shape` and `type`
  std::string shape = "tinyllama-1.1b";
  std::string type = "q8_0";
  std::string model_dir;  // where synthetic models are written once; default: the temp dir
};

// Takes -m/--model, --shape, --type and --model-dir; false for other flags.
bool take_model_flag(BenchArgs& args, const std::string& flag, ModelChoice* m);

// The model file to load: `m.model`, or the synthetic one, written by the
// project's GGUF writer on first use. Exits with a message on failure.
std::string ensure_model(const BenchArgs& args, const ModelChoice& m);

}  // namespace llmd::bench
