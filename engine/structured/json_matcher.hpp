// JsonMatcher: a pushdown automaton over bytes for the documents a Grammar
// accepts. Given the bytes so far (as a State), it says whether one more byte
// may follow, whether the document may end here, and whether it must.
//
// A State is a set of stacks of frames (one frame per open value: the
// document, an object, an array, a string, a number, a literal, a sequence).
// A set, because `anyOf` may leave several readings of the same bytes open
// until a later byte decides between them; each byte advances every stack and
// drops those that cannot take it. Frames are plain bytes (no pointers, no
// padding), so a State can be copied with memcpy and used as a cache key.
//
// Contract: every byte step() accepts leaves at least one way to finish the
// document, so a generator that only takes allowed bytes never gets stuck
// (bounded by kMaxDepth and the digit and whitespace limits of grammar.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine/structured/grammar.hpp"

namespace llmd::engine::structured {

struct Frame {
  double value = 0.0;   // number: integer part (magnitude)
  double frac = 0.0;    // number: the fraction digits so far, as an integer
  uint64_t m1 = 0;      // object: properties seen; literals: candidates alive; email: previous byte
  uint64_t m2 = 0;      // object: key candidates; email: length of the current label
  int32_t node = -1;    // grammar node; -1 for the document frame
  int32_t a = 0;        // string: code points; array: items; literals: bytes matched; sequence: next child; format state
  int32_t b = 0;        // number: fraction digits; object: key bytes; format: previous byte / dots
  int32_t c = 0;        // number: exponent digits; object: property of the value (-1 undeclared); format counter
  uint8_t phase = 0;    // where in the value (kind-specific)
  uint8_t ws = 0;       // whitespace bytes in the current gap
  uint8_t u8_need = 0;  // UTF-8 continuation bytes still expected
  uint8_t u8_lo = 0;    // range of the next continuation byte
  uint8_t u8_hi = 0;
  uint8_t flags = 0;    // number: bit 0 negative; string: bit 1 first \u digit was 'd'
  uint8_t pad0 = 0;
  uint8_t pad1 = 0;
};
static_assert(sizeof(Frame) == 56, "Frame has no padding: states compare and hash as bytes");

struct MatchState {
  std::vector<Frame> frames;   // the stacks, one after another, each from the bottom
  std::vector<uint32_t> ends;  // end offset (in frames) of each stack
  bool dead() const { return ends.empty(); }
  // The bytes of the state, for use as a cache key.
  std::string_view key() const {
    return {reinterpret_cast<const char*>(frames.data()), frames.size() * sizeof(Frame)};
  }
};

class JsonMatcher {
 public:
  explicit JsonMatcher(GrammarPtr grammar);

  MatchState initial() const;
  // The state after byte c; false (and `out` dead) when c may not come next.
  bool step(const MatchState& in, uint8_t c, MatchState* out) const;
  // Feeds a whole text; false at the first byte that may not come next.
  bool feed(MatchState* state, std::string_view text) const;
  // One reading, inside the content of a string without a format, with no
  // UTF-8 sequence open: sets *room to the code points the string may still
  // take (-1: no bound). Content bytes then change only the string's frame,
  // which advance_content() does without stepping byte by byte.
  bool in_string_content(const MatchState& s, int32_t* room) const;
  // s (in_string_content) after `code_points` more code points of content,
  // ending with `need` continuation bytes expected in [lo, hi].
  void advance_content(MatchState* s, int32_t code_points, uint8_t need, uint8_t lo, uint8_t hi) const;

  // The bytes so far are a complete document (it may end here).
  bool can_end(const MatchState& s) const;
  // Complete, and no byte may follow.
  bool must_end(const MatchState& s) const;

  const Grammar& grammar() const { return *grammar_; }

 private:
  enum class Step : uint8_t { consumed, finish, pop, push, reject };
  Step step_frame(Frame& f, uint8_t c, int32_t* push) const;
  Step step_object(const Node& n, Frame& f, uint8_t c, int32_t* push) const;
  Step step_array(const Node& n, Frame& f, uint8_t c, int32_t* push) const;
  Step step_string(const Node& n, Frame& f, uint8_t c) const;
  Step step_number(const Node& n, Frame& f, uint8_t c, bool integer) const;
  Step step_literals(const Node& n, Frame& f, uint8_t c) const;
  void run(size_t base, uint8_t c, MatchState* out) const;
  void start(size_t base, int32_t node, uint8_t c, MatchState* out) const;
  void commit(MatchState* out) const;
  bool frame_complete(const Frame& f) const;
  bool frame_done(const Frame& f) const;

  GrammarPtr grammar_;
};

}  // namespace llmd::engine::structured
