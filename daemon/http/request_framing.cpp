#include "daemon/http/request_framing.hpp"

#include "daemon/http/message.hpp"

namespace llmd::http::detail {

namespace {

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// What a refusal may quote of a client's coding name.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += (c >= 0x21 && c <= 0x7e && c != '"' && c != '\\') ? c : '?';
  return out;
}

}  // namespace

void FramingCheck::field(std::string_view name, std::string_view value) {
  if (iequals(name, "content-length")) {
    ++content_lengths_;
    if (!all_digits(trim_ows(value))) bad_content_length_ = true;
    return;
  }
  if (!iequals(name, "transfer-encoding")) return;
  transfer_encoding_ = true;
  std::string_view rest = value;
  while (true) {
    std::size_t comma = rest.find(',');
    std::string_view coding = trim_ows(rest.substr(0, comma));
    if (coding.empty()) {
      empty_coding_ = true;
    } else {
      ++codings_;
      last_is_chunked_ = iequals(coding, "chunked");
      if (last_is_chunked_) {
        ++chunked_;
      } else if (other_coding_.empty()) {
        other_coding_ = printable(coding);
      }
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
}

std::optional<FramingError> FramingCheck::verdict(int version) const {
  if (content_lengths_ > 1) return FramingError{400, "more than one Content-Length header"};
  if (bad_content_length_) return FramingError{400, "Content-Length is not a decimal number"};
  if (!transfer_encoding_) return std::nullopt;
  if (content_lengths_ > 0) return FramingError{400, "both Transfer-Encoding and Content-Length"};
  if (version < 11) return FramingError{400, "Transfer-Encoding in an HTTP/1.0 request"};
  if (empty_coding_ || codings_ == 0) return FramingError{400, "empty element in Transfer-Encoding"};
  if (!last_is_chunked_) return FramingError{400, "Transfer-Encoding does not end with chunked"};
  if (chunked_ > 1) return FramingError{400, "chunked applied more than once"};
  if (other_coding_.empty()) return std::nullopt;
  return FramingError{501, "transfer coding \"" + other_coding_ + "\" is not supported; send chunked alone"};
}

}  // namespace llmd::http::detail
