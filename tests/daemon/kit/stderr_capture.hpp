// Captures what this process writes to standard error (the log, the access
// log among it) for tests of in-process servers: fd 2 points to a temporary
// file while the capture lives, and is restored afterwards.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace llmd::test {

class StderrCapture {
 public:
  StderrCapture();
  ~StderrCapture();
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  // Everything written to standard error since the capture began.
  std::string text() const;
  // Waits until text() contains `needle` (log lines may follow the event a
  // test waits for by a moment). False on timeout.
  bool wait_for(std::string_view needle, std::chrono::milliseconds timeout) const;

 private:
  int saved_fd_ = -1;  // the original standard error
  int file_fd_ = -1;   // the capture file (already unlinked)
};

}  // namespace llmd::test
