// The real binaries as child processes: SIGTERM drains in-flight requests and
// exits 0, the drain timeout bounds it, the CLI's subcommands and exit codes,
// a TLS key others can read is refused.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <filesystem>

#include "tests/daemon/kit/child.hpp"
#include "tests/daemon/kit/conn.hpp"
#include "tests/daemon/kit/files.hpp"
#include "tests/daemon/kit/notify_socket.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;

std::string base_config(const TempDir& dir, const std::string& extra_server = "") {
  write_self_signed(dir.path());
  return "[server]\nport = 0\ndrain_timeout_s = 10\n" + extra_server +
         "\n[tls]\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n"
         "[paths]\nstate_dir = \".\"\n[metrics]\nport = 0\n";
}

// A running daemon whose port is learnt from its READY=1 notification.
struct Daemon {
  NotifySocket notify;
  std::unique_ptr<Child> child;
  std::uint16_t port = 0;

  Daemon(const std::string& binary, const std::filesystem::path& config) {
    child = Child::spawn({binary, "serve", "--config", config.string()}, {"NOTIFY_SOCKET=" + notify.address()});
    std::vector<std::string> seen;
    if (!notify.wait_for_line("READY=1", 30s, &seen)) return;
    std::string status = notify_field(seen.back(), "STATUS");
    port = static_cast<std::uint16_t>(std::stoi(status.substr(status.rfind(':') + 1)));
  }
};

TEST(Process, SigtermLetsTheSlowRequestFinishThenExitsZero) {
  TempDir dir;
  write_file(dir / "llmd.toml", base_config(dir));
  Daemon d(LLMD_TEST_DAEMON, dir / "llmd.toml");
  ASSERT_NE(d.port, 0) << d.child->output();

  auto slow = Conn::tls(d.port);
  ASSERT_TRUE(slow);
  auto idle = Conn::tls(d.port);
  ASSERT_TRUE(idle);
  ASSERT_EQ(get(*idle, "/healthz")->status, 200);
  ASSERT_TRUE(slow->send("GET /test/slow?ms=1500&api_key=sk-in-query HTTP/1.1\r\nHost: x\r\n"
                         "Authorization: Bearer sk-secret-value\r\nX-Api-Key: sk-other-secret\r\n\r\n"));
  ASSERT_TRUE(d.child->wait_for_output("test: slow request", 20s)) << d.child->output();

  d.child->signal(SIGTERM);
  std::vector<std::string> seen;
  EXPECT_TRUE(d.notify.wait_for_line("STOPPING=1", 20s, &seen));
  EXPECT_TRUE(idle->wait_closed(20s)) << "idle connections close when draining starts";

  auto r = read_reply(*slow);
  ASSERT_TRUE(r) << d.child->output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"slept_ms":1500})");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_EQ(d.child->wait_exit(30s), std::optional<int>(0)) << d.child->output();
  const std::string& out = d.child->output();
  EXPECT_NE(out.find("<5>Terminated received: draining"), std::string::npos) << out;
  EXPECT_NE(out.find("access remote=127.0.0.1:"), std::string::npos) << out;
  EXPECT_NE(out.find("path=/test/slow status=200"), std::string::npos) << out;
  EXPECT_NE(out.find(" slept_ms=1500"), std::string::npos) << out;  // a handler's log field
  // Credentials and query strings never reach the log.
  EXPECT_EQ(out.find("sk-"), std::string::npos) << out;
  EXPECT_EQ(out.find("Bearer"), std::string::npos) << out;
  EXPECT_NE(out.find("<5>stopped"), std::string::npos) << out;
  EXPECT_EQ(out.find("drain incomplete"), std::string::npos) << out;
}

