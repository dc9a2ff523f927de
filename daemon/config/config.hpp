// llmd's configuration: the typed result of parsing and validating the TOML
// file (etc/llmd.toml documents every key). Loading rejects unknown keys,
// wrong types and bad values with "file:line: message" lines.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "base/result.hpp"

namespace llmd::config {

using std::chrono::milliseconds;

struct ServerConfig {
  std::string address = "127.0.0.1";       // IPv4 or IPv6 literal
  std::uint16_t port = 8443;               // 0 = any free port (logged and sent in STATUS=)
  unsigned io_threads = 2;                 // HTTP I/O threads
  std::filesystem::path unix_socket;       // plain-HTTP listener on a unix socket; empty = off
  unsigned unix_socket_mode = 0660;
  milliseconds drain_timeout{30000};       // SIGTERM: how long in-flight requests may finish
  // The watchdog stops its pings while a model's engine step has run longer
  // than this; 0 = half of the unit's WatchdogSec.
  milliseconds watchdog_step_timeout{0};
};

struct TlsConfig {
  std::filesystem::path cert_file;  // PEM certificate chain, leaf first
  std::filesystem::path key_file;   // PEM private key
  std::string cert_origin;          // "file:line" of the key, for later error messages
  std::string key_origin;
};

struct RouteBodyLimit {
  std::string route;      // a route pattern, e.g. "/v1/chat/completions"
  std::size_t bytes = 0;
  std::string origin;     // "file:line"
  bool operator==(const RouteBodyLimit& o) const { return route == o.route && bytes == o.bytes; }
};

struct LimitsConfig {
  std::size_t header_bytes = 16 * 1024;           // request line + headers; more -> 431
  std::size_t body_bytes = 1024 * 1024;           // default request body limit; more -> 413
  std::vector<RouteBodyLimit> route_body_bytes;   // per-route overrides
  milliseconds handshake_timeout{10000};
  milliseconds header_timeout{10000};   // first byte of a request to the end of its headers
  milliseconds body_timeout{60000};     // end of headers to the end of the body
  milliseconds idle_timeout{60000};     // keep-alive wait for the next request
  milliseconds write_timeout{60000};    // one write to the client may take this long
  std::size_t max_connections = 1024;
  // Open TCP connections from one client address; more -> closed at once.
  // 0 = no cap (behind a reverse proxy every client has its address).
  std::size_t max_connections_per_client = 256;
  // Keep-alive wait for the next request on a connection that has not yet
  // sent an authenticated request (it holds a connection for free).
  milliseconds unauthenticated_idle_timeout{10000};
  // How long a request waits for its API key to be looked up in the database
  // (on a worker, never on an I/O thread); longer -> 503 + Retry-After.
  milliseconds auth_timeout{2000};
  std::size_t stream_buffer_bytes = 4 * 1024 * 1024;  // per streamed response; more -> aborted
};

struct LogConfig {
  log::Level level = log::Level::info;
  bool access_log = true;  // one line per request at level info
};

struct PathsConfig {
  std::filesystem::path state_dir = "/var/lib/llmd";   // database, generated keys
  std::vector<std::filesystem::path> model_dirs;       // model files must live below one of these
  bool operator==(const PathsConfig&) const = default;
};

// [api]: the OpenAI API.
struct ApiConfig {
  // Streamed text goes out at most this often per response: tokens produced
  // meanwhile travel together in one write (the first token and the end are
  // sent at once). 0 sends every token as it comes.
  milliseconds stream_interval{10};
  bool operator==(const ApiConfig&) const = default;
};

// [metrics]: the Prometheus listener (plain HTTP, its own port).
struct MetricsConfig {
  bool enabled = true;
  std::string address = "127.0.0.1";
  std::uint16_t port = 9464;              // 0: an ephemeral port (tests)
  std::filesystem::path token_file;       // a file holding the bearer token scrapers must send; empty: none
  bool operator==(const MetricsConfig&) const = default;
};

// [devices]: what the model manager may place models on.
struct DevicesConfig {
  bool all_gpus = true;                 // gpus = "all"
  std::vector<int> gpus;                // gpus = [0, 1]; [] = none
  double gpu_memory_fraction = 0.90;    // each GPU's budget, of its memory
  unsigned cpu_partitions = 1;          // "cpu", or "cpu:0" .. "cpu:K-1"
  std::uint64_t host_memory_bytes = 0;  // CPU budget, split over the partitions; 0 = half the RAM
  bool operator==(const DevicesConfig&) const = default;
};

// [model_manager]: loading on demand. (Not "[models]": TOML cannot have that
// table beside the [[models]] array.)
struct ModelManagerConfig {
  bool load_on_demand = true;           // a request for a model that is not loaded loads it
  milliseconds load_timeout{300000};    // how long such a request waits, then 503 + Retry-After
  milliseconds wait_comment_interval{5000};  // SSE comments to a stream that waits for a load
  std::uint64_t load_bytes_per_s = 0;   // pace of a load's reads; 0 = no cap
  bool operator==(const ModelManagerConfig&) const = default;
};

// Context length served when [[models]] context_length is 0 and the model's
// own is longer (KV memory grows with it; configure more explicitly).
inline constexpr std::uint32_t kDefaultContextCap = 8192;

// One [[models]] entry.
struct ModelConfig {
  std::string name;                       // the id clients send as "model"
  std::filesystem::path path;             // GGUF file, canonical, inside a model directory
  std::vector<std::string> aliases;       // further ids that resolve to this model
  std::uint32_t context_length = 0;       // 0 = the model's own, at most kDefaultContextCap
  std::uint32_t max_sequences = 16;       // concurrent sequences in the batch
  std::uint32_t max_choices = 4;          // largest "n" a request may ask for (<= max_sequences)
  std::uint32_t max_waiting = 256;        // requests queued before 503 + Retry-After
  std::uint32_t max_waiting_per_team = 0; // one team's part of max_waiting; 0 = a quarter
  bool share_preemption = true;           // preempt to keep the weighted fair share
  std::uint64_t kv_cache_bytes = 0;       // KV-cache memory; 0 = room for max_sequences full contexts
  std::string chat_template_name;         // built-in template overriding the GGUF's ("chatml", ...); empty = none
  std::filesystem::path chat_template;    // Jinja file overriding the GGUF's template; empty = none
  unsigned threads = 0;                   // CPU threads; 0 = automatic
  std::string device = "auto";            // "auto", "cpu", "cpu:N", "cuda:N"
  std::vector<std::string> devices;       // device = [...]: a split across these, in stage order
  std::vector<std::int32_t> layer_split;  // layers per device of the split (empty: even)
  bool pinned = false;                    // never evicted to make room
  std::uint32_t keep_alive_s = 0;         // idle time before it is parked/unloaded; 0 = only under pressure
  std::string origin;                     // "file:line" of the [[models]] header
};

struct Config {
  std::filesystem::path file;  // where it was loaded from
  ServerConfig server;
  TlsConfig tls;
  LimitsConfig limits;
  LogConfig log;
  PathsConfig paths;
  ApiConfig api;
  MetricsConfig metrics;
  DevicesConfig devices;
  ModelManagerConfig model_manager;
  std::vector<ModelConfig> models;
};

// Reads, parses and validates a config file. On failure the error message holds
// one line per problem ("file:line: message"), in file order.
Result<Config> load_file(const std::filesystem::path& file);

// Same for text already in memory; `file` names it in messages and anchors
// relative paths (they resolve against its directory).
Result<Config> load_text(std::string_view text, const std::filesystem::path& file);

}  // namespace llmd::config
