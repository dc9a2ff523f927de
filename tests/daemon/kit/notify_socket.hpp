// The receiving end of systemd's notification protocol, as systemd has it: a
// unix datagram socket whose name goes into NOTIFY_SOCKET, read continuously
// (like systemd) so that the sender never finds the queue full.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace llmd::test {

class NotifySocket {
 public:
  NotifySocket();  // binds a unique abstract-namespace socket
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // The NOTIFY_SOCKET value ("@name").
  const std::string& address() const { return address_; }
  // The next datagram not yet returned, or nullopt on timeout.
  std::optional<std::string> receive(std::chrono::milliseconds timeout);
  // Receives until a datagram has a line equal to `line`; every datagram seen
  // is appended to `seen`. False on timeout.
  bool wait_for_line(std::string_view line, std::chrono::milliseconds timeout, std::vector<std::string>* seen = nullptr);

 private:
  void read_loop();

  int fd_ = -1;
  int stop_[2] = {-1, -1};  // a pipe that wakes the reader for shutdown
  std::string address_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::thread reader_;
};

// The value of "KEY=" in a notification message, or "".
std::string notify_field(const std::string& message, std::string_view key);

}  // namespace llmd::test
