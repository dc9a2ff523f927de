// Socket activation as systemd does it: the launcher binds and listens, then
// forks and execs llmd with the socket as fd 3 and LISTEN_FDS=1,
// LISTEN_PID=<llmd's pid>. llmd serves on that socket instead of binding.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "tests/daemon/kit/conn.hpp"
#include "tests/daemon/kit/files.hpp"

extern char** environ;

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

// A TCP (or UDP) socket bound to 127.0.0.1 on an ephemeral port; listening
// when TCP. Returns the fd and sets *port.
int bound_socket(int type, std::uint16_t* port) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  if (type == SOCK_STREAM && ::listen(fd, 16) != 0) return -1;
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// fork + exec of `llmd serve` with `fd` passed as fd 3, output to `log`.
pid_t launch_activated(const std::string& config, int fd, const std::string& log) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    if (entry.rfind("LISTEN_", 0) == 0 || entry.rfind("NOTIFY_SOCKET=", 0) == 0 || entry.rfind("WATCHDOG_", 0) == 0) {
      continue;
    }
    env.push_back(std::move(entry));
  }
  env.emplace_back("LISTEN_FDS=1");
  env.emplace_back("LISTEN_PID=0000000000");  // the child writes its pid here
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  char* pid_digits = cenv[cenv.size() - 2] + std::strlen("LISTEN_PID=");
  std::string bin = LLMD_BIN;
  std::vector<char*> argv = {bin.data(), const_cast<char*>("serve"), const_cast<char*>("--config"),
                             const_cast<char*>(config.c_str()), nullptr};
  int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    unsigned long v = static_cast<unsigned long>(::getpid());
    char digits[16];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    for (int i = 0; i < n; ++i) pid_digits[i] = digits[n - 1 - i];
    pid_digits[n] = '\0';
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    if (fd == 3) {
      ::fcntl(3, F_SETFD, 0);
    } else {
      ::dup2(fd, 3);
    }
    ::execve(argv[0], argv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(out);
  return pid;
}

bool wait_for_text(const std::string& file, const std::string& needle, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (read_file(file).find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return std::nullopt;
}

std::string config_text() {
  // Port 0 in the file: the daemon must not bind one of its own.
  return "[server]\naddress = \"127.0.0.1\"\nport = 0\n[tls]\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n"
         "[paths]\nstate_dir = \".\"\n[metrics]\nport = 0\n";
}

TEST(SocketActivation, ServesOnThePassedSocket) {
  TempDir dir;
  write_self_signed(dir.path());
  write_file(dir / "llmd.toml", config_text());
  std::uint16_t port = 0;
  int fd = bound_socket(SOCK_STREAM, &port);
  ASSERT_GE(fd, 0);
  const std::string log = (dir / "out.log").string();
  pid_t pid = launch_activated((dir / "llmd.toml").string(), fd, log);
  ASSERT_GT(pid, 0);
  ::close(fd);  // the daemon holds it now
  ASSERT_TRUE(wait_for_text(log, "ready: serving https://127.0.0.1:" + std::to_string(port), 60s)) << read_file(log);
  const std::string out = read_file(log);
  EXPECT_NE(out.find("socket activation: serving on the listening socket systemd passed"), std::string::npos) << out;
  {
    auto c = Conn::tls(port);
    ASSERT_TRUE(c) << read_file(log);
    auto r = get(*c, "/readyz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  ::kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit(pid, 30s), std::optional<int>(0)) << read_file(log);
}

TEST(SocketActivation, ASocketOfTheWrongKindIsRefused) {
  TempDir dir;
  write_self_signed(dir.path());
  write_file(dir / "llmd.toml", config_text());
  std::uint16_t port = 0;
  int fd = bound_socket(SOCK_DGRAM, &port);
  ASSERT_GE(fd, 0);
  const std::string log = (dir / "out.log").string();
  pid_t pid = launch_activated((dir / "llmd.toml").string(), fd, log);
  ASSERT_GT(pid, 0);
  ::close(fd);
  EXPECT_EQ(wait_exit(pid, 60s), std::optional<int>(78)) << read_file(log);
  EXPECT_NE(read_file(log).find("the socket systemd passed is not a listening TCP socket"), std::string::npos)
      << read_file(log);
}

}  // namespace
}  // namespace llmd::test
