#include "tests/daemon/kit/child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace llmd::test {

std::unique_ptr<Child> Child::spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& x : env) overridden = overridden || x.substr(0, x.find('=')) == name;
    if (!overridden) envs.push_back(entry);
  }
  for (const auto& x : env) {
    if (x.find('=') != std::string::npos) envs.push_back(x);  // "NAME" alone: unset
  }
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

  std::unique_ptr<Child> c(new Child());
  int rc = posix_spawn(&c->pid_, cargv[0], &actions, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error(std::string("posix_spawn failed: ") + std::strerror(rc));
  }
  c->out_fd_ = fds[0];
  return c;
}

Child::~Child() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

void Child::signal(int sig) {
  if (!status_) ::kill(pid_, sig);
}

bool Child::pump(std::chrono::milliseconds wait) {
  if (out_fd_ < 0) return false;
  pollfd p{out_fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return true;
  char buf[8192];
  ssize_t n = ::read(out_fd_, buf, sizeof buf);
  if (n <= 0) {
    ::close(out_fd_);
    out_fd_ = -1;
    return false;
  }
  output_.append(buf, static_cast<size_t>(n));
  return true;
}

bool Child::wait_for_output(std::string_view needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (output_.find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (!pump(std::chrono::milliseconds(50)) && output_.find(needle) == std::string::npos) return false;
  }
  return true;
}

std::optional<int> Child::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    if (!pump(std::chrono::milliseconds(20))) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  read_all(std::chrono::milliseconds(2000));
  return status_;
}

void Child::read_all(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out_fd_ >= 0 && std::chrono::steady_clock::now() < deadline) pump(std::chrono::milliseconds(20));
}

const std::string& Child::output() {
  while (out_fd_ >= 0) {
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || !pump(std::chrono::milliseconds(0))) break;
  }
  return output_;
}

RunResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  auto c = Child::spawn(argv);
  RunResult r;
  auto status = c->wait_exit(timeout);
  r.status = status.value_or(-1);
  r.output = c->output();
  return r;
}

}  // namespace llmd::test
