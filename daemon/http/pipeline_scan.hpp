// The requests a client has pipelined (RFC 9112 section 9.3.2) behind the one
// a connection is serving, found in the buffered bytes without storing them.
// The session needs two facts about them before their turn comes: how many
// whole requests it holds (it stops reading at a cap, so that pipelining is no
// way around the per-connection limits), and which ones they were (a
// connection that closes before serving them writes an access-log line for
// each). The session's own parser reads every request again in its turn:
// routing, limits and authentication happen there, never here; a scan that
// meets malformed bytes just stops counting. Internal to http/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

namespace llmd::http::detail {

class PipelineScan {
 public:
  // A whole request seen in the buffer.
  struct Seen {
    std::string method;
    std::string path;    // without the query
    std::string id;      // the client's X-Request-Id when acceptable, else empty
    std::size_t bytes = 0;  // its size on the wire, headers and body
  };

  explicit PipelineScan(std::size_t header_limit);
  ~PipelineScan();
  PipelineScan(const PipelineScan&) = delete;
  PipelineScan& operator=(const PipelineScan&) = delete;

  // `unparsed` is the session's buffer behind the current request. While the
  // current request is served the front of that buffer stays put and bytes
  // only arrive at its end, so each call passes what the previous one did plus
  // what arrived since; only bytes not scanned yet are. The scan stops once
  // whole() holds `enough` requests (a later call goes on from there), so
  // that what is kept per connection stays small however many tiny requests
  // a client packs into its buffer.
  void scan(std::string_view unparsed, std::size_t enough = SIZE_MAX);

  // The session starts to parse its next request: the first whole request
  // seen (if any) becomes the current one and leaves whole(). Without one,
  // the scan starts over behind the request that is about to be read.
  void begin_next();
  // The session has read the whole current request in `bytes` bytes. A scan
  // that measured it differently starts over (it is never trusted over the
  // session's parser).
  void current_read(std::size_t bytes);

  // The whole requests behind the current one, oldest first.
  const std::deque<Seen>& whole() const { return whole_; }
  // Forgets everything (the connection closes).
  void clear();

 private:
  class Parser;
  void restart();

  const std::size_t header_limit_;
  std::unique_ptr<Parser> parser_;  // the request being scanned; null after malformed bytes
  std::deque<Seen> whole_;
  std::size_t scanned_ = 0;  // bytes of `unparsed` the scan has consumed
  std::size_t start_ = 0;    // where the request being scanned begins in `unparsed`
  std::size_t current_ = 0;  // the current request's size as scanned; 0 when the scan did not see it
};

}  // namespace llmd::http::detail
