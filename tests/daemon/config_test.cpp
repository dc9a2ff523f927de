// Config loading: a valid file, and each kind of mistake with its exact message.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "daemon/config/config.hpp"
#include "daemon/http/server.hpp"
#include "tests/daemon/kit/files.hpp"

namespace llmd {
namespace {

using test::TempDir;
using test::write_file;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { test::write_self_signed(dir.path()); }

  // Loads `text` from dir/llmd.toml; returns the error text ("" on success).
  std::string errors(const std::string& text) {
    write_file(file(), text);
    auto c = config::load_file(file());
    return c ? "" : c.error().message;
  }
  std::filesystem::path file() const { return dir / "llmd.toml"; }
  std::string f() const { return file().string(); }

  static constexpr const char* kTls = "[tls]\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n";
  TempDir dir;
};

TEST_F(ConfigTest, ValidFileLoadsEverySection) {
  std::filesystem::create_directories(dir / "models" / "sub");
  write_file(dir / "models" / "sub" / "tiny.gguf", "GGUF");
  write_file(dir / "tmpl.jinja", "{{ messages }}");
  write_file(file(), R"(
[server]
address = "0.0.0.0"
port = 9443
io_threads = 4
unix_socket = "llmd.sock"
unix_socket_mode = 0o600
drain_timeout_s = 12.5

[tls]
cert_file = "cert.pem"
key_file = "key.pem"

[limits]
header_bytes = 8192
body_bytes = 2048
handshake_timeout_s = 3
header_timeout_s = 4
body_timeout_s = 5
idle_timeout_s = 6.5
write_timeout_s = 7
max_connections = 99
stream_buffer_bytes = 65536
max_connections_per_client = 7
unauthenticated_idle_timeout_s = 1.5
auth_timeout_s = 0.25

[limits.route_body_bytes]
"/v1/chat/completions" = 1048576

[log]
level = "debug"
access_log = false

[paths]
state_dir = "state"
model_dirs = ["models"]

[model_manager]
load_on_demand = false
load_timeout_s = 30
wait_comment_interval_s = 2
load_bytes_per_s = 50000000

[[models]]
name = "tiny"
path = "models/sub/tiny.gguf"
aliases = ["gpt-4o-mini", "org/tiny"]
context_length = 2048
max_sequences = 8
chat_template = "tmpl.jinja"
threads = 2
)");
  auto loaded = config::load_file(file());
  ASSERT_TRUE(loaded) << loaded.error().message;
  const config::Config& c = *loaded;
  auto canonical = [](const std::filesystem::path& p) { return std::filesystem::canonical(p); };
  EXPECT_EQ(c.server.address, "0.0.0.0");
  EXPECT_EQ(c.server.port, 9443);
  EXPECT_EQ(c.server.io_threads, 4u);
  EXPECT_EQ(c.server.unix_socket, dir / "llmd.sock");
  EXPECT_EQ(c.server.unix_socket_mode, 0600u);
  EXPECT_EQ(c.server.drain_timeout, std::chrono::milliseconds(12500));
  EXPECT_EQ(c.tls.cert_file, dir / "cert.pem");
  EXPECT_EQ(c.tls.cert_origin, f() + ":11");
  EXPECT_EQ(c.limits.header_bytes, 8192u);
  EXPECT_EQ(c.limits.body_bytes, 2048u);
  EXPECT_EQ(c.limits.handshake_timeout, std::chrono::milliseconds(3000));
  EXPECT_EQ(c.limits.idle_timeout, std::chrono::milliseconds(6500));
  EXPECT_EQ(c.limits.write_timeout, std::chrono::milliseconds(7000));
  EXPECT_EQ(c.limits.max_connections, 99u);
  EXPECT_EQ(c.limits.stream_buffer_bytes, 65536u);
  EXPECT_EQ(c.limits.max_connections_per_client, 7u);
  EXPECT_EQ(c.limits.unauthenticated_idle_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(c.limits.auth_timeout, std::chrono::milliseconds(250));
  ASSERT_EQ(c.limits.route_body_bytes.size(), 1u);
  EXPECT_EQ(c.limits.route_body_bytes[0].route, "/v1/chat/completions");
  EXPECT_EQ(c.limits.route_body_bytes[0].bytes, 1048576u);
  EXPECT_EQ(c.limits.route_body_bytes[0].origin, f() + ":29");
  EXPECT_EQ(c.log.level, log::Level::debug);
  EXPECT_FALSE(c.log.access_log);
  EXPECT_EQ(c.paths.state_dir, dir / "state");
  ASSERT_EQ(c.paths.model_dirs.size(), 1u);
  EXPECT_EQ(c.paths.model_dirs[0], canonical(dir / "models"));
  EXPECT_FALSE(c.model_manager.load_on_demand);
  EXPECT_EQ(c.model_manager.load_timeout, std::chrono::milliseconds(30000));
  EXPECT_EQ(c.model_manager.wait_comment_interval, std::chrono::milliseconds(2000));
  EXPECT_EQ(c.model_manager.load_bytes_per_s, 50000000u);
  ASSERT_EQ(c.models.size(), 1u);
  EXPECT_EQ(c.models[0].name, "tiny");
  EXPECT_EQ(c.models[0].path, canonical(dir / "models" / "sub" / "tiny.gguf"));
  EXPECT_EQ(c.models[0].aliases, (std::vector<std::string>{"gpt-4o-mini", "org/tiny"}));
  EXPECT_EQ(c.models[0].context_length, 2048u);
  EXPECT_EQ(c.models[0].max_sequences, 8u);
  EXPECT_EQ(c.models[0].chat_template, dir / "tmpl.jinja");
  EXPECT_EQ(c.models[0].threads, 2u);
}

TEST_F(ConfigTest, DefaultsNeedOnlyTheCertificate) {
  EXPECT_EQ(errors(kTls), "");
  auto c = config::load_file(file());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->server.address, "127.0.0.1");
  EXPECT_EQ(c->server.port, 8443);
  EXPECT_TRUE(c->server.unix_socket.empty());
  EXPECT_EQ(c->log.level, log::Level::info);
}

TEST_F(ConfigTest, UnknownKeyIsRejectedWithItsLine) {
  EXPECT_EQ(errors(std::string("[server]\nport = 8443\nprot = 1\n") + kTls),
            f() + ":3: unknown key 'prot' in [server] (did you mean 'port'?)");
}

TEST_F(ConfigTest, UnknownSectionIsRejected) {
  EXPECT_EQ(errors(std::string(kTls) + "\n[sever]\nport = 1\n"),
            f() + ":5: unknown section [sever] (did you mean 'server'?)");
}

TEST_F(ConfigTest, WrongTypeIsRejected) {
  EXPECT_EQ(errors(std::string("[server]\nport = \"8443\"\n") + kTls),
            f() + ":2: server.port: expected an integer, got a string");
}

TEST_F(ConfigTest, MissingCertificateFileIsRejected) {
  EXPECT_EQ(errors("[tls]\ncert_file = \"missing.pem\"\nkey_file = \"key.pem\"\n"),
            f() + ":2: tls.cert_file: cannot read '" + (dir / "missing.pem").string() +
                "': No such file or directory");
}

TEST_F(ConfigTest, MissingTlsSectionIsRejected) {
  EXPECT_EQ(errors("[server]\nport = 1\n"), f() + ": [tls] is required: set cert_file and key_file");
  EXPECT_EQ(errors("[tls]\nkey_file = \"key.pem\"\n"), f() + ":1: tls.cert_file is required");
}

TEST_F(ConfigTest, EveryBadValueIsReportedInFileOrder) {
  std::string text = std::string(kTls) +
                     "[server]\n"                // 4
                     "address = \"localhost\"\n"  // 5
                     "port = 70000\n"             // 6
                     "io_threads = 0\n"           // 7
                     "[limits]\n"                 // 8
                     "header_timeout_s = -1\n"    // 9
                     "body_timeout_s = \"10s\"\n" // 10
                     "[log]\n"                    // 11
                     "level = \"loud\"\n";        // 12
  EXPECT_EQ(errors(text),
            f() + ":5: server.address: 'localhost' is not an IP address (for example 127.0.0.1, 0.0.0.0, ::1 or ::)\n" +
                f() + ":6: server.port: 70000 is out of range (0..65535)\n" +
                f() + ":7: server.io_threads: 0 is out of range (1..256)\n" +
                f() + ":9: limits.header_timeout_s: -1 seconds is out of range (0.01..86400)\n" +
                f() + ":10: limits.body_timeout_s: expected a number of seconds, got a string\n" +
                f() + ":12: log.level: 'loud' is not a level (error, warning, notice, info, debug)");
}

TEST_F(ConfigTest, SyntaxErrorNamesTheLine) {
  std::string e = errors(std::string(kTls) + "[server]\nport = = 1\n");
  EXPECT_EQ(e.rfind(f() + ":5: TOML syntax error: ", 0), 0u) << e;
}

TEST_F(ConfigTest, UnreadableFile) {
  auto c = config::load_file(dir / "absent.toml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message,
            "cannot read config file '" + (dir / "absent.toml").string() + "': No such file or directory");
}

TEST_F(ConfigTest, ModelPathsAreConfinedToModelDirectories) {
  std::filesystem::create_directories(dir / "models");
  std::filesystem::create_directories(dir / "elsewhere");
  write_file(dir / "elsewhere" / "secret.gguf", "x");
  write_file(dir / "models" / "ok.gguf", "x");
  std::filesystem::create_symlink(dir / "elsewhere" / "secret.gguf", dir / "models" / "link.gguf");
  std::string head = std::string(kTls) + "[paths]\nmodel_dirs = [\"models\"]\n";  // lines 1-5

  EXPECT_EQ(errors(head + "[[models]]\nname = \"a\"\npath = \"models/ok.gguf\"\n"), "");
  EXPECT_EQ(errors(head + "[[models]]\nname = \"a\"\npath = \"elsewhere/secret.gguf\"\n"),
            f() + ":8: models[0].path: '" + (dir / "elsewhere" / "secret.gguf").string() +
                "' is outside the model directories (" + std::filesystem::canonical(dir / "models").string() + ")");
  EXPECT_EQ(errors(head + "[[models]]\nname = \"a\"\npath = \"models/../elsewhere/secret.gguf\"\n"),
            f() + ":8: models[0].path: '" + (dir / "elsewhere" / "secret.gguf").string() +
                "' is outside the model directories (" + std::filesystem::canonical(dir / "models").string() + ")");
  // A symlink inside the folder that points outside it is refused too.
  EXPECT_NE(errors(head + "[[models]]\nname = \"a\"\npath = \"models/link.gguf\"\n")
                .find("models[0].path: '" + (dir / "models" / "link.gguf").string() + "' is outside"),
            std::string::npos);
  EXPECT_EQ(errors(std::string(kTls) + "[[models]]\nname = \"a\"\npath = \"models/ok.gguf\"\n"),
            f() + ":6: models[0].path: no model directories are configured: list the folder of '" +
                (dir / "models" / "ok.gguf").string() + "' in [paths] model_dirs");
}

TEST_F(ConfigTest, ModelIdsMustBeUnique) {
  std::filesystem::create_directories(dir / "models");
  write_file(dir / "models" / "a.gguf", "x");
  std::string text = std::string(kTls) + "[paths]\nmodel_dirs = [\"models\"]\n" +
                     "[[models]]\nname = \"a\"\npath = \"models/a.gguf\"\n" +                        // 6-8
                     "[[models]]\nname = \"b\"\naliases = [\"a\"]\npath = \"models/a.gguf\"\n";   // 9-12
  EXPECT_EQ(errors(text), f() + ":9: models[1]: model id 'a' is already used by models[0]");
  EXPECT_EQ(errors(std::string(kTls) + "[models]\nname = \"a\"\n"),
            f() + ":4: models must be a list of tables: write [[models]]");
  EXPECT_EQ(errors(std::string(kTls) + "[[models]]\npath = 1\nsize = 2\n"),
            f() + ":4: models[0].name is required\n" + f() + ":5: models[0].path: expected a string, got an integer\n" +
                f() + ":6: unknown key 'size' in [[models]]");
}

TEST_F(ConfigTest, RouteBodyLimitsMustNameARoute) {
  write_file(file(), std::string(kTls) + "[limits.route_body_bytes]\n\"/healthz\" = 10\n\"/nope\" = 5\n");
  auto c = config::load_file(file());
  ASSERT_TRUE(c) << c.error().message;
  c->server.port = 0;
  auto server = http::Server::create(*c);
  ASSERT_TRUE(server) << server.error().message;
  Status st = (*server)->start();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, f() + ":6: limits.route_body_bytes: no route '/nope'");
}

TEST_F(ConfigTest, ShippedDefaultConfigIsValid) {
  // etc/llmd.toml with its certificate paths pointed at this test's files.
  std::string text = test::read_file(std::filesystem::path(LLMD_SOURCE_DIR) / "etc" / "llmd.toml");
  ASSERT_FALSE(text.empty());
  for (const char* name : {"cert.pem", "key.pem"}) {
    size_t at = text.find(std::string("/etc/llmd/tls/") + name);
    ASSERT_NE(at, std::string::npos) << name;
    text.replace(at, std::string("/etc/llmd/tls/").size() + std::strlen(name), (dir / name).string());
  }
  EXPECT_EQ(errors(text), "");
}

}  // namespace
}  // namespace llmd
