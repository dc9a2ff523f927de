// The llmd under test for the API benchmark: a real `llmd serve` child process
// on a loopback port with a self-signed certificate, serving one model, with
// a team and a user key made through the admin API. Reads the process's CPU
// time from /proc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace llmd::bench {

struct BenchServerOptions {
  std::string llmd;        // the llmd binary
  std::string model;       // GGUF file
  int max_sequences = 32;
  int threads = 1;         // engine threads
  int io_threads = 2;
  // More models served next to `model`: (id, GGUF file in the same folder).
  std::vector<std::pair<std::string, std::string>> extra_models;
  std::string limits;      // keys of the [limits] table, one per line
};

class BenchServer {
 public:
  ~BenchServer();
  // Starts the server; on failure prints why and returns false.
  bool start(const BenchServerOptions& options);
  void stop();

  std::uint16_t port() const { return port_; }
  const std::string& ca_file() const { return ca_file_; }
  const std::string& user_key() const { return user_key_; }
  const std::string& model_id() const { return model_id_; }
  const std::string& admin_key() const { return admin_key_; }
  pid_t pid() const { return pid_; }

  // User + system CPU seconds of the whole process so far.
  double cpu_seconds() const;
  // The same per thread name ("llmd-io", "llmd-<model>", ...), summed over threads of that name.
  std::map<std::string, double> cpu_by_thread() const;

 private:
  std::string dir_;
  std::string ca_file_;
  std::string user_key_;
  std::string admin_key_;
  std::string model_id_ = "bench";
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace llmd::bench
