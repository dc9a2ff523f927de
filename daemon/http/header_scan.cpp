#include "daemon/http/header_scan.hpp"

namespace llmd::http::detail {

void HeaderScan::reset() {
  verdict_ = Verdict::need_more;
  state_ = State::line_start;
  first_line_ = true;
  before_ = 0;
  pos_ = 0;
}

void HeaderScan::consumed(std::size_t n) {
  // The parser never consumes bytes the scan has not passed.
  if (n > pos_) n = pos_;
  pos_ -= n;
  before_ += n;
}

HeaderScan::Verdict HeaderScan::scan(std::string_view pending) {
  while (verdict_ == Verdict::need_more) {
    if (before_ + pos_ >= limit_) {
      verdict_ = Verdict::too_large;  // the block is not over and has no room left
      break;
    }
    if (pos_ >= pending.size()) break;
    const char c = pending[pos_++];
    switch (state_) {
      case State::line_start:
        if (c == '\r') {
          state_ = State::end_cr;
        } else if (c == '\n') {
          verdict_ = Verdict::bare_cr_or_lf;
        } else if ((c == ' ' || c == '\t') && !first_line_) {
          verdict_ = Verdict::obs_fold;
        } else {
          state_ = State::in_line;
        }
        break;
      case State::in_line:
        if (c == '\r') {
          state_ = State::after_cr;
        } else if (c == '\n') {
          verdict_ = Verdict::bare_cr_or_lf;
        }
        break;
      case State::after_cr:
        if (c != '\n') {
          verdict_ = Verdict::bare_cr_or_lf;
        } else {
          state_ = State::line_start;
          first_line_ = false;
        }
        break;
      case State::end_cr:
        verdict_ = c == '\n' ? Verdict::complete : Verdict::bare_cr_or_lf;
        break;
    }
  }
  return verdict_;
}

}  // namespace llmd::http::detail
