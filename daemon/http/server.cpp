#include "daemon/http/server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <filesystem>
#include <thread>
#include <vector>

#include "daemon/http/server_core.hpp"
#include "daemon/http/session.hpp"
#include "daemon/http/tls_context.hpp"
#include "base/log.hpp"

namespace llmd::http {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using local = net::local::stream_protocol;
using boost::system::error_code;

namespace {
constexpr unsigned kWorkerThreads = 2;
constexpr std::chrono::milliseconds kAcceptRetry{100};
constexpr std::chrono::milliseconds kStopGrace{1000};
}  // namespace

struct Server::Impl {
  config::Config cfg;
  detail::ServerCore core;
  // The TLS context new connections get; a reload replaces it (a connection
  // keeps the one it started with).
  mutable std::mutex tls_mu;
  std::shared_ptr<net::ssl::context> tls;
  int inherited_fd = -1;     // a listening TCP socket passed by systemd; -1: bind [server] address:port
  std::string listen_host;   // the bound address, as the URL shows it

  std::unique_ptr<net::io_context> ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::unique_ptr<tcp::acceptor> tcp_acceptor;
  std::unique_ptr<local::acceptor> unix_acceptor;
  std::unique_ptr<net::steady_timer> accept_retry;
  std::unique_ptr<net::thread_pool> workers;
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  bool started = false;
  bool stopped = false;
  std::chrono::steady_clock::time_point last_refusal{};
  std::chrono::steady_clock::time_point last_client_refusal{};

  ~Impl() {
    shutdown();
    if (inherited_fd >= 0) ::close(inherited_fd);
    // Destroy what still references the io_context (and the sessions it holds)
    // while the core they point to is alive.
    tcp_acceptor.reset();
    unix_acceptor.reset();
    accept_retry.reset();
    ioc.reset();
  }

  bool admit() {
    const std::size_t max = core.limits()->max_connections;
    if (core.connections.load() < max) return true;
    auto now = std::chrono::steady_clock::now();
    if (now - last_refusal > std::chrono::seconds(10)) {
      log::warnf("refusing connections: %zu open, the limit is %zu ([limits] max_connections)",
                 core.connections.load(), max);
      last_refusal = now;
    }
    return false;
  }

  // The per-client cap: one client address may not hold every connection.
  bool admit_client(const std::string& address) {
    if (core.claim_client(address)) return true;
    auto now = std::chrono::steady_clock::now();
    if (now - last_client_refusal > std::chrono::seconds(10)) {
      log::warnf("refusing connections from %s: it has %zu open ([limits] max_connections_per_client)",
                 address.c_str(), core.limits()->max_connections_per_client);
      last_client_refusal = now;
    }
    return false;
  }

  std::shared_ptr<net::ssl::context> tls_context() const {
    std::lock_guard lock(tls_mu);
    return tls;
  }

  void retry_accept(void (Impl::*again)()) {
    accept_retry->expires_after(kAcceptRetry);
    accept_retry->async_wait([this, again](error_code ec) {
      if (!ec) (this->*again)();
    });
  }

  void accept_tcp() {
    if (!tcp_acceptor || !tcp_acceptor->is_open()) return;
    tcp_acceptor->async_accept(net::make_strand(*ioc), [this](error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !tcp_acceptor->is_open()) return;
      if (ec) {
        log::warnf("accept failed: %s", ec.message().c_str());
        retry_accept(&Impl::accept_tcp);
        return;
      }
      if (admit()) {
        error_code ignored;
        auto ep = socket.remote_endpoint(ignored);
        std::string address = ep.address().to_string();
        if (admit_client(address)) {
          socket.set_option(tcp::no_delay(true), ignored);
          std::string remote = ep.address().is_v6() ? "[" + address + "]" : address;
          remote.append(":").append(std::to_string(ep.port()));
          auto s = std::make_shared<detail::Session>(core, detail::make_tls_transport(std::move(socket), tls_context()),
                                                     std::move(remote), std::move(address));
          s->start();
        }
      }
      accept_tcp();
    });
  }

  void accept_unix() {
    if (!unix_acceptor || !unix_acceptor->is_open()) return;
    unix_acceptor->async_accept(net::make_strand(*ioc), [this](error_code ec, local::socket socket) {
      if (ec == net::error::operation_aborted || !unix_acceptor->is_open()) return;
      if (ec) {
        log::warnf("accept on %s failed: %s", cfg.server.unix_socket.c_str(), ec.message().c_str());
        retry_accept(&Impl::accept_unix);
        return;
      }
      if (admit()) {
        auto s = std::make_shared<detail::Session>(core, detail::make_unix_transport(std::move(socket)), "unix");
        s->start();
      }
      accept_unix();
    });
  }

