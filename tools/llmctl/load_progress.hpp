// Waiting for a model to load, with a progress bar: `models add --wait` and
// `models load --wait` poll GET /admin/v1/models/{id} and draw its
// progress.bytes_done / bytes_total on stderr until the state is ready or
// failed.
//
// The drawing (ProgressView) and the polling (wait_until_ready) take their
// output, the model fetch and the sleep as functions, so that both are tested
// without a terminal, a server or a clock.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace llmd::llmctl {

// What the bar shows of one answer of GET /admin/v1/models/{id}.
struct LoadProgress {
  std::string id;
  std::string state;       // "loading", "ready", ...; "-" when absent
  std::string device;      // where it is (or is going); empty when absent
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;  // 0 while the size is not known
};

LoadProgress progress_of(const boost::json::object& model);

// "loading llama  [######........................]  20%  1.6 GiB / 8.0 GiB";
// without a known total: "loading llama  (size not known yet)"; once ready:
// "ready llama on cuda:0  8.0 GiB".
std::string progress_line(const LoadProgress& p, int bar_width = 30);

// Draws successive progress on a stream. On a terminal one line is redrawn in
// place ('\r', padded over the previous text); otherwise a plain line is
// written when the state changes and at each quarter of the bytes, so that
// logs get a few lines, not hundreds.
class ProgressView {
 public:
  using Write = std::function<void(std::string_view)>;
  ProgressView(Write write, bool terminal, int bar_width = 30)
      : write_(std::move(write)), terminal_(terminal), bar_width_(bar_width) {}

  void update(const LoadProgress& p);
  // The last line, ended with a newline.
  void finish(const LoadProgress& p);

 private:
  Write write_;
  bool terminal_;
  int bar_width_;
  size_t drawn_ = 0;         // length of the line on screen (terminal)
  std::string last_state_;   // plain output: the state last written
  int last_quarter_ = -1;    // plain output: the quarter of the bytes last written
};

struct WaitOptions {
  std::chrono::milliseconds interval{200};
  // How long the model may stay unloaded or parked before a load shows; a load
  // queued behind others may take a while to start.
  std::chrono::milliseconds start_grace{60000};
  // Consecutive transport failures (connection refused, timeout) tolerated.
  int max_fetch_failures = 5;
};

using FetchModel = std::function<Result<boost::json::value>()>;
using SleepFor = std::function<void(std::chrono::milliseconds)>;

// Polls until the model is ready and returns its last answer. Errors:
// model_failed with the server's error text when the load fails;
// model_state_conflict when, after loading, the model turns unloaded,
// unloading or parked (another request unloaded or moved it); timeout when no
// load starts within start_grace; bad_answer, or the fetch's own error.
Result<boost::json::object> wait_until_ready(const FetchModel& fetch, const SleepFor& sleep, ProgressView& view,
                                             const WaitOptions& options = {});

}  // namespace llmd::llmctl
