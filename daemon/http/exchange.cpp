#include "daemon/http/exchange.hpp"

#include "daemon/http/exchange_state.hpp"
#include "daemon/http/notify_batch.hpp"

namespace llmd::http {

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::completed: return "completed";
    case Outcome::client_gone: return "client_gone";
    case Outcome::overflow: return "overflow";
    case Outcome::timeout: return "timeout";
    case Outcome::shutdown: return "shutdown";
    case Outcome::abandoned: return "abandoned";
  }
  return "unknown";
}

// ---------------------------------------------------------------- handle

Exchange::Exchange(std::shared_ptr<detail::ExchangeState> state) : state_(std::move(state)) {}

Exchange::~Exchange() { state_->abandon(); }

const Request& Exchange::request() const { return state_->request; }
Request& Exchange::request() { return state_->request; }

bool Exchange::respond(Response response) {
  if (state_->streaming()) {
    // A stream begun early (SSE comments while a model loads): the answer
    // becomes its last event.
    state_->write("data: " + response.body + "\n\n");
    return state_->end_stream();
  }
  return state_->respond(std::move(response));
}

bool Exchange::respond_error(int status, std::string_view message, std::string_view code, std::string_view param) {
  return respond(error_response(status, message, code, param));
}

bool Exchange::begin_stream(int status, Headers headers) { return state_->begin_stream(status, std::move(headers)); }
bool Exchange::write(std::string_view bytes) { return state_->write(bytes); }
bool Exchange::end_stream() { return state_->end_stream(); }
void Exchange::on_done(std::function<void(Outcome)> fn) { state_->on_done(std::move(fn)); }
bool Exchange::aborted() const { return state_->aborted(); }
void Exchange::log_field(std::string_view key, std::string_view value) { state_->log_field(key, value); }

void Exchange::set_metric_labels(std::string_view endpoint, std::string_view model, std::string_view team) {
  state_->set_metric_labels(endpoint, model, team);
}

void Exchange::set_metric_refusal(std::string_view code) { state_->set_metric_refusal(code); }

// ---------------------------------------------------------------- state

namespace detail {

ExchangeState::ExchangeState(Request req, std::size_t stream_limit, std::weak_ptr<ExchangeSink> sink)
    : request(std::move(req)), stream_limit_(stream_limit), sink_(std::move(sink)) {}

void ExchangeState::notify_locked(std::unique_lock<std::mutex>& lock) {
  if (notified_) return;
  notified_ = true;
  lock.unlock();
  if (NotifyBatch::defer(sink_, shared_from_this())) return;
  if (auto sink = sink_.lock()) sink->exchange_changed(shared_from_this());
}

bool ExchangeState::respond(Response response) {
  std::unique_lock lock(mu_);
  if (done_ || mode_ != Mode::none) return false;
  mode_ = Mode::whole;
  whole_ = std::move(response);
  notify_locked(lock);
  return true;
}

bool ExchangeState::begin_stream(int status, Headers headers) {
  std::unique_lock lock(mu_);
  if (done_ || mode_ != Mode::none) return false;
  mode_ = Mode::stream;
  head_.emplace(status, std::move(headers));
  notify_locked(lock);
  return true;
}

bool ExchangeState::write(std::string_view bytes) {
  std::unique_lock lock(mu_);
  if (done_ || mode_ != Mode::stream || ended_ || overflow_) return false;
  if (bytes.empty()) return true;
  if (buffered_ + bytes.size() > stream_limit_) {
    overflow_ = true;
    aborted_.store(true, std::memory_order_release);
    notify_locked(lock);
    return false;
  }
  pending_.append(bytes);
  buffered_ += bytes.size();
  notify_locked(lock);
  return true;
}

bool ExchangeState::end_stream() {
  std::unique_lock lock(mu_);
  if (done_ || mode_ != Mode::stream || ended_ || overflow_) return false;
  ended_ = true;
  notify_locked(lock);
  return true;
}

void ExchangeState::abandon() {
  std::unique_lock lock(mu_);
  bool answered = mode_ == Mode::whole || (mode_ == Mode::stream && ended_);
  if (done_ || answered) return;
  abandoned_ = true;
  notify_locked(lock);
}

void ExchangeState::on_done(std::function<void(Outcome)> fn) {
  std::unique_lock lock(mu_);
  if (!done_) {
    on_done_ = std::move(fn);
    return;
  }
  Outcome o = outcome_;
  lock.unlock();
  if (fn) fn(o);
}

ExchangeState::Taken ExchangeState::take() {
  std::lock_guard lock(mu_);
  notified_ = false;
  Taken t;
  t.whole = std::move(whole_);
  whole_.reset();
  t.head = std::move(head_);
  head_.reset();
  t.bytes.swap(pending_);
  if (ended_ && !end_taken_) {
    t.end = true;
    end_taken_ = true;
  }
  t.overflow = overflow_;
  t.abandoned = abandoned_;
  return t;
}

void ExchangeState::log_field(std::string_view key, std::string_view value) {
  auto clean = [](std::string_view in, std::string& out) {
    for (char c : in) out += (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '=') ? '_' : c;
  };
  std::lock_guard lock(mu_);
  if (log_fields_.size() > 1024) return;
  log_fields_ += ' ';
  clean(key, log_fields_);
  log_fields_ += '=';
  clean(value, log_fields_);
}

void ExchangeState::set_metric_labels(std::string_view endpoint, std::string_view model, std::string_view team) {
  std::lock_guard lock(mu_);
  if (!endpoint.empty()) labels_.endpoint = endpoint;
  if (!model.empty()) labels_.model = model;
  if (!team.empty()) labels_.team = team;
}

void ExchangeState::set_metric_refusal(std::string_view code) {
  std::lock_guard lock(mu_);
  labels_.refusal = code;
}

MetricLabels ExchangeState::metric_labels() {
  std::lock_guard lock(mu_);
  return labels_;
}

std::string ExchangeState::log_fields() {
  std::lock_guard lock(mu_);
  return log_fields_;
}

void ExchangeState::written(std::size_t bytes) {
  std::lock_guard lock(mu_);
  buffered_ = bytes > buffered_ ? 0 : buffered_ - bytes;
}

void ExchangeState::finish(Outcome outcome) {
  std::unique_lock lock(mu_);
  if (done_) return;
  done_ = true;
  outcome_ = outcome;
  if (outcome != Outcome::completed) aborted_.store(true, std::memory_order_release);
  auto fn = std::move(on_done_);
  on_done_ = nullptr;
  lock.unlock();
  if (fn) fn(outcome);
}

}  // namespace detail
}  // namespace llmd::http
