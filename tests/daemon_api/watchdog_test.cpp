// The systemd watchdog follows the engine loops: with WATCHDOG_USEC set and a
// real NOTIFY_SOCKET, WATCHDOG=1 keeps coming while the model is idle, stops
// while one of its forward steps hangs (the test daemon makes the third step
// sleep, as a hung GPU kernel would), and comes back once the step ends.
#include <gtest/gtest.h>

#include <thread>

#include "tests/daemon/kit/notify_socket.hpp"
#include "tests/daemon_api/api_server.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

TEST(Watchdog, PingsStopWhileAnEngineStepHangsAndComeBackAfter) {
  NotifySocket notify;
  ApiServerOptions o;
  o.binary = LLMD_TEST_DAEMON;
  // Pings every 200 ms; a step longer than that (the default bound) stops them.
  o.env = {"NOTIFY_SOCKET=" + notify.address(), "WATCHDOG_USEC=400000", "WATCHDOG_PID",
           "LLMD_TEST_BACKEND_HANGS_AFTER=3", "LLMD_TEST_BACKEND_HANG_MS=4000"};
  ApiServer server(o);
  ASSERT_TRUE(server.ok());

  // Idle: the engine loop waits for work and counts as healthy.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(notify.wait_for_line("WATCHDOG=1", 5s)) << server.logs();

  int status = 0;
  std::thread client([&] {
    status = server.call("POST", "/v1/completions", R"({"model":"synth","prompt":"hello","max_tokens":8,"temperature":0})")
                 .status;
  });
  ASSERT_TRUE(server.wait_for_log("test: forward step 3 hangs", 30s)) << server.logs();
  // The stall seen after the hang began (a slow step before it, as under a
  // sanitizer, may have been reported already).
  const auto stalled_after_hang = [&] {
    const std::string logs = server.logs();
    return logs.find("watchdog: model 'synth' has been in one engine step", logs.find("test: forward step 3 hangs")) !=
           std::string::npos;
  };
  const auto seen_by = std::chrono::steady_clock::now() + 5s;
  while (!stalled_after_hang() && std::chrono::steady_clock::now() < seen_by) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(stalled_after_hang()) << server.logs();
  // Pings sent before the stall was seen may still be queued.
  while (notify.receive(1ms)) {
  }
  const auto window_end = std::chrono::steady_clock::now() + 1500ms;
  int pings = 0;
  while (std::chrono::steady_clock::now() < window_end) {
    auto m = notify.receive(100ms);
    if (m && m->find("WATCHDOG=1") != std::string::npos) ++pings;
  }
  EXPECT_EQ(pings, 0) << "WATCHDOG=1 was sent while the engine step hung";

  client.join();
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(server.wait_for_log("watchdog: model 'synth' moves again", 10s)) << server.logs();
  EXPECT_TRUE(notify.wait_for_line("WATCHDOG=1", 5s)) << server.logs();
  EXPECT_TRUE(notify.wait_for_line("WATCHDOG=1", 5s)) << server.logs();
}

}  // namespace
}  // namespace llmd::test
