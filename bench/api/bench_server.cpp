#include "bench/api/bench_server.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "tools/llmctl/https_client.hpp"

extern char** environ;

namespace llmd::bench {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs argv with stdout and stderr going to `log`; returns the pid.
pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

int run_logged(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = spawn_logged(argv, log);
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string find_key(const std::string& text) {
  std::smatch m;
  static const std::regex key("llmd_[A-Za-z0-9_]+");
  return std::regex_search(text, m, key) ? m.str() : "";
}

// utime + stime of a /proc/.../stat line, in seconds.
double stat_cpu(const std::string& stat) {
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

BenchServer::~BenchServer() { stop(); }

bool BenchServer::start(const BenchServerOptions& o) {
  char tmpl[] = "/tmp/llmd-bench-api.XXXXXX";
  if (!mkdtemp(tmpl)) return false;
  dir_ = tmpl;
  ca_file_ = dir_ + "/cert.pem";
  const std::string cert_cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " + dir_ + "/key.pem -out " + ca_file_ +
      " 2>/dev/null";
  if (std::system(cert_cmd.c_str()) != 0) {
    std::fprintf(stderr, "bench: openssl could not make a certificate\n");
    return false;
  }
  const std::string model = std::filesystem::canonical(o.model).string();
  std::ofstream(dir_ + "/llmd.toml")
      << "[metrics]\nport = 0\n[server]\naddress = \"127.0.0.1\"\nport = 0\nio_threads = " << o.io_threads << "\ndrain_timeout_s = 5\n"
      << "[tls]\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n"
      << "[limits]\n" << o.limits
      << "[log]\nlevel = \"notice\"\naccess_log = false\n"
      << "[paths]\nstate_dir = \"state\"\nmodel_dirs = [\"" << std::filesystem::path(model).parent_path().string()
      << "\"]\n[[models]]\nname = \"" << model_id_ << "\"\npath = \"" << model << "\"\nmax_sequences = "
      << o.max_sequences << "\nthreads = " << o.threads << "\n";
  for (const auto& [id, file] : o.extra_models) {
    std::ofstream(dir_ + "/llmd.toml", std::ios::app)
        << "[[models]]\nname = \"" << id << "\"\npath = \"" << std::filesystem::canonical(file).string()
        << "\"\nmax_sequences = " << o.max_sequences << "\nthreads = " << o.threads << "\n";
  }
  const std::string config = dir_ + "/llmd.toml";
  if (run_logged({o.llmd, "bootstrap-admin", "--config", config}, dir_ + "/bootstrap.log") != 0) {
    std::fprintf(stderr, "bench: bootstrap-admin failed:\n%s\n", read_text(dir_ + "/bootstrap.log").c_str());
    return false;
  }
  admin_key_ = find_key(read_text(dir_ + "/bootstrap.log"));
  const std::string& admin_key = admin_key_;

  const std::string log = dir_ + "/llmd.log";
  pid_ = spawn_logged({o.llmd, "serve", "--config", config}, log);
  const std::string ready = "ready: serving https://127.0.0.1:";
  for (int i = 0; i < 600; ++i) {
    std::string text = read_text(log);
    if (size_t at = text.find(ready); at != std::string::npos) {
      port_ = static_cast<std::uint16_t>(std::atoi(text.c_str() + at + ready.size()));
      break;
    }
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (port_ == 0) {
    std::fprintf(stderr, "bench: llmd did not get ready:\n%s\n", read_text(log).c_str());
    return false;
  }

  auto url = client::parse_url("https://127.0.0.1:" + std::to_string(port_));
  client::TlsOptions tls;
  tls.ca_file = ca_file_;
  client::HeaderList h = {{"authorization", "Bearer " + admin_key}, {"content-type", "application/json"}};
  auto team = client::https_request(*url, tls, "POST", "/admin/v1/teams", h, R"({"name":"bench","weight":1})");
  auto key = client::https_request(*url, tls, "POST", "/admin/v1/keys", h,
                                   R"({"team":"bench","name":"bench","role":"user"})");
  if (!team.ok() || team->status != 201 || !key.ok() || key->status != 201) {
    std::fprintf(stderr, "bench: could not create the team and key\n");
    return false;
  }
  user_key_ = find_key(key->body);
  return !user_key_.empty();
}

void BenchServer::stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

double BenchServer::cpu_seconds() const { return stat_cpu(read_text("/proc/" + std::to_string(pid_) + "/stat")); }

std::map<std::string, double> BenchServer::cpu_by_thread() const {
  std::map<std::string, double> out;
  const std::string task_dir = "/proc/" + std::to_string(pid_) + "/task";
  DIR* d = opendir(task_dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string stat = read_text(task_dir + "/" + e->d_name + "/stat");
    size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    out[stat.substr(open + 1, close - open - 1)] += stat_cpu(stat);
  }
  closedir(d);
  return out;
}

}  // namespace llmd::bench
