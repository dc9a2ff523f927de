// GET /metrics of the real llmd after real traffic: the exposition passes
// `promtool check metrics`, counters match what was sent, labels stay
// bounded, and the listener answers only /metrics (with the bearer token when
// one is configured).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cstdio>
#include <fstream>
#include <regex>

#include "tests/daemon/kit/files.hpp"
#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

struct PlainResponse {
  int status = 0;
  std::string body;
};

// One plain HTTP/1.1 request to 127.0.0.1:port (the listener is not TLS).
PlainResponse plain_get(std::uint16_t port, const std::string& path, const std::string& extra_headers = "") {
  PlainResponse out;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return out;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra_headers + "\r\n";
    (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string all;
    char buf[8192];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) all.append(buf, static_cast<size_t>(n));
    if (all.rfind("HTTP/1.1 ", 0) == 0) out.status = std::stoi(all.substr(9, 3));
    const size_t body = all.find("\r\n\r\n");
    if (body != std::string::npos) out.body = all.substr(body + 4);
  }
  ::close(fd);
  return out;
}

std::uint16_t metrics_port(ApiServer& server) {
  const std::string logs = server.logs();
  const std::string marker = "metrics: http://127.0.0.1:";
  const size_t at = logs.find(marker);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no metrics listener in the log:\n" << logs;
    return 0;
  }
  return static_cast<std::uint16_t>(std::stoi(logs.substr(at + marker.size())));
}

// The value of the sample whose line starts with `series` (name and labels,
// labels in the exposition's order), or -1.
double value_of(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series, at)) != std::string::npos) {
    if ((at == 0 || text[at - 1] == '\n') && text[at + series.size()] == ' ') {
      return std::stod(text.substr(at + series.size() + 1));
    }
    at += series.size();
  }
  return -1;
}

// Runs promtool over the exposition; "" when it is clean, else its complaints.
std::string promtool_check(const std::string& text, const TempDir& dir) {
  const std::string file = (dir.path() / "metrics.txt").string();
  std::ofstream(file) << text;
  const std::string cmd = "promtool check metrics < " + file + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "cannot run promtool";
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int rc = ::pclose(p);
  return rc == 0 ? "" : (out.empty() ? "promtool failed" : out);
}

