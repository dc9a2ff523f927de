#include "tests/daemon/kit/stderr_capture.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace llmd::test {

StderrCapture::StderrCapture() {
  char name[] = "/tmp/llmd-stderr-XXXXXX";
  file_fd_ = ::mkstemp(name);
  if (file_fd_ < 0) throw std::runtime_error("StderrCapture: mkstemp failed");
  ::unlink(name);
  std::fflush(stderr);
  saved_fd_ = ::dup(STDERR_FILENO);
  if (saved_fd_ < 0 || ::dup2(file_fd_, STDERR_FILENO) < 0) throw std::runtime_error("StderrCapture: dup2 failed");
}

StderrCapture::~StderrCapture() {
  std::fflush(stderr);
  if (saved_fd_ >= 0) {
    ::dup2(saved_fd_, STDERR_FILENO);
    ::close(saved_fd_);
  }
  // Show what was captured, so that a failing test's log is not lost.
  std::string captured = text();
  if (!captured.empty()) {
    ssize_t ignored = ::write(STDERR_FILENO, captured.data(), captured.size());
    (void)ignored;
  }
  if (file_fd_ >= 0) ::close(file_fd_);
}

std::string StderrCapture::text() const {
  std::string out;
  char buf[4096];
  off_t at = 0;
  while (true) {
    ssize_t n = ::pread(file_fd_, buf, sizeof buf, at);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    at += n;
  }
  return out;
}

bool StderrCapture::wait_for(std::string_view needle, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (text().find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace llmd::test
