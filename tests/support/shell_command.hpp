// Runs a shell command line for tests of the command-line programs and
// returns its exit status and standard output (what the line does with
// standard error is up to it: "2>&1", "2>/dev/null", or the test's log).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace llmd::test {

struct CommandOutput {
  int status = -1;  // the exit status; -1 when it did not exit normally or could not start
  std::string out;
};

inline CommandOutput run_shell(const std::string& command_line) {
  CommandOutput r;
  FILE* p = popen(command_line.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace llmd::test
