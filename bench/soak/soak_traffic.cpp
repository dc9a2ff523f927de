#include "bench/soak/soak_traffic.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <chrono>
#include <random>

#include "tools/llmctl/https_client.hpp"

namespace llmd::bench {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Opens a TLS connection, sends a streamed request, reads until the first
// bytes of the body arrive (or 10 s pass), then drops the connection without
// a TLS close: a client that goes away mid-stream. True when the server had
// started answering.
bool abandon_stream(std::uint16_t port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool answered = false;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = ctx ? SSL_new(ctx) : nullptr;
  if (ssl && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1 &&
        SSL_write(ssl, request.data(), static_cast<int>(request.size())) == static_cast<int>(request.size())) {
      std::string got;
      char buf[4096];
      const auto until = Clock::now() + 10s;
      while (Clock::now() < until && got.find("data: ") == std::string::npos) {
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
      }
      answered = got.rfind("HTTP/1.1 200", 0) == 0;
    }
  }
  if (ssl) SSL_free(ssl);
  if (ctx) SSL_CTX_free(ctx);
  linger lg{1, 0};  // reset, as a killed client would
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
  return answered;
}

struct Call {
  std::string method;
  std::string path;
  std::string body;
  std::string key;        // empty: no authorization header
  int expect = 200;
  bool stream = false;    // the body must end with [DONE]
  int expect_alt = 0;     // another acceptable status (409 while the model is changing state)
};

}  // namespace

void Tally::add(const Tally& t) {
  requests += t.requests;
  ok += t.ok;
  aborted += t.aborted;
  server_errors += t.server_errors;
  unexpected += t.unexpected;
  transport_errors += t.transport_errors;
  model_cycles += t.model_cycles;
  latency_ms.insert(latency_ms.end(), t.latency_ms.begin(), t.latency_ms.end());
  for (const auto& p : t.problems) {
    if (problems.size() < 10) problems.push_back(p);
  }
}

Traffic::Traffic(TrafficOptions options) : o_(std::move(options)) {}

Traffic::~Traffic() { stop(); }

void Traffic::start() {
  for (int i = 0; i < o_.connections; ++i) threads_.emplace_back([this, i] { client(1234u + static_cast<unsigned>(i)); });
  if (!o_.spare_model.empty()) threads_.emplace_back([this] { cycler(); });
}

void Traffic::stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

Tally Traffic::take() {
  std::lock_guard lock(mu_);
  Tally t = std::move(current_);
  current_ = Tally{};
  return t;
}

void Traffic::record(Tally t) {
  std::lock_guard lock(mu_);
  current_.add(t);
}

namespace {

// Sends one call and tallies it against its expected status.
Tally perform(const TrafficOptions& o, const Call& c) {
  Tally t;
  t.requests = 1;
  auto url = client::parse_url("https://127.0.0.1:" + std::to_string(o.port));
  client::TlsOptions tls;
  tls.ca_file = o.ca_file;
  client::HeaderList h;
  if (!c.key.empty()) h.emplace_back("authorization", "Bearer " + c.key);
  if (!c.body.empty()) h.emplace_back("content-type", "application/json");
  const auto t0 = Clock::now();
  auto res = client::https_request(*url, tls, c.method, c.path, h, c.body, 120s);
  const double ms = ms_since(t0);
  auto problem = [&](std::string what) {
    t.problems.push_back(c.method + " " + c.path + ": " + what);
  };
  if (!res.ok()) {
    t.transport_errors = 1;
    problem(res.error().message);
    return t;
  }
  if (res->status >= 500) {
    t.server_errors = 1;
    problem("status " + std::to_string(res->status) + " " + res->body.substr(0, 200));
  } else if (res->status == c.expect_alt) {
    t.ok = 1;
    return t;
  } else if (res->status != c.expect) {
    t.unexpected = 1;
    problem("status " + std::to_string(res->status) + ", expected " + std::to_string(c.expect) + " " +
            res->body.substr(0, 200));
  } else if (c.stream && (res->body.size() < 14 || res->body.compare(res->body.size() - 14, 14, "data: [DONE]\n\n") != 0)) {
    t.unexpected = 1;
    problem("the stream did not end with [DONE]");
  } else {
    t.ok = 1;
    t.latency_ms.push_back(ms);
  }
  return t;
}

std::string chat_body(const std::string& model, int i, bool stream, int max_tokens) {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"Tell me about )" + std::to_string(i) +
         R"("}],"max_tokens":)" + std::to_string(max_tokens) + (stream ? R"(,"stream":true})" : "}");
}

}  // namespace

