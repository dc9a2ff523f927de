// llmd_test_daemon: the real llmd entry point (same CLI, config, signals,
// sd_notify and drain) plus what only tests need:
//   GET /test/slow?ms=N            answers after N ms, from another thread
//   GET /test/stream?n=N&delay_ms=D  N server-sent events, D ms apart, then [DONE]
//   LLMD_TEST_BACKEND_FAILS_AFTER=N  every model's backend fails for good (as a
//                                    sticky CUDA error does) at its N-th forward step
//   LLMD_TEST_BACKEND_HANGS_AFTER=N  every model's N-th forward step hangs (as a hung
//   LLMD_TEST_BACKEND_HANG_MS=M      GPU kernel does) for M ms (default 3000), then goes on
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "daemon/app/app.hpp"
#include "daemon/http/sse_stream.hpp"
#include "engine/backend/backend_factory.hpp"
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

// A real backend that breaks for good at its fail_at-th forward step, or
// hangs for hang_ms in its hang_at-th (0: never).
class FaultyBackend : public engine::Backend {
 public:
  FaultyBackend(std::unique_ptr<engine::Backend> real, long fail_at, long hang_at, long hang_ms)
      : real_(std::move(real)), fail_at_(fail_at), hang_at_(hang_at), hang_ms_(hang_ms) {}
  std::string name() const override { return real_->name(); }
  Status init_kv(const engine::KvCacheShape& shape) override { return real_->init_kv(shape); }
  uint64_t kv_block_bytes(const engine::KvCacheShape& shape) const override { return real_->kv_block_bytes(shape); }
  Status forward(const engine::ForwardBatch& batch, engine::ForwardOutput* out) override {
    ++steps_;
    if (broken_ || (fail_at_ > 0 && steps_ >= fail_at_)) {
      broken_ = true;
      return Error(ErrorCode::cuda_fatal, "injected: an unrecoverable device error (test)");
    }
    if (steps_ == hang_at_) {
      log::noticef("test: forward step %ld hangs for %ld ms", steps_, hang_ms_);
      std::this_thread::sleep_for(std::chrono::milliseconds(hang_ms_));
    }
    return real_->forward(batch, out);
  }
  Status copy_kv_block(int32_t src, int32_t dst) override { return real_->copy_kv_block(src, dst); }
  bool healthy() const override { return !broken_; }
  uint64_t memory_bytes() const override { return real_->memory_bytes(); }

 private:
  std::unique_ptr<engine::Backend> real_;
  const long fail_at_;
  const long hang_at_;
  const long hang_ms_;
  long steps_ = 0;
  std::atomic<bool> broken_{false};
};

}  // namespace

int main(int argc, char** argv) {
  llmd::daemon::AppHooks hooks;
  hooks.install_routes = install_test_routes;
  auto env_number = [](const char* name, long fallback) {
    const char* v = std::getenv(name);
    return v ? std::max(1L, std::atol(v)) : fallback;
  };
  const long fail_at = env_number("LLMD_TEST_BACKEND_FAILS_AFTER", 0);
  const long hang_at = env_number("LLMD_TEST_BACKEND_HANGS_AFTER", 0);
  const long hang_ms = env_number("LLMD_TEST_BACKEND_HANG_MS", 3000);
  if (fail_at > 0 || hang_at > 0) {
    hooks.make_backend = [fail_at, hang_at, hang_ms](const engine::Model& model, const engine::BackendOptions& o)
        -> Result<std::unique_ptr<engine::Backend>> {
      auto real = engine::make_backend(model, o);
      if (!real) return real.take_error();
      return std::unique_ptr<engine::Backend>(std::make_unique<FaultyBackend>(std::move(*real), fail_at, hang_at, hang_ms));
    };
  }
  return llmd::daemon::main_entry(argc, argv, hooks);
}
