// Fair share through the API, with closed-loop clients: each client thread
// sends its next completion as soon as the previous answer is in, over its
// own verified TLS connection, with its team's key. Shares are read from the
// server's own counters (GET /admin/v1/stats) over a window after warm-up.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <atomic>
#include <regex>
#include <thread>

#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

struct Clients {
  std::string key;
  std::string model;
  int count = 0;
};

// Runs the client groups until `stop` is set.
class ClosedLoopClients {
 public:
  ClosedLoopClients(ApiServer& server, std::vector<Clients> groups) : server_(server) {
    for (const Clients& g : groups) {
      for (int i = 0; i < g.count; ++i) {
        threads_.emplace_back([this, g, i] { run(g, i); });
      }
    }
  }
  ~ClosedLoopClients() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  int failures() const { return failures_.load(); }

 private:
  void run(const Clients& g, int i) {
    const std::string body = R"({"model":")" + g.model + R"(","prompt":"client )" + std::to_string(i) +
                             R"( asks again","max_tokens":32,"temperature":0,"ignore_eos":true})";
    while (!stop_) {
      auto r = server_.call("POST", "/v1/completions", body, &g.key);
      if (r.status != 200) ++failures_;
    }
  }

  ApiServer& server_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failures_{0};
  std::vector<std::thread> threads_;
};

boost::json::object stats(ApiServer& server) {
  auto r = server.call("GET", "/admin/v1/stats", "", &server.admin_key());
  EXPECT_EQ(r.status, 200) << r.body;
  std::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  return (!ec && v.is_object()) ? v.as_object() : boost::json::object{};
}

// Completion tokens per team on `model`, from the scheduler's counters.
std::map<std::string, double> completion_tokens(const boost::json::object& s, const std::string& model) {
  std::map<std::string, double> out;
  for (const auto& m : s.at("models").as_array()) {
    if (m.at("id").as_string() != model) continue;
    for (const auto& t : m.at("teams").as_array()) {
      out[std::string(t.at("team").as_string())] = static_cast<double>(t.at("completion_tokens").to_number<int64_t>());
    }
  }
  return out;
}

// Device seconds per team on the first device.
std::map<std::string, double> device_seconds(const boost::json::object& s) {
  std::map<std::string, double> out;
  const auto& devices = s.at("devices").as_array();
  if (devices.empty()) return out;
  for (const auto& t : devices[0].at("teams").as_array()) {
    out[std::string(t.at("team").as_string())] = t.at("device_seconds").to_number<double>();
  }
  return out;
}

double share_of(const std::map<std::string, double>& before, const std::map<std::string, double>& after,
                const std::string& team) {
  double total = 0, mine = 0;
  for (const auto& [t, v] : after) {
    const double d = v - (before.count(t) ? before.at(t) : 0.0);
    total += d;
    if (t == team) mine = d;
  }
  return total > 0 ? mine / total : 0.0;
}

ApiServerOptions slow_server(int max_sequences, const std::string& extra_models = "") {
  ApiServerOptions o;
  o.custom_shape = slow_shape("test-fair");
  o.max_sequences = max_sequences;
  o.models_extra = extra_models;
  return o;
}

TEST(FairShareApi, WeightsOneToThreeHoldWithClosedLoopClients) {
  ApiServer server(slow_server(8));
  ASSERT_TRUE(server.ok());
  const std::string a = server.make_team_key(R"({"name":"team-a","weight":1})");
  const std::string b = server.make_team_key(R"({"name":"team-b","weight":3})");
  // Team b has exactly max_sequences clients, team a twice as many.
  ClosedLoopClients clients(server, {{a, "synth", 16}, {b, "synth", 8}});
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const auto before = completion_tokens(stats(server), "synth");
  std::this_thread::sleep_for(std::chrono::seconds(10));
  const auto after = completion_tokens(stats(server), "synth");
  const double b_share = share_of(before, after, "team-b");
  std::printf("  team-b's share of completion tokens: %.3f\n", b_share);
  EXPECT_NEAR(b_share, 0.75, 0.05);
  EXPECT_EQ(clients.failures(), 0);
}

