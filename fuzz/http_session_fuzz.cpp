// Fuzz target: one HTTP connection (daemon/http Session) fed the input as
// the client's bytes over an in-memory transport: request lines, headers,
// chunked and sized bodies, pipelined requests, Expect: 100-continue. The
// routes answer at once, later (from another turn of the I/O loop), as a
// stream, or after an authentication verdict that comes later.
//
// Invariants checked on what the server wrote: a sequence of well-formed
// HTTP/1.1 responses with correct framing, nothing after a response that
// says "connection: close" (a request the server refused to frame must never
// let its bytes be read as a next request), and the session gone (no
// leaked connection) once the client's bytes end.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "base/log.hpp"
#include "daemon/http/exchange.hpp"
#include "daemon/http/server_core.hpp"
#include "daemon/http/session.hpp"
#include "fuzz/fuzz_target.hpp"
#include "fuzz/memory_transport.hpp"

namespace {

using namespace llmd;
namespace net = boost::asio;

struct Caller : http::Principal {
  bool admin = false;
};

// The routes and authenticator; `io` is the loop of the current input.
struct Fixture {
  net::io_context* io = nullptr;
  http::detail::ServerCore core;

  Fixture() {
    log::set_level(log::Level::error);
    core.access_log = false;
    config::LimitsConfig limits;
    limits.header_bytes = 2048;
    limits.body_bytes = 4096;
    limits.handshake_timeout = std::chrono::milliseconds(2000);
    limits.header_timeout = std::chrono::milliseconds(2000);
    limits.body_timeout = std::chrono::milliseconds(2000);
    limits.idle_timeout = std::chrono::milliseconds(2000);
    limits.write_timeout = std::chrono::milliseconds(2000);
    limits.unauthenticated_idle_timeout = std::chrono::milliseconds(2000);
    limits.auth_timeout = std::chrono::milliseconds(2000);
    limits.stream_buffer_bytes = 64 * 1024;
    core.set_limits(limits);
    core.ready = true;
    core.offload = [this](std::function<void()> fn) { net::post(*io, std::move(fn)); };

    auto& r = core.router;
    must(r.add("POST", "/v1/echo", {}, [](http::ExchangePtr ex) {
      ex->respond(http::Response::text(200, ex->request().body));
    }));
    must(r.add("GET", "/v1/stream", {}, [](http::ExchangePtr ex) {
      http::Headers h;
      h.set("content-type", "text/event-stream");
      ex->begin_stream(200, h);
      for (int i = 0; i < 3; ++i) ex->write("data: {\"i\":" + std::to_string(i) + "}\n\n");
      ex->write("data: [DONE]\n\n");
      ex->end_stream();
    }));
    must(r.add("POST", "/v1/later", {.body_limit = 256}, [this](http::ExchangePtr ex) {
      net::post(*io, [ex] { ex->respond(http::Response::json(200, "{\"later\":true}")); });
    }));
    must(r.add("POST", "/v1/offload", {.offload = true}, [](http::ExchangePtr ex) {
      ex->respond_error(400, "refused", "bad", "x");
    }));
    must(r.add("GET", "/v1/models/{id...}", {}, [](http::ExchangePtr ex) {
      ex->respond(http::Response::json(200, "{\"id\":\"" + std::to_string(ex->request().param("id").size()) + "\"}"));
    }));
    must(r.add("GET", "/admin/v1/teams/{id}", {.admin = true}, [](http::ExchangePtr ex) {
      ex->respond(http::Response::json(200, "{}"));
    }));
    must(r.add("GET", "/open", {.auth = false}, [](http::ExchangePtr ex) { ex->respond(http::Response{204, {}, {}}); }));

    // "Bearer later..." is decided on a later turn of the loop (a key-cache
    // miss), "Bearer admin" and "Bearer user" at once, anything else refused.
    core.authenticator = [this](const http::Request& req, const http::RouteOptions& opt,
                                http::AuthLater later) -> std::optional<http::AuthVerdict> {
      std::string_view a = req.header("authorization");
      auto verdict = [&](bool admin) {
        http::AuthVerdict v;
        if (opt.admin && !admin) {
          v.denied = http::error_response(403, "admin role needed");
        } else {
          auto c = std::make_shared<Caller>();
          c->admin = admin;
          v.principal = c;
          v.log_context = "key=fuzz";
        }
        return v;
      };
      if (a.starts_with("Bearer later")) {
        bool admin = a.ends_with("admin");
        net::post(*io, [later = std::move(later), v = verdict(admin)]() mutable { later(std::move(v)); });
        return std::nullopt;
      }
      if (a == "Bearer admin") return verdict(true);
      if (a == "Bearer user") return verdict(false);
      http::AuthVerdict v;
      v.denied = http::error_response(401, "missing or invalid key");
      return v;
    };
  }

