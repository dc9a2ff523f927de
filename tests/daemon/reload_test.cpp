// SIGHUP (systemctl reload) on the real test daemon: a rotated certificate
// reaches new connections while a stream opened before goes on to its end;
// RELOADING=1 (with MONOTONIC_USEC) and READY=1 reach a real NOTIFY_SOCKET;
// an invalid file or certificate is refused and the running configuration
// keeps serving; new limits apply to new connections; what needs a restart
// is named in the log.
#include <gtest/gtest.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "tests/daemon/kit/child.hpp"
#include "tests/daemon/kit/conn.hpp"
#include "tests/daemon/kit/files.hpp"
#include "tests/daemon/kit/notify_socket.hpp"

namespace llmd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string config_text(const std::string& limits = "", const std::string& server = "") {
  return "[server]\nport = 0\ndrain_timeout_s = 10\n" + server +
         "[tls]\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n"
         "[limits]\n" + limits + "[log]\nlevel = \"info\"\n[paths]\nstate_dir = \".\"\n[metrics]\nport = 0\n";
}

struct Daemon {
  NotifySocket notify;
  std::unique_ptr<Child> child;
  std::uint16_t port = 0;

  explicit Daemon(const fs::path& config) {
    child = Child::spawn({LLMD_TEST_DAEMON, "serve", "--config", config.string()},
                         {"NOTIFY_SOCKET=" + notify.address(), "WATCHDOG_USEC", "WATCHDOG_PID"});
    std::vector<std::string> seen;
    if (!notify.wait_for_line("READY=1", 30s, &seen)) return;
    std::string status = notify_field(seen.back(), "STATUS");
    port = static_cast<std::uint16_t>(std::stoi(status.substr(status.rfind(':') + 1)));
  }

  // SIGHUP, then the RELOADING=1 and READY=1 it brings; the READY=1 message.
  std::string reload() {
    child->signal(SIGHUP);
    std::vector<std::string> seen;
    EXPECT_TRUE(notify.wait_for_line("RELOADING=1", 20s, &seen)) << child->output();
    if (seen.empty()) return "";
    const std::string reloading = seen.back();
    // MONOTONIC_USEC: CLOCK_MONOTONIC when the reload began, as systemd requires.
    struct timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const long long now_us = static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
    const std::string usec = notify_field(reloading, "MONOTONIC_USEC");
    EXPECT_FALSE(usec.empty()) << reloading;
    if (!usec.empty()) {
      const long long sent = std::stoll(usec);
      EXPECT_LE(sent, now_us);
      EXPECT_GT(sent, now_us - 20'000'000);
    }
    seen.clear();
    EXPECT_TRUE(notify.wait_for_line("READY=1", 30s, &seen)) << child->output();
    return seen.empty() ? "" : seen.back();
  }
};

// The certificate a new TLS connection to `port` is served.
X509* served_certificate(std::uint16_t port) {
  auto c = Conn::tls(port);
  if (!c) return nullptr;
  return SSL_get1_peer_certificate(c->ssl());
}

X509* certificate_file(const fs::path& file) {
  FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return nullptr;
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return x;
}

bool same_certificate(X509* a, X509* b) { return a != nullptr && b != nullptr && X509_cmp(a, b) == 0; }

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

