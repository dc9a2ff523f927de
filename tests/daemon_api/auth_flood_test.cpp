// A flood of well-formed, unknown API keys against the real llmd: each is
// refused (401, or 503 while too many lookups wait), never with a 500 and
// never by hanging, while a valid key goes on being served and stays cached.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "auth/api_key.hpp"
#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

TEST(AuthFlood, UnknownKeysAreRefusedWhileAValidKeyIsServed) {
  ApiServer srv;
  ASSERT_TRUE(srv.ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 150;
  std::atomic<int> refused{0}, busy{0}, other{0};
  std::atomic<int> finished{0};
  std::vector<std::thread> flood;
  for (int t = 0; t < kThreads; ++t) {
    flood.emplace_back([&] {
      auto c = Conn::tls(srv.port());
      for (int i = 0; c && i < kPerThread; ++i) {
        auto key = auth::generate_api_key();
        if (!key.ok()) break;
        c->set_timeout(10s);
        if (!c->send("GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key->key + "\r\n\r\n")) break;
        auto r = read_reply(*c);
        if (!r) {
          ++other;
          break;
        }
        if (r->status == 401) {
          ++refused;
        } else if (r->status == 503) {
          ++busy;
        } else {
          ++other;
        }
      }
      ++finished;
    });
  }
  int served = 0, failed = 0;
  while (finished < kThreads) {
    srv.logs();  // drains the server's output (an access-log line per request) so that it never blocks on it
    auto r = srv.call("GET", "/v1/models");
    (r.status == 200) ? ++served : ++failed;
    std::this_thread::sleep_for(20ms);
  }
  for (auto& t : flood) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(refused + busy, kThreads * kPerThread);
  EXPECT_GT(served, 0);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(srv.call("GET", "/v1/models").status, 200);
  EXPECT_EQ(srv.logs().find("key lookup failed"), std::string::npos);
}

}  // namespace
}  // namespace llmd::test