  // The socket systemd passed (socket activation): already bound and listening.
  Status adopt_tcp() {
    error_code ec;
    tcp_acceptor = std::make_unique<tcp::acceptor>(net::make_strand(*ioc));
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    if (::getsockname(inherited_fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
      return Error(ErrorCode::listen_failed, std::string("cannot use the socket systemd passed: ") + std::strerror(errno));
    }
    tcp_acceptor->assign(sa.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), inherited_fd, ec);
    if (ec) return Error(ErrorCode::listen_failed, "cannot use the socket systemd passed: " + ec.message());
    inherited_fd = -1;  // the acceptor owns it now
    auto ep = tcp_acceptor->local_endpoint(ec);
    if (ec) return Error(ErrorCode::listen_failed, "cannot use the socket systemd passed: " + ec.message());
    port = ep.port();
    std::string host = ep.address().to_string();
    listen_host = ep.address().is_v6() ? "[" + host + "]" : host;
    if (host != cfg.server.address || (cfg.server.port != 0 && cfg.server.port != port)) {
      log::warnf("socket activation: serving on the socket systemd passed (%s:%u), not on [server] %s:%u",
                 listen_host.c_str(), static_cast<unsigned>(port), cfg.server.address.c_str(),
                 static_cast<unsigned>(cfg.server.port));
    }
    return ok_status();
  }