TEST(Metrics, CountersMatchTheTrafficAndPromtoolAcceptsTheExposition) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "promtool (Debian package prometheus) is not installed";
  ApiServer server;
  ASSERT_TRUE(server.ok());
  const std::uint16_t port = metrics_port(server);
  ASSERT_NE(port, 0);
  const std::string key = server.make_team_key(R"({"name":"metered","weight":2,"rpm_limit":3})");

  int64_t prompt = 0, completion = 0;
  for (int i = 0; i < 3; ++i) {
    auto r = server.call("POST", "/v1/completions",
                         R"({"model":"synth","prompt":"count me )" + std::to_string(i) + R"(","max_tokens":5,"temperature":0})",
                         &key);
    ASSERT_EQ(r.status, 200) << r.body;
    auto u = boost::json::parse(r.body).at("usage");
    prompt += u.at("prompt_tokens").to_number<int64_t>();
    completion += u.at("completion_tokens").to_number<int64_t>();
  }
  auto bad = server.call("POST", "/v1/completions", R"({"model":"synth","prompt":"x","max_tokens":0})", &key);
  EXPECT_EQ(bad.status, 400);
  auto unknown = server.call("POST", "/v1/completions", R"({"model":"no-such-model","prompt":"x"})", &key);
  EXPECT_EQ(unknown.status, 404);
  auto limited = server.call("POST", "/v1/completions", R"({"model":"synth","prompt":"x","max_tokens":1})", &key);
  EXPECT_EQ(limited.status, 429) << limited.body;

  // The observer runs as each response ends: allow the last one to land.
  PlainResponse m;
  for (int i = 0; i < 50; ++i) {
    m = plain_get(port, "/metrics");
    if (value_of(m.body, R"(llmd_requests_total{endpoint="completions",model="synth",status="429",team="metered"})") == 1) break;
    usleep(20000);
  }
  ASSERT_EQ(m.status, 200);
  TempDir dir;
  EXPECT_EQ(promtool_check(m.body, dir), "");

  const std::string t = m.body;
  if (std::getenv("LLMD_SHOW_METRICS")) std::printf("%s", t.c_str());
  EXPECT_EQ(value_of(t, R"(llmd_requests_total{endpoint="completions",model="synth",status="200",team="metered"})"), 3);
  // A body that does not parse names no model; nor does an unknown model
  // (labels take configured ids only).
  EXPECT_EQ(value_of(t, R"(llmd_requests_total{endpoint="completions",model="",status="400",team="metered"})"), 1);
  EXPECT_EQ(value_of(t, R"(llmd_requests_total{endpoint="completions",model="",status="404",team="metered"})"), 1);
  EXPECT_EQ(t.find("no-such-model"), std::string::npos);
  EXPECT_EQ(value_of(t, R"(llmd_requests_total{endpoint="completions",model="synth",status="429",team="metered"})"), 1);
  EXPECT_EQ(value_of(t, R"(llmd_refusals_total{reason="rate_limit_exceeded",team="metered"})"), 1);
  EXPECT_EQ(value_of(t, R"(llmd_tokens_total{kind="prompt",model="synth",team="metered"})"), static_cast<double>(prompt));
  EXPECT_EQ(value_of(t, R"(llmd_tokens_total{kind="completion",model="synth",team="metered"})"),
            static_cast<double>(completion));
  EXPECT_EQ(value_of(t, R"(llmd_time_to_first_token_seconds_count{model="synth"})"), 3);
  EXPECT_EQ(value_of(t, R"(llmd_request_duration_seconds_count{model="synth"})"), 3);
  EXPECT_EQ(value_of(t, R"(llmd_model_state{model="synth",state="ready"})"), 1);
  EXPECT_EQ(value_of(t, R"(llmd_model_state{model="synth",state="failed"})"), 0);
  EXPECT_EQ(value_of(t, R"(llmd_model_loads_total{model="synth"})"), 1);
  EXPECT_GT(value_of(t, R"(llmd_kv_blocks{model="synth",state="total"})"), 0);
  EXPECT_EQ(value_of(t, R"(llmd_requests_running{model="synth"})"), 0);
  EXPECT_GT(value_of(t, R"(llmd_device_memory_bytes{device="cpu",kind="budget"})"), 0);
  EXPECT_GT(value_of(t, R"(llmd_device_memory_bytes{device="cpu",kind="used"})"), 0);
  EXPECT_GT(value_of(t, R"(llmd_device_busy_seconds_total{device="cpu"})"), 0);
  EXPECT_GE(value_of(t, R"(llmd_device_handovers_total{device="cpu"})"), 0);
  EXPECT_GT(value_of(t, "process_resident_memory_bytes"), 0);
  EXPECT_GT(value_of(t, "process_open_fds"), 0);
  // Bounded labels: never a key, its id or a request id.
  EXPECT_EQ(t.find(key.substr(0, 12)), std::string::npos);
  EXPECT_EQ(t.find("req_"), std::string::npos);

  // Only /metrics, only GET.
  EXPECT_EQ(plain_get(port, "/").status, 404);
  EXPECT_EQ(plain_get(port, "/v1/models").status, 404);
}

TEST(Metrics, ABearerTokenIsRequiredWhenConfigured) {
  ApiServerOptions o;
  o.files.emplace_back("metrics.token", "s3cret-scrape-token\n");
  o.tables = "[metrics]\nport = 0\ntoken_file = \"metrics.token\"\n";
  ApiServer server(o);
  ASSERT_TRUE(server.ok());
  const std::uint16_t port = metrics_port(server);
  EXPECT_EQ(plain_get(port, "/metrics").status, 401);
  EXPECT_EQ(plain_get(port, "/metrics", "Authorization: Bearer wrong-token-of-same-size\r\n").status, 401);
  const PlainResponse ok = plain_get(port, "/metrics", "Authorization: Bearer s3cret-scrape-token\r\n");
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(ok.body.find("llmd_model_state"), std::string::npos);
  // The token never reaches the log.
  EXPECT_EQ(server.logs().find("s3cret-scrape-token"), std::string::npos);
}

}  // namespace
}  // namespace llmd::test