TEST(FairShareApi, TwoModelsOnOneDeviceShareItsTimeByWeight) {
  // A second id of the same file: two models, each with its own loop, on the one CPU device.
  ApiServer server(slow_server(8, "\n[[models]]\nname = \"synth-b\"\npath = \"synth.gguf\"\nthreads = 1\n"
                                  "max_sequences = 8\n"));
  ASSERT_TRUE(server.ok());
  const std::string a = server.make_team_key(R"({"name":"team-a","weight":1})");
  const std::string b = server.make_team_key(R"({"name":"team-b","weight":1})");
  ClosedLoopClients clients(server, {{a, "synth", 12}, {b, "synth-b", 12}});
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const auto before = device_seconds(stats(server));
  std::this_thread::sleep_for(std::chrono::seconds(10));
  const boost::json::object end = stats(server);
  const auto after = device_seconds(end);
  const double b_share = share_of(before, after, "team-b");
  std::printf("  team-b's share of device time: %.3f\n", b_share);
  EXPECT_NEAR(b_share, 0.5, 0.05);
  EXPECT_EQ(clients.failures(), 0);
  // The two loops took turns on the device, several steps to a turn at most.
  const auto& device = end.at("devices").as_array().at(0).as_object();
  const int64_t handovers = device.at("handovers").to_number<int64_t>();
  EXPECT_GT(handovers, 10);
  EXPECT_LE(handovers, device.at("turns").to_number<int64_t>());
}

TEST(FairShareApi, PriorityValuesAreChecked) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  auto bad = server.call("POST", "/v1/completions", R"({"model":"synth","prompt":"x","max_tokens":1,"priority":"urgent"})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("priority"), std::string::npos);
  auto tier = server.call("POST", "/v1/completions", R"({"model":"synth","prompt":"x","max_tokens":1,"service_tier":"scale"})");
  EXPECT_EQ(tier.status, 400) << tier.body;
  EXPECT_NE(tier.body.find("service_tier"), std::string::npos);
  for (const char* ok : {R"("priority":"batch")", R"("priority":"interactive")", R"("service_tier":"flex")",
                         R"("service_tier":"auto")"}) {
    auto r = server.call("POST", "/v1/completions",
                         std::string(R"({"model":"synth","prompt":"x","max_tokens":2,)") + ok + "}");
    EXPECT_EQ(r.status, 200) << ok << ": " << r.body;
  }
}

int64_t team_batch_tokens(ApiServer& server, const std::string& team) {
  const boost::json::object s = stats(server);
  for (const auto& m : s.at("models").as_array()) {
    for (const auto& t : m.at("teams").as_array()) {
      if (t.at("team").as_string() == team) return t.at("batch_tokens").to_number<int64_t>();
    }
  }
  return -1;
}

TEST(FairShareApi, AKeyCanMakeItsRequestsBatchWork) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  auto team = server.call("POST", "/admin/v1/teams", R"({"name":"nightly","weight":1})", &server.admin_key());
  ASSERT_EQ(team.status, 201) << team.body;
  auto bad = server.call("POST", "/admin/v1/keys", R"({"team":"nightly","name":"k","priority":"urgent"})",
                         &server.admin_key());
  EXPECT_EQ(bad.status, 400) << bad.body;
  auto made = server.call("POST", "/admin/v1/keys", R"({"team":"nightly","name":"job","priority":"batch"})",
                          &server.admin_key());
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_NE(made.body.find(R"("priority":"batch")"), std::string::npos) << made.body;
  std::smatch found;
  ASSERT_TRUE(std::regex_search(made.body, found, std::regex("llmd_[A-Za-z0-9_]+")));
  const std::string key = found.str();
  const std::string body = R"({"model":"synth","prompt":"tonight's report","max_tokens":4,"temperature":0})";
  ASSERT_EQ(server.call("POST", "/v1/completions", body, &key).status, 200);
  const int64_t after_batch = team_batch_tokens(server, "nightly");
  EXPECT_GT(after_batch, 0);
  // The request's own choice wins over its key's.
  const std::string interactive =
      R"({"model":"synth","prompt":"an urgent one","max_tokens":4,"temperature":0,"priority":"interactive"})";
  ASSERT_EQ(server.call("POST", "/v1/completions", interactive, &key).status, 200);
  EXPECT_EQ(team_batch_tokens(server, "nightly"), after_batch);
}

TEST(FairShareApi, ARateLimitedTeamIsRefusedBeforeItsPromptIsRead) {
  ApiServer server;
  ASSERT_TRUE(server.ok());
  const std::string key = server.make_team_key(R"({"name":"limited","weight":1,"rpm_limit":1})");
  auto first = server.call("POST", "/v1/completions", R"({"model":"synth","prompt":"x","max_tokens":1})", &key);
  EXPECT_EQ(first.status, 200) << first.body;
  // A prompt with a token id outside the vocabulary is a 400 once it is read;
  // the empty RPM bucket answers first, without reading it.
  auto second = server.call("POST", "/v1/completions", R"({"model":"synth","prompt":[1,999999],"max_tokens":1})", &key);
  EXPECT_EQ(second.status, 429) << second.body;
  EXPECT_NE(second.body.find("rate_limit_exceeded"), std::string::npos) << second.body;
}

}  // namespace
}  // namespace llmd::test
