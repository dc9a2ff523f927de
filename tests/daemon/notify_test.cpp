// sd_notify: llmd talks to a real unix datagram socket named in NOTIFY_SOCKET,
// exactly as systemd would receive it.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>

#include "tests/daemon/kit/child.hpp"
#include "tests/daemon/kit/conn.hpp"
#include "tests/daemon/kit/files.hpp"
#include "tests/daemon/kit/notify_socket.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

std::filesystem::path write_config(const TempDir& dir) {
  write_self_signed(dir.path());
  write_file(dir / "llmd.toml",
             "[metrics]\nport = 0\n[server]\nport = 0\n[tls]\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n[log]\nlevel = \"info\"\n"
             "[paths]\nstate_dir = \"state\"\n");
  return dir / "llmd.toml";
}

TEST(Notify, ReadyWatchdogAndStopping) {
  TempDir dir;
  NotifySocket notify;
  auto child = Child::spawn({LLMD_BIN, "serve", "--config", write_config(dir).string()},
                            {"NOTIFY_SOCKET=" + notify.address(), "WATCHDOG_USEC=200000", "WATCHDOG_PID"});
  std::vector<std::string> seen;
  ASSERT_TRUE(notify.wait_for_line("READY=1", 30s, &seen)) << child->output();
  std::string status = notify_field(seen.back(), "STATUS");
  EXPECT_EQ(status.rfind("serving https://127.0.0.1:", 0), 0u) << status;

  // READY=1 is sent only once the port accepts connections.
  auto port = static_cast<std::uint16_t>(std::stoi(status.substr(status.rfind(':') + 1)));
  auto c = Conn::tls(port);
  ASSERT_TRUE(c);
  EXPECT_EQ(get(*c, "/readyz")->status, 200);

  // WATCHDOG_USEC = 200 ms: pings every 100 ms.
  ASSERT_TRUE(notify.wait_for_line("WATCHDOG=1", 10s));
  ASSERT_TRUE(notify.wait_for_line("WATCHDOG=1", 10s));

  child->signal(SIGTERM);
  seen.clear();
  ASSERT_TRUE(notify.wait_for_line("STOPPING=1", 10s, &seen)) << child->output();
  EXPECT_EQ(notify_field(seen.back(), "STATUS"), "draining");
  EXPECT_EQ(child->wait_exit(30s), std::optional<int>(0)) << child->output();
}

TEST(Notify, WithoutNotifySocketItIsANoOp) {
  TempDir dir;
  auto child = Child::spawn({LLMD_BIN, "serve", "--config", write_config(dir).string()},
                            {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"});
  ASSERT_TRUE(child->wait_for_output("ready: serving https://127.0.0.1:", 30s)) << child->output();
  child->signal(SIGTERM);
  EXPECT_EQ(child->wait_exit(30s), std::optional<int>(0)) << child->output();
  EXPECT_EQ(child->output().find("sd_notify failed"), std::string::npos);
}

}  // namespace
}  // namespace llmd::test
