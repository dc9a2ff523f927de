#include "bench/soak/soak_probe.hpp"

#include <boost/json/parse.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tools/llmctl/https_client.hpp"

namespace llmd::bench {

Probe::Probe(pid_t pid, std::uint16_t port, std::string ca_file, std::string admin_key)
    : pid_(pid), port_(port), ca_file_(std::move(ca_file)), admin_key_(std::move(admin_key)) {}

ProbeSample Probe::sample() const {
  ProbeSample s;
  const std::string proc = "/proc/" + std::to_string(pid_);
  std::ifstream status(proc + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = std::stoll(line.substr(6));
  }
  std::error_code ec;
  int64_t fds = 0;
  for (auto it = std::filesystem::directory_iterator(proc + "/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    ++fds;
  }
  if (!ec) s.fds = fds;

  auto url = client::parse_url("https://127.0.0.1:" + std::to_string(port_));
  client::TlsOptions tls;
  tls.ca_file = ca_file_;
  auto res = client::https_request(*url, tls, "GET", "/admin/v1/stats", {{"authorization", "Bearer " + admin_key_}}, "");
  if (res.ok() && res->status == 200) {
    std::error_code jec;
    auto v = boost::json::parse(res->body, jec);
    if (!jec && v.is_object() && v.as_object().contains("models")) {
      int64_t blocks = 0;
      for (const auto& m : v.at("models").as_array()) {
        const auto& o = m.as_object();
        if (o.contains("kv_cache") && o.at("kv_cache").is_object() && o.at("kv_cache").as_object().contains("blocks_used")) {
          blocks += o.at("kv_cache").at("blocks_used").to_number<int64_t>();
        }
      }
      s.kv_blocks = blocks;
    }
  }
  return s;
}

}  // namespace llmd::bench
