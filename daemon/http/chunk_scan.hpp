// The raw bytes of a chunked request body (RFC 9112 section 7.1), checked
// before Beast's parser sees them, for what that parser lets through or
// waits on:
//
//   - a chunk-size line whose quoted chunk-ext value is not closed before
//     the line ends (Beast looks for the closing quote past the line's end,
//     into the chunk data, and waits for it until the body timeout);
//   - control bytes, a CR not followed by LF or a LF not preceded by CR in a
//     chunk-size line or the trailer section; obsolete line folding in the
//     trailer section;
//   - chunk-size lines and the trailer section longer than a limit (the
//     header limit), so that neither can fill the read buffer unparsed.
//
// Chunk sizes and the extensions' syntax are then Beast's to check. Like
// HeaderScan, it runs over the unparsed bytes ahead of the parser and
// consumed() says how far the parser went. Internal to http/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace llmd::http::detail {

class ChunkScan {
 public:
  enum class Verdict { need_more, complete, bad_line, too_long };

  explicit ChunkScan(std::size_t line_limit) : limit_(line_limit) {}

  Verdict scan(std::string_view pending);
  void consumed(std::size_t n);
  void reset();

 private:
  enum class State {
    size,          // chunk-size digits, then extensions up to CR
    quoted,        // inside a quoted chunk-ext value
    escaped,       // after a backslash in one
    size_lf,       // the LF that ends a chunk-size line
    data,          // chunk data
    data_cr,       // the CRLF after chunk data
    data_lf,
    trailer_start, // the start of a trailer line (or the empty line that ends the body)
    trailer,       // inside a trailer line
    trailer_lf,
    end_lf,        // the LF of the empty line that ends the body
  };

  Verdict step(char c);

  std::size_t limit_;
  Verdict verdict_ = Verdict::need_more;
  State state_ = State::size;
  std::uint64_t size_ = 0;        // the chunk's size, while its line is read
  std::uint64_t left_ = 0;        // chunk data bytes still to come
  bool digits_ = false;           // the chunk-size line has a digit
  bool digits_done_ = false;      // ... and went on past them
  std::size_t line_ = 0;          // bytes of the current chunk-size line
  std::size_t trailer_bytes_ = 0; // bytes of the trailer section
  std::size_t pos_ = 0;           // bytes of `pending` scanned
};

}  // namespace llmd::http::detail
