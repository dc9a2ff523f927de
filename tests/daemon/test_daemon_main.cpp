// llmd_test_daemon: the real llmd entry point (same CLI, config, signals,
// sd_notify and drain) plus two debug routes that only tests need:
//   GET /test/slow?ms=N            answers after N ms, from another thread
//   GET /test/stream?n=N&delay_ms=D  N server-sent events, D ms apart, then [DONE]
#include <chrono>
#include <string>
#include <thread>

#include "daemon/app/app.hpp"
#include "daemon/http/sse_stream.hpp"
#include "base/log.hpp"

namespace {

using namespace llmd;

long query_number(const http::Request& r, const char* name, long fallback) {
  auto v = r.query_param(name);
  if (!v || v->empty()) return fallback;
  try {
    return std::stol(*v);
  } catch (...) {
    return fallback;
  }
}

Status install_test_routes(http::Server& server, const config::Config&) {
  http::RouteOptions open;
  open.auth = false;
  Status st = server.router().add("GET", "/test/slow", open, [](http::ExchangePtr ex) {
    long ms = query_number(ex->request(), "ms", 1000);
    log::noticef("test: slow request %s started (%ld ms)", ex->request().id.c_str(), ms);
    ex->log_field("slept_ms", std::to_string(ms));
    std::thread([ex, ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      ex->respond(http::Response::json(200, "{\"slept_ms\":" + std::to_string(ms) + "}"));
    }).detach();
  });
  if (!st) return st;
  return server.router().add("GET", "/test/stream", open, [](http::ExchangePtr ex) {
    long n = query_number(ex->request(), "n", 10);
    long delay = query_number(ex->request(), "delay_ms", 10);
    log::noticef("test: stream %s started (%ld events)", ex->request().id.c_str(), n);
    std::thread([ex, n, delay] {
      if (!http::sse::begin(*ex)) return;
      for (long i = 0; i < n; ++i) {
        if (!http::sse::send_data(*ex, "{\"i\":" + std::to_string(i) + "}")) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      }
      http::sse::send_done(*ex);
    }).detach();
  });
}

}  // namespace

int main(int argc, char** argv) {
  llmd::daemon::AppHooks hooks;
  hooks.install_routes = install_test_routes;
  return llmd::daemon::main_entry(argc, argv, hooks);
}
