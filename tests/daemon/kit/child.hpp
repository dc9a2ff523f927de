// A child process for tests that run the real binary: spawned with extra
// environment variables, its stdout and stderr captured through one pipe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmd::test {

class Child {
 public:
  // argv[0] is the program path. `env` entries ("NAME=value") override the
  // inherited environment; a bare "NAME" removes the variable.
  static std::unique_ptr<Child> spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~Child();  // kills (SIGKILL) and reaps a child still running

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits until the captured output contains `needle`.
  bool wait_for_output(std::string_view needle, std::chrono::milliseconds timeout);
  // Exit status (128 + signal when killed by one), or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // Reads the output until the pipe closes (the child and its children are gone).
  void read_all(std::chrono::milliseconds timeout);
  // Everything captured so far.
  const std::string& output();

 private:
  Child() = default;
  bool pump(std::chrono::milliseconds wait);  // reads what the pipe has; false at EOF

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string output_;
  std::optional<int> status_;
};

// Runs a command to completion and returns its exit status and output.
struct RunResult {
  int status = -1;
  std::string output;
};
RunResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace llmd::test