  Status listen_tcp() {
    if (inherited_fd >= 0) return adopt_tcp();
    error_code ec;
    auto address = net::ip::make_address(cfg.server.address, ec);
    if (ec) return Error(ErrorCode::listen_failed, "bad listen address '" + cfg.server.address + "'");
    tcp::endpoint ep(address, cfg.server.port);
    std::string where = (address.is_v6() ? "[" + cfg.server.address + "]" : cfg.server.address) + ":" +
                        std::to_string(cfg.server.port);
    tcp_acceptor = std::make_unique<tcp::acceptor>(net::make_strand(*ioc));
    tcp_acceptor->open(ep.protocol(), ec);
    if (!ec) tcp_acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec && address.is_v6()) tcp_acceptor->set_option(net::ip::v6_only(false), ec);
    if (!ec) tcp_acceptor->bind(ep, ec);
    if (!ec) tcp_acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) return Error(ErrorCode::listen_failed, "cannot listen on " + where + ": " + ec.message());
    port = tcp_acceptor->local_endpoint(ec).port();
    listen_host = address.is_v6() ? "[" + cfg.server.address + "]" : cfg.server.address;
    return ok_status();
  }

  Status listen_unix() {
    const auto& path = cfg.server.unix_socket;
    std::error_code fec;
    auto st = std::filesystem::symlink_status(path, fec);
    if (!fec && std::filesystem::exists(st)) {
      if (!std::filesystem::is_socket(st)) {
        return Error(ErrorCode::listen_failed, "cannot listen on " + path.string() + ": a file that is not a socket is there");
      }
      local::socket probe(*ioc);
      error_code pec;
      probe.connect(local::endpoint(path.string()), pec);
      if (!pec) return Error(ErrorCode::listen_failed, "cannot listen on " + path.string() + ": another process serves it");
      std::filesystem::remove(path, fec);  // left behind by an earlier run
    }
    error_code ec;
    unix_acceptor = std::make_unique<local::acceptor>(net::make_strand(*ioc));
    unix_acceptor->open(local(), ec);
    if (!ec) unix_acceptor->bind(local::endpoint(path.string()), ec);
    if (!ec && ::chmod(path.c_str(), cfg.server.unix_socket_mode) != 0) {
      ec = error_code(errno, boost::system::system_category());
    }
    if (!ec) unix_acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) return Error(ErrorCode::listen_failed, "cannot listen on " + path.string() + ": " + ec.message());
    return ok_status();
  }

  void close_acceptors() {
    auto close_one = [](auto& acceptor) {
      if (!acceptor) return;
      net::post(acceptor->get_executor(), [a = acceptor.get()] {
        error_code ec;
        a->close(ec);
      });
    };
    close_one(tcp_acceptor);
    close_one(unix_acceptor);
  }

  void shutdown() {
    if (!started || stopped) return;
    stopped = true;
    core.draining = true;
    close_acceptors();
    for (auto& s : core.live_sessions()) s->abort();
    {
      std::unique_lock lock(core.mu);
      core.idle_cv.wait_for(lock, kStopGrace, [&] { return core.connections.load() == 0; });
    }
    work.reset();
    ioc->stop();
    for (auto& t : threads) t.join();
    threads.clear();
    workers->join();
    // A session whose close() did not run before the I/O threads stopped
    // still holds itself (a request in flight): let it go with the io_context.
    for (auto& s : core.live_sessions()) s->release();
    if (!cfg.server.unix_socket.empty()) {
      std::error_code fec;
      std::filesystem::remove(cfg.server.unix_socket, fec);
    }
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::create(const config::Config& cfg) {
  auto tls = make_tls_context(cfg.tls);
  if (!tls) return tls.take_error();
  auto impl = std::make_unique<Impl>();
  impl->cfg = cfg;
  impl->tls = std::move(*tls);
  impl->core.set_limits(cfg.limits);
  impl->core.access_log = cfg.log.access_log;
  impl->ioc = std::make_unique<net::io_context>(static_cast<int>(cfg.server.io_threads));
  impl->accept_retry = std::make_unique<net::steady_timer>(*impl->ioc);
  impl->workers = std::make_unique<net::thread_pool>(kWorkerThreads);
  impl->core.offload = [pool = impl->workers.get()](std::function<void()> fn) { net::post(*pool, std::move(fn)); };

  auto* core = &impl->core;
  RouteOptions open;
  open.auth = false;
  open.body_limit = 0;
  Status st = impl->core.router.add("GET", "/healthz", open, [](ExchangePtr ex) {
    ex->respond(Response::json(200, R"({"status":"ok"})"));
  });
  if (st) {
    st = impl->core.router.add("GET", "/readyz", open, [core](ExchangePtr ex) {
      if (core->draining.load()) {
        ex->respond(Response::json(503, R"({"status":"draining"})"));
      } else if (!core->ready.load()) {
        ex->respond(Response::json(503, R"({"status":"starting"})"));
      } else {
        ex->respond(Response::json(200, R"({"status":"ready"})"));
      }
    });
  }
  if (!st) return st.take_error();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Router& Server::router() { return impl_->core.router; }

void Server::set_authenticator(Authenticator authenticator) { impl_->core.authenticator = std::move(authenticator); }

Status Server::apply_route_limits() {
  for (const auto& limit : impl_->cfg.limits.route_body_bytes) {
    if (!impl_->core.router.set_body_limit(limit.route, limit.bytes)) {
      return Error(ErrorCode::config_invalid, limit.origin + ": limits.route_body_bytes: no route '" + limit.route + "'");
    }
  }
  return ok_status();
}

Status Server::start() {
  Impl& m = *impl_;
  if (m.started) return Error(ErrorCode::server_started, "the server is already started");
  if (Status st = apply_route_limits(); !st) return st;
  if (Status st = m.listen_tcp(); !st) return st;
  if (!m.cfg.server.unix_socket.empty()) {
    if (Status st = m.listen_unix(); !st) return st;
  }
  m.work.emplace(m.ioc->get_executor());
  m.started = true;
  m.accept_tcp();
  m.accept_unix();
  for (unsigned i = 0; i < m.cfg.server.io_threads; ++i) {
    m.threads.emplace_back([ioc = m.ioc.get()] {
      while (true) {
        try {
          ioc->run();
          return;
        } catch (const std::exception& e) {
          log::errorf("uncaught exception on an I/O thread: %s", e.what());
        }
      }
    });
  }
  log::noticef("listening on %s", url().c_str());
  if (!m.cfg.server.unix_socket.empty()) log::noticef("listening on unix:%s (plain HTTP)", m.cfg.server.unix_socket.c_str());
  return ok_status();
}

std::uint16_t Server::port() const { return impl_->port; }

std::string Server::url() const {
  std::string host = impl_->listen_host;
  if (host.empty()) {
    const std::string& a = impl_->cfg.server.address;
    host = a.find(':') != std::string::npos ? "[" + a + "]" : a;
  }
  return "https://" + host + ":" + std::to_string(impl_->port);
}

void Server::adopt_listener(int fd) { impl_->inherited_fd = fd; }

Result<std::function<void()>> Server::prepare_reload(const config::Config& cfg) {
  auto tls = make_tls_context(cfg.tls);
  if (!tls) return tls.take_error();
  return std::function<void()>([m = impl_.get(), tls = std::move(*tls), limits = cfg.limits,
                                access_log = cfg.log.access_log]() mutable {
    {
      std::lock_guard lock(m->tls_mu);
      m->tls = std::move(tls);
    }
    m->core.set_limits(std::move(limits));
    m->core.access_log = access_log;
  });
}

void Server::set_ready(bool ready) { impl_->core.ready = ready; }
bool Server::ready() const { return impl_->core.ready && !impl_->core.draining; }
bool Server::draining() const { return impl_->core.draining; }

void Server::begin_drain() {
  Impl& m = *impl_;
  if (!m.started || m.core.draining.exchange(true)) return;
  m.close_acceptors();
  for (auto& s : m.core.live_sessions()) s->drain();
}

bool Server::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->core.mu);
  return impl_->core.idle_cv.wait_for(lock, timeout, [&] { return impl_->core.connections.load() == 0; });
}

void Server::stop() { impl_->shutdown(); }

std::size_t Server::connections() const { return impl_->core.connections.load(); }

void Server::post(std::function<void()> fn) { net::post(*impl_->ioc, std::move(fn)); }

void Server::offload(std::function<void()> fn) { impl_->core.offload(std::move(fn)); }

void Server::set_request_observer(std::function<void(const RequestSummary&)> observer) {
  impl_->core.observer = std::move(observer);
}

}  // namespace llmd::http