TEST(Reload, NewConnectionsGetTheNewCertificateWhileAnOpenStreamGoesOn) {
  TempDir dir;
  write_self_signed(dir.path());
  write_file(dir / "llmd.toml", config_text());
  Daemon d(dir / "llmd.toml");
  ASSERT_NE(d.port, 0) << d.child->output();
  X509* old_cert = certificate_file(dir / "cert.pem");
  X509* before = served_certificate(d.port);
  EXPECT_TRUE(same_certificate(before, old_cert));

  // A stream of 20 events, 150 ms apart, opened before the reload.
  auto stream = Conn::tls(d.port);
  ASSERT_TRUE(stream);
  stream->set_timeout(20s);
  ASSERT_TRUE(stream->send("GET /test/stream?n=20&delay_ms=150 HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = read_head(*stream);
  ASSERT_TRUE(head);
  ASSERT_EQ(head->status, 200);
  std::string events;
  auto chunk = read_chunk(*stream);
  ASSERT_TRUE(chunk && !chunk->empty());
  events += *chunk;

  // Rotate: a new key and certificate at the same paths.
  TempDir fresh;
  write_self_signed(fresh.path());
  fs::copy_file(fresh / "cert.pem", dir / "cert.pem", fs::copy_options::overwrite_existing);
  fs::copy_file(fresh / "key.pem", dir / "key.pem", fs::copy_options::overwrite_existing);
  const std::string ready = d.reload();
  EXPECT_EQ(notify_field(ready, "STATUS"), "serving https://127.0.0.1:" + std::to_string(d.port));
  EXPECT_TRUE(d.child->wait_for_output("<5>reloaded ", 10s)) << d.child->output();

  X509* new_cert = certificate_file(dir / "cert.pem");
  X509* after = served_certificate(d.port);
  EXPECT_TRUE(same_certificate(after, new_cert)) << "a new connection gets the new certificate";
  EXPECT_FALSE(same_certificate(after, old_cert));
  // The stream opened before is still going, and goes on to its end.
  EXPECT_EQ(events.find("[DONE]"), std::string::npos) << "the stream ended before the reload";
  while (events.find("[DONE]") == std::string::npos) {
    chunk = read_chunk(*stream);
    ASSERT_TRUE(chunk) << "the stream broke after " << events;
    if (chunk->empty()) break;
    events += *chunk;
  }
  EXPECT_EQ(count(events, "data: {\"i\":"), 20u) << events;
  EXPECT_NE(events.find("data: {\"i\":19}"), std::string::npos) << events;
  EXPECT_NE(events.find("data: [DONE]"), std::string::npos) << events;
  for (X509* x : {old_cert, before, new_cert, after}) X509_free(x);

  d.child->signal(SIGTERM);
  EXPECT_EQ(d.child->wait_exit(30s), std::optional<int>(0)) << d.child->output();
}

TEST(Reload, AnInvalidConfigIsRefusedAndTheRunningOneKeepsServing) {
  TempDir dir;
  write_self_signed(dir.path());
  const fs::path file = dir / "llmd.toml";
  write_file(file, config_text());
  Daemon d(file);
  ASSERT_NE(d.port, 0) << d.child->output();
  X509* cert = certificate_file(dir / "cert.pem");

  // A wrong type: refused with one log line naming the file and line.
  write_file(file, config_text("header_bytes = \"big\"\n"));
  std::string ready = d.reload();
  EXPECT_NE(notify_field(ready, "STATUS").find("the last reload was refused"), std::string::npos) << ready;
  const std::string refused = "<3>reload refused, the running configuration stays: " + file.string() +
                              ":8: limits.header_bytes: expected an integer, got a string\n";
  EXPECT_NE(d.child->output().find(refused), std::string::npos) << d.child->output();
  EXPECT_EQ(count(d.child->output(), "reload refused"), 1u) << d.child->output();
  {
    auto c = Conn::tls(d.port);
    ASSERT_TRUE(c);
    EXPECT_EQ(get(*c, "/readyz")->status, 200);
    EXPECT_EQ(get(*c, "/test/slow?ms=1")->status, 200);
  }

  // A key that does not match its certificate: refused, the old pair served.
  TempDir other;
  write_self_signed(other.path());
  std::string text = config_text();
  text.replace(text.find("key_file = \"key.pem\""), 20, "key_file = \"" + (other / "key.pem").string() + "\"");
  write_file(file, text);
  d.reload();
  EXPECT_TRUE(d.child->wait_for_output(":6: tls.key_file: ", 10s)) << d.child->output();
  EXPECT_EQ(count(d.child->output(), "reload refused"), 2u) << d.child->output();
  X509* served = served_certificate(d.port);
  EXPECT_TRUE(same_certificate(served, cert));
  X509_free(served);

  // Before: a 2000-byte header is fine.
  const std::string big_header = "X-Pad: " + std::string(2000, 'a') + "\r\n";
  {
    auto c = Conn::tls(d.port);
    ASSERT_TRUE(c);
    EXPECT_EQ(get(*c, "/healthz", big_header)->status, 200);
  }
  // Valid again, with smaller [limits] and a new port (which needs a restart).
  auto held = Conn::tls(d.port);  // opened before: keeps the limits it started with
  ASSERT_TRUE(held);
  write_file(file, config_text("header_bytes = 1024\n", "address = \"127.0.0.1\"\n").replace(
                       0, std::string("[server]\nport = 0").size(), "[server]\nport = 1"));
  ready = d.reload();
  EXPECT_EQ(notify_field(ready, "STATUS"), "serving https://127.0.0.1:" + std::to_string(d.port));
  EXPECT_TRUE(d.child->wait_for_output("<5>reloaded ", 10s)) << d.child->output();
  EXPECT_NE(d.child->output().find("<4>reload: [server] address or port changed; that needs a restart"),
            std::string::npos)
      << d.child->output();
  {
    auto c = Conn::tls(d.port);  // still the old port
    ASSERT_TRUE(c);
    EXPECT_EQ(get(*c, "/healthz", big_header)->status, 431) << "a new connection has the new limits";
  }
  EXPECT_EQ(get(*held, "/healthz", big_header)->status, 200) << "an open connection keeps its limits";
  X509_free(cert);

  d.child->signal(SIGTERM);
  EXPECT_EQ(d.child->wait_exit(30s), std::optional<int>(0)) << d.child->output();
}

TEST(Reload, LogLevelChangesLive) {
  TempDir dir;
  write_self_signed(dir.path());
  const fs::path file = dir / "llmd.toml";
  write_file(file, config_text());
  Daemon d(file);
  ASSERT_NE(d.port, 0) << d.child->output();
  {
    auto c = Conn::tls(d.port);
    ASSERT_TRUE(c);
    EXPECT_EQ(get(*c, "/healthz?first")->status, 200);
  }
  ASSERT_TRUE(d.child->wait_for_output("path=/healthz status=200", 10s)) << d.child->output();
  std::string text = config_text();
  text.replace(text.find("level = \"info\""), 14, "level = \"warning\"");
  write_file(file, text);
  d.reload();
  {
    auto c = Conn::tls(d.port);
    ASSERT_TRUE(c);
    EXPECT_EQ(get(*c, "/readyz")->status, 200);
  }
  d.child->signal(SIGTERM);
  EXPECT_EQ(d.child->wait_exit(30s), std::optional<int>(0)) << d.child->output();
  // At level warning the access line (info) of the second request is not written.
  EXPECT_EQ(d.child->output().find("path=/readyz"), std::string::npos) << d.child->output();
}

}  // namespace
}  // namespace llmd::test
