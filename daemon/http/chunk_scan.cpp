#include "daemon/http/chunk_scan.hpp"

#include <algorithm>

namespace llmd::http::detail {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A control byte other than HTAB (CR and LF are handled by the caller).
bool control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u == 0x7f;
}

}  // namespace

void ChunkScan::reset() { *this = ChunkScan(limit_); }

void ChunkScan::consumed(std::size_t n) { pos_ -= std::min(n, pos_); }

ChunkScan::Verdict ChunkScan::scan(std::string_view pending) {
  while (verdict_ == Verdict::need_more && pos_ < pending.size()) {
    if (state_ == State::data) {  // skip chunk data in one step
      const std::uint64_t n = std::min<std::uint64_t>(left_, pending.size() - pos_);
      pos_ += static_cast<std::size_t>(n);
      left_ -= n;
      if (left_ == 0) state_ = State::data_cr;
      continue;
    }
    verdict_ = step(pending[pos_++]);
  }
  return verdict_;
}

ChunkScan::Verdict ChunkScan::step(char c) {
  const bool in_size_line = state_ == State::size || state_ == State::quoted || state_ == State::escaped ||
                            state_ == State::size_lf;
  if (in_size_line && ++line_ > limit_) return Verdict::too_long;
  const bool in_trailer = state_ == State::trailer_start || state_ == State::trailer ||
                          state_ == State::trailer_lf || state_ == State::end_lf;
  if (in_trailer && ++trailer_bytes_ > limit_) return Verdict::too_long;

  switch (state_) {
    case State::size: {
      if (c == '\r') {
        if (!digits_) return Verdict::bad_line;
        state_ = State::size_lf;
        return Verdict::need_more;
      }
      if (c == '\n' || control(c)) return Verdict::bad_line;
      const int h = digits_done_ ? -1 : hex_value(c);
      if (h >= 0) {
        if (size_ > (UINT64_MAX >> 4)) return Verdict::bad_line;  // more than 64 bits
        size_ = size_ * 16 + static_cast<unsigned>(h);
        digits_ = true;
        return Verdict::need_more;
      }
      if (!digits_) return Verdict::bad_line;
      digits_done_ = true;
      if (c == '"') state_ = State::quoted;
      return Verdict::need_more;
    }
    case State::quoted:
      if (c == '\r' || c == '\n' || control(c)) return Verdict::bad_line;  // the line ends inside quotes
      if (c == '"') state_ = State::size;
      if (c == '\\') state_ = State::escaped;
      return Verdict::need_more;
    case State::escaped:
      if (c == '\r' || c == '\n' || control(c)) return Verdict::bad_line;
      state_ = State::quoted;
      return Verdict::need_more;
    case State::size_lf:
      if (c != '\n') return Verdict::bad_line;
      line_ = 0;
      digits_ = digits_done_ = false;
      left_ = size_;
      size_ = 0;
      state_ = left_ == 0 ? State::trailer_start : State::data;
      return Verdict::need_more;
    case State::data:
      return Verdict::need_more;  // scan() skips data without calling step()
    case State::data_cr:
      if (c != '\r') return Verdict::bad_line;
      state_ = State::data_lf;
      return Verdict::need_more;
    case State::data_lf:
      if (c != '\n') return Verdict::bad_line;
      state_ = State::size;
      return Verdict::need_more;
    case State::trailer_start:
      if (c == '\r') {
        state_ = State::end_lf;
        return Verdict::need_more;
      }
      if (c == '\n' || c == ' ' || c == '\t' || control(c)) return Verdict::bad_line;
      state_ = State::trailer;
      return Verdict::need_more;
    case State::trailer:
      if (c == '\r') state_ = State::trailer_lf;
      else if (c == '\n') return Verdict::bad_line;
      return Verdict::need_more;
    case State::trailer_lf:
      if (c != '\n') return Verdict::bad_line;
      state_ = State::trailer_start;
      return Verdict::need_more;
    case State::end_lf:
      return c == '\n' ? Verdict::complete : Verdict::bad_line;
  }
  return Verdict::bad_line;
}

}  // namespace llmd::http::detail
