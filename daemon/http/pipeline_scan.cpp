#include "daemon/http/pipeline_scan.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include "daemon/http/request_framing.hpp"
#include "daemon/http/request_id.hpp"

namespace llmd::http::detail {

namespace bhttp = boost::beast::http;
using boost::system::error_code;

namespace {
// What the access log keeps of a method or path (it clips at 200 as well).
constexpr std::size_t kKeep = 200;

using bsv = boost::beast::string_view;  // Beast's callbacks take Boost's string_view

std::string keep(bsv s) { return std::string(s.substr(0, kKeep)); }
}  // namespace

// A request parser that keeps the request line and the request id, and skips
// the body (Content-Length or chunked) without storing it.
class PipelineScan::Parser final : public bhttp::basic_parser<true> {
 public:
  explicit Parser(std::size_t limit) {
    header_limit(static_cast<std::uint32_t>(limit));
    body_limit(boost::none);  // the route's limit applies when the session reads it
    eager(true);
  }

  Seen seen;

 private:
  void on_request_impl(bhttp::verb, bsv method, bsv target, int version, error_code&) override {
    version_ = version;
    seen.method = keep(method);
    seen.path = keep(target.substr(0, target.find('?')));
  }
  void on_response_impl(int, bsv, int, error_code&) override {}
  void on_field_impl(bhttp::field, bsv name, bsv value, error_code&) override {
    framing_.field(name, value);
    // Like the session, only the first X-Request-Id counts.
    if (id_field_seen_ || !boost::beast::iequals(name, "x-request-id")) return;
    id_field_seen_ = true;
    if (acceptable_request_id(value)) seen.id = std::string(value);
  }
  // Framing the session refuses (and closes on) ends the count here.
  void on_header_impl(error_code& ec) override {
    if (framing_.verdict(version_)) ec = bhttp::error::bad_transfer_encoding;
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(bsv body, error_code&) override { return body.size(); }
  void on_chunk_header_impl(std::uint64_t, bsv, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, bsv body, error_code&) override { return body.size(); }
  void on_finish_impl(error_code&) override {}

  bool id_field_seen_ = false;
  int version_ = 11;
  FramingCheck framing_;
};

PipelineScan::PipelineScan(std::size_t header_limit) : header_limit_(header_limit) { restart(); }

PipelineScan::~PipelineScan() = default;

void PipelineScan::restart() {
  whole_.clear();
  parser_ = std::make_unique<Parser>(header_limit_);
  scanned_ = 0;
  start_ = 0;
  current_ = 0;
}

void PipelineScan::clear() { restart(); }

void PipelineScan::begin_next() {
  if (whole_.empty()) {
    restart();  // whatever was scanned is the start of the request now read
    return;
  }
  current_ = whole_.front().bytes;
  whole_.pop_front();
  // Once the session has read it, the buffer's front moves past it.
  scanned_ -= current_;
  start_ -= current_;
}

void PipelineScan::current_read(std::size_t bytes) {
  if (current_ != 0 && current_ != bytes) restart();
  current_ = 0;
}

void PipelineScan::scan(std::string_view unparsed, std::size_t enough) {
  if (scanned_ > unparsed.size()) restart();  // not the buffer it saw: start over
  while (parser_ && scanned_ < unparsed.size() && whole_.size() < enough) {
    error_code ec;
    std::size_t used = parser_->put(boost::asio::buffer(unparsed.data() + scanned_, unparsed.size() - scanned_), ec);
    scanned_ += used;
    if (ec == bhttp::error::need_more) return;
    if (ec) {
      parser_.reset();  // malformed: the session's parser will answer it in its turn
      return;
    }
    if (!parser_->is_done()) {
      if (used == 0) return;
      continue;
    }
    Seen s = std::move(parser_->seen);
    s.bytes = scanned_ - start_;
    whole_.push_back(std::move(s));
    start_ = scanned_;
    parser_ = std::make_unique<Parser>(header_limit_);
  }
}

}  // namespace llmd::http::detail
