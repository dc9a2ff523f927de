// The raw bytes of a request's header block (request line, fields, the empty
// line), checked before Beast's parser sees them, for what that parser lets
// through:
//
//   - the configured size limit, exactly: Beast applies its limit to each
//     call's window, so a header block fed to it in parts can grow to about
//     twice the limit;
//   - obsolete line folding (a field line that starts with SP or HTAB), which
//     Beast silently unfolds (RFC 9112 section 5.2 lets a server refuse it,
//     and two parties that unfold differently disagree about the fields);
//   - a CR not followed by LF and a LF not preceded by CR.
//
// The scan runs over the session's unparsed bytes, which start where the
// parser stopped; consumed() tells it how far the parser went, so no byte is
// looked at twice. Internal to http/.
#pragma once

#include <cstddef>
#include <string_view>

namespace llmd::http::detail {

class HeaderScan {
 public:
  enum class Verdict { need_more, complete, too_large, bare_cr_or_lf, obs_fold };

  explicit HeaderScan(std::size_t limit) : limit_(limit) {}

  // `pending` holds the request's bytes from where the parser stopped. Once
  // a verdict other than need_more is reached it sticks.
  Verdict scan(std::string_view pending);
  // The parser consumed `n` bytes from the front of `pending`.
  void consumed(std::size_t n);
  // A new request starts at the front of the unparsed bytes.
  void reset();

  // The header block's size once complete.
  std::size_t size() const { return before_ + pos_; }

 private:
  enum class State { line_start, in_line, after_cr, end_cr };

  const std::size_t limit_;
  Verdict verdict_ = Verdict::need_more;
  State state_ = State::line_start;
  bool first_line_ = true;
  std::size_t before_ = 0;  // bytes of the block the parser has consumed
  std::size_t pos_ = 0;     // bytes of `pending` scanned
};

}  // namespace llmd::http::detail