TEST(Process, DrainTimeoutBoundsTheWait) {
  TempDir dir;
  std::string cfg = base_config(dir);
  cfg.replace(cfg.find("drain_timeout_s = 10"), 20, "drain_timeout_s = 0.5");
  write_file(dir / "llmd.toml", cfg);
  Daemon d(LLMD_TEST_DAEMON, dir / "llmd.toml");
  ASSERT_NE(d.port, 0) << d.child->output();
  auto slow = Conn::tls(d.port);
  ASSERT_TRUE(slow->send("GET /test/slow?ms=60000 HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(d.child->wait_for_output("test: slow request", 20s));
  auto start = std::chrono::steady_clock::now();
  d.child->signal(SIGINT);
  EXPECT_EQ(d.child->wait_exit(30s), std::optional<int>(0)) << d.child->output();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
  EXPECT_TRUE(slow->wait_closed(10s));
  EXPECT_NE(d.child->output().find("drain incomplete: closing 1 connection(s)"), std::string::npos)
      << d.child->output();
}

TEST(Process, StreamsFromTheTestDaemon) {
  TempDir dir;
  write_file(dir / "llmd.toml", base_config(dir));
  Daemon d(LLMD_TEST_DAEMON, dir / "llmd.toml");
  ASSERT_NE(d.port, 0) << d.child->output();
  auto c = Conn::tls(d.port);
  auto r = get(*c, "/test/stream?n=5&delay_ms=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "data: {\"i\":0}\n\ndata: {\"i\":1}\n\ndata: {\"i\":2}\n\ndata: {\"i\":3}\n\ndata: {\"i\":4}\n\n"
                     "data: [DONE]\n\n");
  d.child->signal(SIGTERM);
  EXPECT_EQ(d.child->wait_exit(30s), std::optional<int>(0));
}

TEST(Process, CheckConfig) {
  TempDir dir;
  write_file(dir / "good.toml", base_config(dir));
  auto ok = run_command({LLMD_BIN, "check-config", "--config", (dir / "good.toml").string()});
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_EQ(ok.output, (dir / "good.toml").string() + ": ok\n");

  write_file(dir / "bad.toml", base_config(dir) + "[limits]\nbody_bytes = \"big\"\nlimit = 1\n");
  auto bad = run_command({LLMD_BIN, "check-config", "--config", (dir / "bad.toml").string()});
  EXPECT_EQ(bad.status, 1);
  std::string f = (dir / "bad.toml").string();
  EXPECT_EQ(bad.output, f + ":13: limits.body_bytes: expected an integer, got a string\n" + f +
                            ":14: unknown key 'limit' in [limits]\n");

  // serve refuses it too, with the configuration exit status systemd will not restart on.
  auto serve = run_command({LLMD_BIN, "serve", "--config", (dir / "bad.toml").string()});
  EXPECT_EQ(serve.status, 78);
  EXPECT_NE(serve.output.find("unknown key 'limit' in [limits]"), std::string::npos) << serve.output;

  write_file(dir / "routes.toml", base_config(dir) + "[limits.route_body_bytes]\n\"/nope\" = 1\n");
  auto routes = run_command({LLMD_BIN, "check-config", "--config", (dir / "routes.toml").string()});
  EXPECT_EQ(routes.status, 1);
  EXPECT_EQ(routes.output, (dir / "routes.toml").string() + ":13: limits.route_body_bytes: no route '/nope'\n");

  write_file(dir / "key.pem", "not a key\n");
  auto tls = run_command({LLMD_BIN, "check-config", "--config", (dir / "good.toml").string()});
  EXPECT_EQ(tls.status, 1);
  EXPECT_NE(tls.output.find((dir / "good.toml").string() + ":7: tls.key_file: cannot load private key"),
            std::string::npos)
      << tls.output;
}

TEST(Process, RefusesATlsKeyOthersCanReadAndServesAPrivateOne) {
  TempDir dir;
  write_file(dir / "llmd.toml", base_config(dir));
  const std::string key = (dir / "key.pem").string();
  std::filesystem::permissions(dir / "key.pem", std::filesystem::perms(0644));
  auto refused = run_command({LLMD_BIN, "serve", "--config", (dir / "llmd.toml").string()});
  EXPECT_EQ(refused.status, 78) << refused.output;
  EXPECT_NE(refused.output.find(":7: tls.key_file: the private key '" + key + "' is readable by others (mode 0644); " +
                                "a private key must be private to llmd's user: chmod 600 '" + key + "'"),
            std::string::npos)
      << refused.output;

  std::filesystem::permissions(dir / "key.pem", std::filesystem::perms(0600));
  Daemon d(LLMD_BIN, dir / "llmd.toml");
  ASSERT_NE(d.port, 0) << d.child->output();
  auto c = Conn::tls(d.port);
  ASSERT_TRUE(c);
  auto r = get(*c, "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  d.child->signal(SIGTERM);
  EXPECT_EQ(d.child->wait_exit(30s), std::optional<int>(0)) << d.child->output();
}

TEST(Process, CommandLine) {
  auto version = run_command({LLMD_BIN, "--version"});
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.output.rfind("llmd ", 0), 0u);
  auto help = run_command({LLMD_BIN, "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.output.find("check-config"), std::string::npos);
  EXPECT_NE(help.output.find("gguf"), std::string::npos);  // engine commands are listed
  auto unknown = run_command({LLMD_BIN, "frobnicate"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.output.find("unknown command 'frobnicate'"), std::string::npos) << unknown.output;
  auto extra = run_command({LLMD_BIN, "serve", "--bogus"});
  EXPECT_EQ(extra.status, 2);
  auto missing = run_command({LLMD_BIN, "serve", "--config", "/nonexistent/llmd.toml"});
  EXPECT_EQ(missing.status, 78);
  EXPECT_NE(missing.output.find("cannot read config file '/nonexistent/llmd.toml'"), std::string::npos);
}

TEST(Process, EngineCommandsRunFromTheSameBinary) {
  TempDir dir;
  auto info = run_command({LLMD_BIN, "gguf", (dir / "absent.gguf").string()});
  EXPECT_NE(info.status, 0);
  EXPECT_NE(info.output.find("absent.gguf"), std::string::npos) << info.output;
  EXPECT_EQ(info.output.find("unknown command"), std::string::npos) << info.output;
}

TEST(Process, PortInUseFailsClearly) {
  TempDir dir;
  write_file(dir / "llmd.toml", base_config(dir));
  Daemon first(LLMD_BIN, dir / "llmd.toml");
  ASSERT_NE(first.port, 0) << first.child->output();
  std::string cfg = base_config(dir);
  cfg.replace(cfg.find("port = 0"), 8, "port = " + std::to_string(first.port));
  // Its own state directory: a shared one is refused before the port is tried.
  cfg.replace(cfg.find("state_dir = \".\""), 15, "state_dir = \"second\"");
  write_file(dir / "second.toml", cfg);
  auto second = run_command({LLMD_BIN, "serve", "--config", (dir / "second.toml").string()});
  EXPECT_EQ(second.status, 1);
  EXPECT_NE(second.output.find("cannot listen on 127.0.0.1:" + std::to_string(first.port)), std::string::npos)
      << second.output;
  first.child->signal(SIGTERM);
  EXPECT_EQ(first.child->wait_exit(30s), std::optional<int>(0));
}

}  // namespace
}  // namespace llmd::test
