// [server], [tls], [limits], [log] and [paths].
#include <arpa/inet.h>
#include <sys/un.h>

#include "daemon/config/config_sections.hpp"
#include "daemon/config/credentials.hpp"

namespace llmd::config::detail {

namespace {

constexpr double kMaxSeconds = 86400.0;

bool is_ip_literal(const std::string& s) {
  unsigned char buf[sizeof(struct in6_addr)];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

void check_readable(Section& s, std::string_view key, const std::filesystem::path& p) {
  std::string reason = unreadable_reason(p);
  if (!reason.empty()) s.error(key, "cannot read '" + p.string() + "': " + reason);
}

}  // namespace

void parse_server(Section& s, Config& c) {
  ServerConfig& v = c.server;
  std::uint64_t n = 0;
  if (s.get_string("address", v.address) && !is_ip_literal(v.address)) {
    s.error("address", "'" + v.address + "' is not an IP address (for example 127.0.0.1, 0.0.0.0, ::1 or ::)");
  }
  if (s.get_uint("port", 0, 65535, n)) v.port = static_cast<std::uint16_t>(n);
  if (s.get_uint("io_threads", 1, 256, n)) v.io_threads = static_cast<unsigned>(n);
  std::string sock;
  if (s.get_string("unix_socket", sock) && !sock.empty()) {
    std::filesystem::path p(sock);
    v.unix_socket = (p.is_absolute() ? p : s.diagnostics().base_dir() / p).lexically_normal();
    if (v.unix_socket.string().size() >= sizeof(sockaddr_un{}.sun_path)) {
      s.error("unix_socket", "path is too long for a unix socket (" + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                                 " bytes at most)");
    }
  }
  if (s.get_uint("unix_socket_mode", 0, 0777, n)) v.unix_socket_mode = static_cast<unsigned>(n);
  s.get_seconds("drain_timeout_s", 0, kMaxSeconds, v.drain_timeout);
  s.get_seconds("watchdog_step_timeout_s", 0, kMaxSeconds, v.watchdog_step_timeout);
}

void parse_tls(Section& s, Config& c) {
  TlsConfig& v = c.tls;
  if (s.require("cert_file") && s.get_path("cert_file", v.cert_file)) {
    v.cert_origin = s.diagnostics().origin(s.line("cert_file"));
    check_readable(s, "cert_file", v.cert_file);
  }
  if (s.require("key_file") && s.get_path("key_file", v.key_file)) {
    v.key_origin = s.diagnostics().origin(s.line("key_file"));
    check_readable(s, "key_file", v.key_file);
    if (std::string exposed = exposed_secret_reason(v.key_file); !exposed.empty()) {
      s.error("key_file", "the private key " + exposed);
    }
  }
}

void parse_limits(Section& s, Config& c) {
  LimitsConfig& v = c.limits;
  std::uint64_t n = 0;
  if (s.get_uint("header_bytes", 1024, 1024 * 1024, n)) v.header_bytes = n;
  if (s.get_uint("body_bytes", 0, std::uint64_t{1} << 32, n)) v.body_bytes = n;
  s.get_seconds("handshake_timeout_s", 0.01, kMaxSeconds, v.handshake_timeout);
  s.get_seconds("header_timeout_s", 0.01, kMaxSeconds, v.header_timeout);
  s.get_seconds("body_timeout_s", 0.01, kMaxSeconds, v.body_timeout);
  s.get_seconds("idle_timeout_s", 0.01, kMaxSeconds, v.idle_timeout);
  s.get_seconds("write_timeout_s", 0.01, kMaxSeconds, v.write_timeout);
  if (s.get_uint("max_connections", 1, 1000000, n)) v.max_connections = n;
  if (s.get_uint("max_connections_per_client", 0, 1000000, n)) v.max_connections_per_client = n;
  s.get_seconds("unauthenticated_idle_timeout_s", 0.01, kMaxSeconds, v.unauthenticated_idle_timeout);
  s.get_seconds("auth_timeout_s", 0.01, 60, v.auth_timeout);
  if (s.get_uint("stream_buffer_bytes", 4096, std::uint64_t{1} << 30, n)) v.stream_buffer_bytes = n;

  const toml::node* routes = s.node("route_body_bytes");
  if (routes == nullptr) return;
  if (!routes->is_table()) {
    s.error("route_body_bytes", "expected a table of route = bytes, got " + std::string(describe(routes->type())));
    return;
  }
  for (auto&& [k, val] : *routes->as_table()) {
    std::string route(k.str());
    std::uint32_t line = val.source().begin.line;
    std::string where = "limits.route_body_bytes.\"" + route + "\"";
    if (route.empty() || route.front() != '/') {
      s.diagnostics().error(k.source().begin.line, where + ": a route starts with '/'");
      continue;
    }
    if (!val.is_integer()) {
      s.diagnostics().error(line, where + ": expected an integer, got " + std::string(describe(val.type())));
      continue;
    }
    std::int64_t bytes = val.as_integer()->get();
    if (bytes < 0 || static_cast<std::uint64_t>(bytes) > (std::uint64_t{1} << 32)) {
      s.diagnostics().error(line, where + ": " + std::to_string(bytes) + " is out of range (0.." +
                                      std::to_string(std::uint64_t{1} << 32) + ")");
      continue;
    }
    v.route_body_bytes.push_back(RouteBodyLimit{route, static_cast<std::size_t>(bytes), s.diagnostics().origin(line)});
  }
}

void parse_log(Section& s, Config& c) {
  std::string level;
  if (s.get_string("level", level) && !log::parse_level(level, &c.log.level)) {
    s.error("level", "'" + level + "' is not a level (error, warning, notice, info, debug)");
  }
  s.get_bool("access_log", c.log.access_log);
}

void parse_paths(Section& s, Config& c) {
  s.get_path("state_dir", c.paths.state_dir);
  std::vector<std::filesystem::path> dirs;
  if (!s.get_path_array("model_dirs", dirs)) return;
  c.paths.model_dirs.clear();
  for (const auto& d : dirs) {
    // A folder that does not exist yet is fine (no model can be in it).
    std::error_code ec;
    if (std::filesystem::exists(d, ec) && !std::filesystem::is_directory(d, ec)) {
      std::string msg = "'";
      msg.append(d.string()).append("' is not a directory");
      s.error("model_dirs", std::move(msg));
      continue;
    }
    c.paths.model_dirs.push_back(std::filesystem::weakly_canonical(d, ec));
    if (ec) s.error("model_dirs", "cannot resolve '" + d.string() + "': " + ec.message());
  }
}

}  // namespace llmd::config::detail
