// The soak's clients: N threads, each on its own connections, sending a mix
// of requests one after another until stopped: streamed chat completions,
// whole completions, streams the client abandons after the first event, bad
// requests (each with the 4xx it must get), admin reads, requests for a model
// that is being unloaded and loaded again, plus one thread that unloads and
// reloads that model through the admin API. Every answer is checked against
// the status it must have; anything else counts as unexpected.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace llmd::bench {

struct TrafficOptions {
  std::uint16_t port = 0;
  std::string ca_file;
  std::string user_key;
  std::string admin_key;
  std::string model;        // always loaded
  std::string spare_model;  // unloaded and loaded again while traffic runs
  int connections = 8;
  double cycle_s = 15;      // one unload + load of the spare model per cycle
};

// Outcomes over one interval.
struct Tally {
  int64_t requests = 0;
  int64_t ok = 0;                // the status it had to have
  int64_t aborted = 0;           // streams the client abandoned on purpose
  int64_t server_errors = 0;     // 5xx: never expected
  int64_t unexpected = 0;        // another status than the one it had to have, or a broken stream
  int64_t transport_errors = 0;  // connect/TLS/read failures
  int64_t model_cycles = 0;      // unload + load of the spare model done
  std::vector<double> latency_ms;  // requests answered as expected (streams: to [DONE])
  std::vector<std::string> problems;  // the first few, for the report

  void add(const Tally& other);
};

class Traffic {
 public:
  explicit Traffic(TrafficOptions options);
  ~Traffic();
  void start();
  void stop();  // waits for the requests in flight
  // The tally since the last take().
  Tally take();

 private:
  void client(unsigned seed);
  void cycler();
  void record(Tally t);

  TrafficOptions o_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  Tally current_;
};

}  // namespace llmd::bench