void Traffic::client(unsigned seed) {
  std::mt19937 rng(seed);
  const std::string& user = o_.user_key;
  const std::string& admin = o_.admin_key;
  for (int i = 0; !stop_; ++i) {
    const int pick = static_cast<int>(rng() % 100);
    Call c;
    c.method = "POST";
    c.key = user;
    if (pick < 30) {  // streamed chat
      c.path = "/v1/chat/completions";
      c.body = chat_body(o_.model, i, true, 24 + static_cast<int>(rng() % 24));
      c.stream = true;
    } else if (pick < 50) {  // whole completion
      c.path = "/v1/completions";
      c.body = R"({"model":")" + o_.model + R"(","prompt":"Once upon a time )" + std::to_string(i) +
               R"(","max_tokens":16})";
    } else if (pick < 60) {  // a stream the client abandons
      std::string body = chat_body(o_.model, i, true, 200);
      std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + user +
                        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body;
      Tally t;
      t.requests = 1;
      if (abandon_stream(o_.port, req)) {
        t.aborted = 1;
      } else {
        t.transport_errors = 1;
        t.problems.push_back("abandoned stream: no 200 and first event");
      }
      record(std::move(t));
      continue;
    } else if (pick < 75) {  // bad requests, each with the answer it must get
      switch (rng() % 6) {
        case 0: c.path = "/v1/chat/completions"; c.body = R"({"model":)"; c.expect = 400; break;
        case 1: c.path = "/v1/chat/completions"; c.body = chat_body("no-such-model", i, false, 4); c.expect = 404; break;
        case 2: c.path = "/v1/completions"; c.body = R"({"model":")" + o_.model + R"(","prompt":"x"})"; c.key.clear(); c.expect = 401; break;
        case 3: c.path = "/v1/completions"; c.body = R"({"model":")" + o_.model + R"(","prompt":"x"})"; c.key = "llmd_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBB"; c.expect = 401; break;
        case 4: c.path = "/v1/completions"; c.body = R"({"model":")" + o_.model + R"(","prompt":"x","max_tokens":-1})"; c.expect = 400; break;
        default: c.method = "GET"; c.path = "/v1/nothing-here"; c.expect = 404; break;
      }
    } else if (pick < 88) {  // admin reads (and a user key on an admin route)
      c.method = "GET";
      c.key = admin;
      switch (rng() % 5) {
        case 0: c.path = "/admin/v1/teams"; break;
        case 1: c.path = "/admin/v1/usage"; break;
        case 2: c.path = "/admin/v1/stats"; break;
        case 3: c.path = "/admin/v1/models"; break;
        default: c.path = "/admin/v1/teams"; c.key = user; c.expect = 403; break;
      }
    } else if (!o_.spare_model.empty()) {  // the model that comes and goes: waits for its load
      c.path = "/v1/chat/completions";
      c.body = chat_body(o_.spare_model, i, rng() % 2 == 0, 12);
      c.stream = c.body.find("\"stream\":true") != std::string::npos;
    } else {
      continue;
    }
    record(perform(o_, c));
  }
}

void Traffic::cycler() {
  const auto sleep_while_running = [this](std::chrono::milliseconds d) {
    const auto until = Clock::now() + d;
    while (!stop_ && Clock::now() < until) std::this_thread::sleep_for(50ms);
  };
  const auto cycle = std::chrono::milliseconds(static_cast<int64_t>(o_.cycle_s * 1000));
  while (!stop_) {
    sleep_while_running(cycle / 2);
    if (stop_) break;
    Call unload{"POST", "/admin/v1/models/" + o_.spare_model + "/unload", "{}", o_.admin_key, 202, false, 409};
    Tally t = perform(o_, unload);
    const bool unloaded = t.latency_ms.size() == 1;
    sleep_while_running(cycle / 2);
    Call load{"POST", "/admin/v1/models/" + o_.spare_model + "/load", R"({"wait":true})", o_.admin_key, 200, false, 409};
    Tally l = perform(o_, load);
    if (unloaded && l.latency_ms.size() == 1) t.model_cycles = 1;
    t.add(l);
    record(std::move(t));
  }
}

}  // namespace llmd::bench
