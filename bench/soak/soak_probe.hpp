// What the soak watches on the server: its resident memory and open file
// descriptors (from /proc), and the KV-cache blocks in use on every model
// (from GET /admin/v1/stats).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace llmd::bench {

struct ProbeSample {
  int64_t rss_kb = -1;     // VmRSS
  int64_t fds = -1;        // entries of /proc/PID/fd
  int64_t kv_blocks = -1;  // blocks_used summed over the models that are loaded
};

class Probe {
 public:
  Probe(pid_t pid, std::uint16_t port, std::string ca_file, std::string admin_key);
  ProbeSample sample() const;

 private:
  pid_t pid_;
  std::uint16_t port_;
  std::string ca_file_;
  std::string admin_key_;
};

}  // namespace llmd::bench
