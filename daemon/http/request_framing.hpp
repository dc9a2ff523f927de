// How a request's body is delimited (RFC 9112 section 6), checked beyond what
// Beast's parser enforces, so that no two parties on the path can disagree
// about where a request ends (request smuggling):
//
//   - Transfer-Encoding whose last coding is not "chunked"        -> 400
//   - "chunked" applied more than once, or an empty coding list  -> 400
//   - another coding before the final "chunked" (gzip, ...)      -> 501
//   - Transfer-Encoding together with Content-Length             -> 400
//   - Transfer-Encoding in an HTTP/1.0 request                   -> 400
//   - more than one Content-Length (even with equal values), or
//     a value that is not a plain decimal number                 -> 400
//
// Every refusal closes the connection: the bytes after such a header cannot
// be trusted to start the next request. Fed every header field in order, then
// asked once for the verdict. Internal to http/.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace llmd::http::detail {

struct FramingError {
  int status = 400;
  std::string message;
};

class FramingCheck {
 public:
  void field(std::string_view name, std::string_view value);
  // Once every field is in: nullopt when the framing is sound. `version` is
  // 10 or 11.
  std::optional<FramingError> verdict(int version) const;

 private:
  int content_lengths_ = 0;
  bool bad_content_length_ = false;
  bool transfer_encoding_ = false;
  int codings_ = 0;           // transfer codings listed, over all fields
  int chunked_ = 0;           // how many of them are "chunked"
  bool last_is_chunked_ = false;
  bool empty_coding_ = false;  // an empty element or field
  std::string other_coding_;   // the first coding that is not "chunked"
};

}  // namespace llmd::http::detail
