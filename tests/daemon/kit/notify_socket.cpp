#include "tests/daemon/kit/notify_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <stdexcept>

namespace llmd::test {

NotifySocket::NotifySocket() {
  static std::atomic<int> counter{0};
  address_ = "@llmd-test-notify-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, address_.data() + 1, address_.size() - 1);  // leading NUL: abstract
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) throw std::runtime_error("bind notify socket");
  if (::pipe2(stop_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
  reader_ = std::thread([this] { read_loop(); });
}

NotifySocket::~NotifySocket() {
  char b = 0;
  (void)!::write(stop_[1], &b, 1);
  reader_.join();
  ::close(stop_[0]);
  ::close(stop_[1]);
  ::close(fd_);
}

void NotifySocket::read_loop() {
  char buf[4096];
  while (true) {
    pollfd p[2] = {{fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) <= 0) continue;
    if (p[1].revents != 0) return;
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) continue;
    std::lock_guard lock(mu_);
    queue_.emplace_back(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
}

std::optional<std::string> NotifySocket::receive(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !queue_.empty(); })) return std::nullopt;
  std::string m = std::move(queue_.front());
  queue_.pop_front();
  return m;
}

bool NotifySocket::wait_for_line(std::string_view line, std::chrono::milliseconds timeout,
                                 std::vector<std::string>* seen) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    auto msg = receive(left);
    if (!msg) return false;
    if (seen) seen->push_back(*msg);
    size_t start = 0;
    while (start <= msg->size()) {
      size_t eol = msg->find('\n', start);
      std::string_view l(msg->data() + start, (eol == std::string::npos ? msg->size() : eol) - start);
      if (l == line) return true;
      if (eol == std::string::npos) break;
      start = eol + 1;
    }
  }
}

std::string notify_field(const std::string& message, std::string_view key) {
  std::string prefix = std::string(key) + "=";
  size_t start = 0;
  while (start < message.size()) {
    size_t eol = message.find('\n', start);
    std::string line = message.substr(start, eol == std::string::npos ? std::string::npos : eol - start);
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    if (eol == std::string::npos) break;
    start = eol + 1;
  }
  return "";
}

}  // namespace llmd::test
