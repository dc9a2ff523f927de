// StopMatcher: finds OpenAI `stop` strings in streamed text and keeps every
// byte of them out of the stream.
//
// The decoded text of a generation arrives in pieces (one per token, split
// anywhere, even inside a UTF-8 character). push() returns the text that is
// now safe to stream: everything except
//   - a tail that could still grow into a stop string (the longest suffix of
//     the text so far that is a proper prefix of some stop string), and
//   - a tail that is an incomplete UTF-8 character,
// which are held back until the next piece decides them. When a stop string
// completes, push() returns the text before it and reports the stop; the rest
// of that piece and anything pushed later is dropped. When the generation ends
// for another reason, finish() returns the held-back text.
//
// Which stop wins: the one completed first (earliest end in the text); if
// several complete at the same byte, the longest (earliest start). This is what
// scanning the whole text at once gives, so the result never depends on how
// the text was split into pieces. Matching is on bytes (exact, case-sensitive);
// empty stop strings are ignored. Cost: O(bytes · number of stop strings)
// (one Knuth-Morris-Pratt automaton per stop string), memory O(total length of
// the stop strings).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmd::engine {

struct StopResult {
  std::string emit;            // text that may be streamed now
  bool stopped = false;        // a stop string completed (now or earlier)
  int32_t stop_index = -1;     // which one, as an index into the constructor's list
};

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  StopResult push(std::string_view piece);
  // Ends the text: returns what was held back (empty after a stop) and
  // accepts no more.
  std::string finish();

  bool stopped() const { return stop_index_ >= 0; }
  int32_t stop_index() const { return stop_index_; }
  // Bytes received but not yet emitted.
  size_t held_bytes() const { return held_.size(); }

 private:
  struct Pattern {
    std::string text;
    int32_t index;                // position in the constructor's list
    std::vector<uint32_t> border;  // border[i]: longest proper border of text[0..i]
    uint32_t matched = 0;          // bytes of text matching the end of the stream
  };

  // Advances every automaton by one byte; returns the completed pattern, longest
  // first, or nullptr.
  const Pattern* step(char c);
  size_t hold_length(const std::string& text) const;

  std::vector<Pattern> patterns_;
  std::string held_;
  int32_t stop_index_ = -1;
  bool finished_ = false;
};

// Bytes at the end of text that begin a UTF-8 character not yet complete
// (0 when the text ends on a character boundary or with invalid bytes).
size_t incomplete_utf8_tail(std::string_view text);

}  // namespace llmd::engine
