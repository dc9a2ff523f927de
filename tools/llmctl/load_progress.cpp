#include "tools/llmctl/load_progress.hpp"

#include <algorithm>

#include "tools/llmctl/model_format.hpp"

namespace llmd::llmctl {

namespace json = boost::json;

namespace {

// Fraction of the bytes done, 0..1.
double fraction(const LoadProgress& p) {
  if (p.bytes_total == 0) return 0;
  return std::min(1.0, static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total));
}

bool transient(ErrorCode code) {
  return code == ErrorCode::connect_failed || code == ErrorCode::timeout || code == ErrorCode::io_error;
}

std::string text_field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

LoadProgress progress_of(const json::object& model) {
  LoadProgress p;
  p.id = text_field(model, "id");
  p.state = text_field(model, "state");
  p.device = text_field(model, "device");
  if (p.state.empty()) p.state = "-";
  if (const json::value* pr = model.if_contains("progress"); pr && pr->is_object()) {
    p.bytes_done = uint_of(pr->as_object().if_contains("bytes_done")).value_or(0);
    p.bytes_total = uint_of(pr->as_object().if_contains("bytes_total")).value_or(0);
  }
  return p;
}

std::string progress_line(const LoadProgress& p, int bar_width) {
  std::string line = p.state + " " + p.id;
  if (p.state == "ready") {
    if (!p.device.empty()) line += " on " + p.device;
    if (p.bytes_total > 0) line += "  " + human_bytes(p.bytes_total);
    return line;
  }
  if (p.bytes_total == 0) return p.state == "loading" ? line + "  (size not known yet)" : line;
  const double f = fraction(p);
  const int filled = static_cast<int>(f * bar_width);
  line += "  [" + std::string(static_cast<size_t>(filled), '#') +
          std::string(static_cast<size_t>(std::max(0, bar_width - filled)), '.') + "]  ";
  line += std::to_string(static_cast<int>(f * 100)) + "%  ";
  line += human_bytes(std::min(p.bytes_done, p.bytes_total)) + " / " + human_bytes(p.bytes_total);
  return line;
}

void ProgressView::update(const LoadProgress& p) {
  const std::string line = progress_line(p, bar_width_);
  if (terminal_) {
    std::string out = "\r" + line;
    if (drawn_ > line.size()) out += std::string(drawn_ - line.size(), ' ');
    drawn_ = line.size();
    write_(out);
    return;
  }
  const int quarter = p.bytes_total == 0 ? -1 : static_cast<int>(fraction(p) * 4);
  if (p.state == last_state_ && quarter <= last_quarter_) return;
  last_state_ = p.state;
  last_quarter_ = quarter;
  write_(line + "\n");
}

void ProgressView::finish(const LoadProgress& p) {
  const std::string line = progress_line(p, bar_width_);
  if (terminal_) {
    std::string out = "\r" + line;
    if (drawn_ > line.size()) out += std::string(drawn_ - line.size(), ' ');
    write_(out + "\n");
    drawn_ = 0;
    return;
  }
  write_(line + "\n");
  last_state_.clear();
  last_quarter_ = -1;
}

Result<json::object> wait_until_ready(const FetchModel& fetch, const SleepFor& sleep, ProgressView& view,
                                      const WaitOptions& options) {
  bool seen_loading = false;
  int failures = 0;
  std::chrono::milliseconds waited{0};
  for (;;) {
    auto answer = fetch();
    if (!answer) {
      if (!transient(answer.error().code) || ++failures > options.max_fetch_failures) return answer.take_error();
    } else {
      failures = 0;
      if (!answer->is_object()) return Error(ErrorCode::bad_answer, "the server's answer is not a JSON object");
      json::object model = std::move(answer->as_object());
      const LoadProgress p = progress_of(model);
      if (p.state == "ready") {
        view.finish(p);
        return model;
      }
      if (p.state == "failed") {
        view.finish(p);
        std::string why = text_field(model, "error");
        return Error(ErrorCode::model_failed,
                     "model '" + p.id + "' failed to load" + (why.empty() ? std::string() : ": " + why));
      }
      const bool idle = p.state == "unloaded" || p.state == "unloading" || p.state == "parked";
      if (idle && seen_loading) {
        view.finish(p);
        return Error(ErrorCode::model_state_conflict,
                     "model '" + p.id + "' is " + p.state + " again: another request unloaded or moved it");
      }
      if (idle && waited >= options.start_grace) {
        view.finish(p);
        return Error(ErrorCode::timeout, "model '" + p.id + "' is still " + p.state + " after " +
                                             std::to_string(waited.count() / 1000) + " s: its load did not start");
      }
      if (p.state == "loading") seen_loading = true;
      view.update(p);
    }
    sleep(options.interval);
    waited += options.interval;
  }
}

}  // namespace llmd::llmctl