  static void must(const Status& st) {
    if (!st) std::abort();
  }
};

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

// Walks the server's bytes response by response; aborts on anything that is
// not a well-framed response or on bytes after a closing one. A stream's
// body may end early (the client went away mid-stream).
void check_responses(std::string_view out) {
  std::size_t pos = 0;
  while (pos < out.size()) {
    std::string_view rest = out.substr(pos);
    fuzz_check(rest.starts_with("HTTP/1.1 "));
    std::size_t end = rest.find("\r\n\r\n");
    fuzz_check(end != std::string_view::npos);
    std::string_view head = rest.substr(0, end + 2);
    fuzz_check(head.size() >= 12);
    int status = std::stoi(std::string(head.substr(9, 3)));
    fuzz_check(status >= 100 && status <= 599);
    bool close = false, chunked = false;
    std::optional<std::size_t> length;
    std::size_t line = head.find("\r\n") + 2;
    while (line < head.size()) {
      std::size_t eol = head.find("\r\n", line);
      std::string_view field = head.substr(line, eol - line);
      std::size_t colon = field.find(':');
      fuzz_check(colon != std::string_view::npos && colon > 0);
      for (char c : field) fuzz_check(c != '\r' && c != '\n');
      std::string_view name = field.substr(0, colon);
      std::string_view value = field.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (iequal(name, "connection") && iequal(value, "close")) close = true;
      if (iequal(name, "transfer-encoding")) chunked = iequal(value, "chunked");
      if (iequal(name, "content-length")) {
        fuzz_check(!length);
        length = std::stoull(std::string(value));
      }
      line = eol + 2;
    }
    pos += end + 4;
    bool no_body = status < 200 || status == 204 || status == 304;
    if (no_body) {
      fuzz_check(!length && !chunked);
    } else if (length) {
      fuzz_check(!chunked);
      fuzz_check(*length <= out.size() - pos);
      pos += *length;
    } else if (chunked) {
      for (;;) {
        std::size_t eol = out.find("\r\n", pos);
        if (eol == std::string_view::npos) return;  // stream cut short
        std::size_t n = std::stoull(std::string(out.substr(pos, eol - pos)), nullptr, 16);
        pos = eol + 2;
        if (out.size() - pos < n + 2) return;  // stream cut short
        fuzz_check(out.substr(pos + n, 2) == "\r\n");
        pos += n + 2;
        if (n == 0) break;
      }
    } else {
      fuzz_check(close);  // a body ended by the close
      return;
    }
    if (close) fuzz_check(pos == out.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture fx;
  net::io_context io;
  fx.io = &io;
  auto wire = std::make_shared<fuzz::MemoryWire>();
  wire->input.assign(reinterpret_cast<const char*>(data), size);
  for (std::size_t i = 0; i < size; ++i) wire->split_seed = wire->split_seed * 131 + data[i];

  auto session = std::make_shared<http::detail::Session>(fx.core,
                                                         fuzz::make_memory_transport(net::make_strand(io), wire),
                                                         "127.0.0.1:40000");
  session->start();
  session.reset();
  io.run_for(std::chrono::seconds(20));
  // Every session has closed and been freed once the client's bytes ended.
  fuzz_check(io.stopped());
  fuzz_check(fx.core.connections.load() == 0);
  check_responses(wire->output);
  fx.io = nullptr;
  return 0;
}
