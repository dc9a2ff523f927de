// The client side of the API benchmark: N concurrent streaming clients, each on
// its own keep-alive TLS connection, sending one streamed completion after
// another until the run's time is up (requests in flight then finish). All of
// them run on one thread (Boost.Beast, asynchronous), so the client costs the
// machine as little as possible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmd::bench {

struct LoadOptions {
  std::uint16_t port = 0;
  std::string ca_file;
  std::string key;
  std::string model;
  bool chat = true;          // /v1/chat/completions, else /v1/completions
  int clients = 32;
  double seconds = 30;
  int max_tokens = 128;
};

struct LoadResult {
  int64_t requests = 0;       // completed with [DONE]
  int64_t errors = 0;         // failed connections, non-200 answers, streams without [DONE]
  int64_t tokens = 0;         // completion tokens (from the usage chunks)
  int64_t events = 0;         // token-carrying SSE events received
  double elapsed_s = 0;       // first request to the last completion
  std::vector<double> ttft_ms;  // request sent to first token, per request
  std::string first_error;
};

LoadResult run_load(const LoadOptions& options);

}  // namespace llmd::bench
