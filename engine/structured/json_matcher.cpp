// Phases of each frame kind (Frame::phase):
//
//   document  0 before the value (leading whitespace), 1 after it
//   object    0 before "{", 1 after "{", 2 in a key, 3 after a key, 4 after ":",
//             5 after a value, 6 after ","
//   array     0 before "[", 1 after "[", 2 after a value, 3 after ","
//   string    0 before the quote, 1 in the content, 2 after "\", 3..6 the four
//             hex digits of "\u"
//   number    0 start, 1 after "-", 2 integer digits, 3 after a leading "0",
//             4 after ".", 5 fraction digits, 6 after "e", 7 after the
//             exponent's sign, 8 exponent digits
//   literals, sequence: phase unused (a counts bytes / children)
//
// A parent sets its own next phase when it pushes a child, so a child that
// ends simply leaves the stack.
#include "engine/structured/json_matcher.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/structured/number_range.hpp"
#include "engine/structured/string_formats.hpp"

namespace llmd::engine::structured {
namespace {

constexpr size_t kMaxStacks = 128;  // readings kept at once (one per tool of a forced call, at most)

bool is_ws(uint8_t c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
bool is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// One more whitespace byte in the current gap, if the limit allows.
bool take_ws(Frame& f) {
  if (f.ws >= kMaxWhitespace) return false;
  ++f.ws;
  return true;
}

// A UTF-8 lead byte: sets how many continuation bytes follow and the range of
// the first (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
bool utf8_lead(Frame& f, uint8_t c) {
  if (c >= 0xC2 && c <= 0xDF) {
    f.u8_need = 1, f.u8_lo = 0x80, f.u8_hi = 0xBF;
  } else if (c == 0xE0) {
    f.u8_need = 2, f.u8_lo = 0xA0, f.u8_hi = 0xBF;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    f.u8_need = 2, f.u8_lo = 0x80, f.u8_hi = 0xBF;
  } else if (c == 0xED) {
    f.u8_need = 2, f.u8_lo = 0x80, f.u8_hi = 0x9F;
  } else if (c == 0xF0) {
    f.u8_need = 3, f.u8_lo = 0x90, f.u8_hi = 0xBF;
  } else if (c >= 0xF1 && c <= 0xF3) {
    f.u8_need = 3, f.u8_lo = 0x80, f.u8_hi = 0xBF;
  } else if (c == 0xF4) {
    f.u8_need = 3, f.u8_lo = 0x80, f.u8_hi = 0x8F;
  } else {
    return false;
  }
  return true;
}

// A continuation byte, when one is expected.
bool utf8_continue(Frame& f, uint8_t c) {
  if (c < f.u8_lo || c > f.u8_hi) return false;
  --f.u8_need;
  f.u8_lo = f.u8_need ? 0x80 : 0;
  f.u8_hi = f.u8_need ? 0xBF : 0;
  return true;
}

uint64_t all_bits(size_t n) { return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1; }

}  // namespace

JsonMatcher::JsonMatcher(GrammarPtr grammar) : grammar_(std::move(grammar)) {}

MatchState JsonMatcher::initial() const {
  MatchState s;
  Frame doc;
  doc.node = -1;
  s.frames.push_back(doc);
  s.ends.push_back(1);
  return s;
}

bool JsonMatcher::feed(MatchState* state, std::string_view text) const {
  MatchState next;
  for (char ch : text) {
    if (!step(*state, static_cast<uint8_t>(ch), &next)) return false;
    std::swap(*state, next);
  }
  return true;
}

bool JsonMatcher::step(const MatchState& in, uint8_t c, MatchState* out) const {
  out->frames.clear();
  out->ends.clear();
  uint32_t begin = 0;
  for (uint32_t end : in.ends) {
    const size_t base = out->frames.size();
    out->frames.insert(out->frames.end(), in.frames.begin() + begin, in.frames.begin() + end);
    run(base, c, out);
    begin = end;
  }
  // Two readings that arrive at the same stack are one.
  if (out->ends.size() > 1) {
    MatchState unique;
    uint32_t b0 = 0;
    for (uint32_t e0 : out->ends) {
      bool seen = false;
      uint32_t b1 = 0;
      for (uint32_t e1 : unique.ends) {
        if (e1 - b1 == e0 - b0 &&
            std::memcmp(&unique.frames[b1], &out->frames[b0], (e0 - b0) * sizeof(Frame)) == 0) {
          seen = true;
          break;
        }
        b1 = e1;
      }
      if (!seen && unique.ends.size() < kMaxStacks) {
        unique.frames.insert(unique.frames.end(), out->frames.begin() + b0, out->frames.begin() + e0);
        unique.ends.push_back(static_cast<uint32_t>(unique.frames.size()));
      }
      b0 = e0;
    }
    *out = std::move(unique);
  }
  return !out->dead();
}

void JsonMatcher::commit(MatchState* out) const { out->ends.push_back(static_cast<uint32_t>(out->frames.size())); }

// Advances the tentative stack out->frames[base..] by c.
void JsonMatcher::run(size_t base, uint8_t c, MatchState* out) const {
  std::vector<Frame>& fr = out->frames;
  for (;;) {
    if (fr.size() == base) return;
    int32_t push = -1;
    switch (step_frame(fr.back(), c, &push)) {
      case Step::reject: fr.resize(base); return;
      case Step::consumed: commit(out); return;
      case Step::finish:
        fr.pop_back();
        // Sequences whose last child just ended are over too.
        while (fr.size() > base && fr.back().node >= 0 &&
               grammar_->nodes[static_cast<size_t>(fr.back().node)].kind == NodeKind::sequence &&
               static_cast<size_t>(fr.back().a) ==
                   grammar_->nodes[static_cast<size_t>(fr.back().node)].children.size()) {
          fr.pop_back();
        }
        if (fr.size() == base) return;  // cannot happen: the document frame stays
        commit(out);
        return;
      case Step::pop: fr.pop_back(); continue;
      case Step::push: start(base, push, c, out); return;
    }
  }
}

// Pushes a frame for `node` on the tentative stack and gives it c, forking
// the stack for each branch of an any_of.
void JsonMatcher::start(size_t base, int32_t node, uint8_t c, MatchState* out) const {
  std::vector<Frame>& fr = out->frames;
  if (fr.size() - base >= static_cast<size_t>(kMaxDepth)) {
    fr.resize(base);
    return;
  }
  const Node& n = grammar_->nodes[static_cast<size_t>(node)];
  if (n.kind == NodeKind::any_of) {
    const std::vector<Frame> saved(fr.begin() + static_cast<std::ptrdiff_t>(base), fr.end());
    fr.resize(base);
    for (int32_t child : n.children) {
      const size_t b = fr.size();
      fr.insert(fr.end(), saved.begin(), saved.end());
      start(b, child, c, out);
    }
    return;
  }
  Frame f;
  f.node = node;
  if (n.kind == NodeKind::literals) f.m1 = all_bits(n.texts.size());
  fr.push_back(f);
  run(base, c, out);
}

JsonMatcher::Step JsonMatcher::step_frame(Frame& f, uint8_t c, int32_t* push) const {
  if (f.node < 0) {  // the document
    if (f.phase == 0) {
      if (is_ws(c) && grammar_->allow_leading_whitespace) return take_ws(f) ? Step::consumed : Step::reject;
      f.phase = 1;
      *push = grammar_->root;
      return Step::push;
    }
    return Step::reject;
  }
  const Node& n = grammar_->nodes[static_cast<size_t>(f.node)];
  switch (n.kind) {
    case NodeKind::object: return step_object(n, f, c, push);
    case NodeKind::array: return step_array(n, f, c, push);
    case NodeKind::string: return step_string(n, f, c);
    case NodeKind::number: return step_number(n, f, c, false);
    case NodeKind::integer: return step_number(n, f, c, true);
    case NodeKind::literals: return step_literals(n, f, c);
    case NodeKind::sequence:
      if (static_cast<size_t>(f.a) >= n.children.size()) return Step::pop;
      *push = n.children[static_cast<size_t>(f.a++)];
      return Step::push;
    case NodeKind::any_of: return Step::reject;  // never a frame: start() forks instead
  }
  return Step::reject;
}

JsonMatcher::Step JsonMatcher::step_object(const Node& n, Frame& f, uint8_t c, int32_t* push) const {
  const uint64_t declared = all_bits(n.properties.size());
  const bool more_possible = n.additional >= 0 || (declared & ~f.m1) != 0;
  auto open_key = [&] {
    f.phase = 2;
    f.b = 0;
    f.m2 = declared;
    f.ws = 0;
    return more_possible ? Step::consumed : Step::reject;
  };
  auto close = [&] { return (n.required_mask & ~f.m1) == 0 ? Step::finish : Step::reject; };
  switch (f.phase) {
    case 0:
      if (c != '{') return Step::reject;
      f.phase = 1;
      return Step::consumed;
    case 1:
      if (is_ws(c)) return take_ws(f) ? Step::consumed : Step::reject;
      if (c == '"') return open_key();
      if (c == '}') return close();
      return Step::reject;
    case 2: {  // key content: no escapes, no control bytes, valid UTF-8
      if (f.u8_need) {
        if (!utf8_continue(f, c)) return Step::reject;
      } else if (c == '"') {
        int32_t match = -1;
        for (size_t i = 0; i < n.properties.size(); ++i) {
          if ((f.m2 >> i & 1) && n.properties[i].name.size() == static_cast<size_t>(f.b)) match = static_cast<int32_t>(i);
        }
        if (match >= 0 && (f.m1 >> match & 1)) return Step::reject;  // a property given twice
        if (match < 0 && n.additional < 0) return Step::reject;
        f.c = match;
        f.m2 = 0;
        f.b = 0;
        f.phase = 3;
        f.ws = 0;
        return Step::consumed;
      } else if (c == '\\' || c < 0x20) {
        return Step::reject;
      } else if (c >= 0x80 && !utf8_lead(f, c)) {
        return Step::reject;
      }
      uint64_t keep = 0;
      for (size_t i = 0; i < n.properties.size(); ++i) {
        const std::string& name = n.properties[i].name;
        if ((f.m2 >> i & 1) && name.size() > static_cast<size_t>(f.b) && static_cast<uint8_t>(name[f.b]) == c) {
          keep |= uint64_t{1} << i;
        }
      }
      if (n.additional < 0 && (keep & ~f.m1) == 0) return Step::reject;
      f.m2 = keep;
      ++f.b;
      return Step::consumed;
    }
    case 3:
      if (is_ws(c)) return take_ws(f) ? Step::consumed : Step::reject;
      if (c != ':') return Step::reject;
      f.phase = 4;
      f.ws = 0;
      return Step::consumed;
    case 4:
      if (is_ws(c)) return take_ws(f) ? Step::consumed : Step::reject;
      if (f.c >= 0) {
        f.m1 |= uint64_t{1} << f.c;
        *push = n.properties[static_cast<size_t>(f.c)].node;
      } else {
        *push = n.additional;
      }
      f.c = 0;
      f.phase = 5;
      f.ws = 0;
      return Step::push;
    case 5:
      if (is_ws(c)) return take_ws(f) ? Step::consumed : Step::reject;
      if (c == '}') return close();
      if (c != ',' || !more_possible) return Step::reject;
      f.phase = 6;
      f.ws = 0;
      return Step::consumed;
    case 6:
      if (is_ws(c)) return take_ws(f) ? Step::consumed : Step::reject;
      return c == '"' ? open_key() : Step::reject;
    default: return Step::reject;
  }
}

JsonMatcher::Step JsonMatcher::step_array(const Node& n, Frame& f, uint8_t c, int32_t* push) const {
  auto item = [&] {
    if (n.max_items >= 0 && f.a >= n.max_items) return Step::reject;
    ++f.a;
    f.phase = 2;
    f.ws = 0;
    *push = n.items;
    return Step::push;
  };
  switch (f.phase) {
    case 0:
      if (c != '[') return Step::reject;
      f.phase = 1;
      return Step::consumed;
    case 1:
      if (is_ws(c)) return take_ws(f) ? Step::consumed : Step::reject;
      if (c == ']') return n.min_items == 0 ? Step::finish : Step::reject;
      return item();
    case 2:
      if (is_ws(c)) return take_ws(f) ? Step::consumed : Step::reject;
      if (c == ']') return f.a >= n.min_items ? Step::finish : Step::reject;
      if (c != ',' || (n.max_items >= 0 && f.a >= n.max_items)) return Step::reject;
      f.phase = 3;
      f.ws = 0;
      return Step::consumed;
    case 3:
      if (is_ws(c)) return take_ws(f) ? Step::consumed : Step::reject;
      return item();
    default: return Step::reject;
  }
}

JsonMatcher::Step JsonMatcher::step_string(const Node& n, Frame& f, uint8_t c) const {
  // Code points are counted only when a bound needs them, so that an unbounded
  // string's state does not change from byte to byte (masks are cached by state).
  const bool counting = n.min_length > 0 || n.max_length >= 0;
  const bool room = n.max_length < 0 || f.a < n.max_length;
  switch (f.phase) {
    case 0:
      if (c != '"') return Step::reject;
      f.phase = 1;
      return Step::consumed;
    case 1:
      if (n.format != StringFormat::none) {
        if (c == '"') return format_accepts(n.format, f) ? Step::finish : Step::reject;
        if (c < 0x20 || c >= 0x80 || c == '\\') return Step::reject;
        return format_step(n.format, f, c) ? Step::consumed : Step::reject;
      }
      if (f.u8_need) return utf8_continue(f, c) ? Step::consumed : Step::reject;
      if (c == '"') return f.a >= n.min_length ? Step::finish : Step::reject;
      if (c < 0x20 || !room) return Step::reject;
      if (c == '\\') {
        f.phase = 2;
        return Step::consumed;
      }
      if (c >= 0x80 && !utf8_lead(f, c)) return Step::reject;
      if (counting) ++f.a;
      return Step::consumed;
    case 2:
      if (c == 'u') {
        f.phase = 3;
        return Step::consumed;
      }
      if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' && c != 'r' && c != 't') {
        return Step::reject;
      }
      f.phase = 1;
      if (counting) ++f.a;
      return Step::consumed;
    case 3: case 4: case 5: case 6:
      // \uXXXX, never a surrogate half (D800-DFFF), so the text stays valid UTF-8.
      if (!is_hex(c)) return Step::reject;
      if (f.phase == 3) f.flags = (c == 'd' || c == 'D') ? 2 : 0;
      if (f.phase == 4 && (f.flags & 2) && !(c >= '0' && c <= '7')) return Step::reject;
      if (f.phase == 6) {
        f.phase = 1;
        f.flags = 0;
        if (counting) ++f.a;
      } else {
        ++f.phase;
      }
      return Step::consumed;
    default: return Step::reject;
  }
}

JsonMatcher::Step JsonMatcher::step_number(const Node& n, Frame& f, uint8_t c, bool integer) const {
  const bool bounded = n.minimum.has_value() || n.maximum.has_value();
  const Frame before = f;
  auto check = [&] {
    if (number_prefix_feasible(n, f, integer)) return Step::consumed;
    f = before;
    return Step::reject;
  };
  // Ends here if complete and in range; the byte then belongs to the parent.
  auto end = [&] {
    const bool complete = f.phase == 2 || f.phase == 3 || f.phase == 5 || f.phase == 8;
    return complete && number_in_range(n, f) ? Step::pop : Step::reject;
  };
  const int32_t d = c - '0';
  switch (f.phase) {
    case 0:
      if (c == '-') {
        f.flags |= kNumNegative;
        f.phase = 1;
        return check();
      }
      [[fallthrough]];
    case 1:
      if (!is_digit(c)) return Step::reject;
      f.phase = d == 0 ? 3 : 2;
      f.value = d;
      f.a = 1;
      return check();
    case 2:
    case 3:
      if (is_digit(c)) {
        if (f.phase == 3 || f.a >= kMaxIntDigits) return end();
        f.value = f.value * 10 + d;
        ++f.a;
        return check();
      }
      if (c == '.' && !integer) {
        f.phase = 4;
        return check();
      }
      if ((c == 'e' || c == 'E') && !integer && !bounded) {
        f.phase = 6;
        return Step::consumed;
      }
      return end();
    case 4:
      if (!is_digit(c)) return Step::reject;
      f.phase = 5;
      f.b = 1;
      f.frac = d;
      return check();
    case 5:
      if (!is_digit(c)) {
        if ((c == 'e' || c == 'E') && !bounded) {
          f.phase = 6;
          return Step::consumed;
        }
        return end();
      }
      if (f.b >= kMaxFracDigits) return end();
      ++f.b;
      f.frac = f.frac * 10 + d;
      return check();
    case 6:
      if (c == '+' || c == '-') {
        f.phase = 7;
        return Step::consumed;
      }
      [[fallthrough]];
    case 7:
      if (!is_digit(c)) return Step::reject;
      f.phase = 8;
      f.c = 1;
      return Step::consumed;
    case 8:
      if (is_digit(c) && f.c < kMaxExpDigits) {
        ++f.c;
        return Step::consumed;
      }
      return end();
    default: return Step::reject;
  }
}

JsonMatcher::Step JsonMatcher::step_literals(const Node& n, Frame& f, uint8_t c) const {
  const auto pos = static_cast<size_t>(f.a);
  uint64_t keep = 0;
  bool complete = false;
  for (size_t i = 0; i < n.texts.size(); ++i) {
    if (!(f.m1 >> i & 1)) continue;
    const std::string& t = n.texts[i];
    if (t.size() == pos) complete = true;
    if (t.size() > pos && static_cast<uint8_t>(t[pos]) == c) keep |= uint64_t{1} << i;
  }
  if (keep == 0) return complete ? Step::pop : Step::reject;
  f.m1 = keep;
  ++f.a;
  // Done when every candidate left ends here.
  for (size_t i = 0; i < n.texts.size(); ++i) {
    if ((keep >> i & 1) && n.texts[i].size() > pos + 1) return Step::consumed;
  }
  return Step::finish;
}

bool JsonMatcher::frame_done(const Frame& f) const {
  if (f.node < 0) return f.phase == 1;
  const Node& n = grammar_->nodes[static_cast<size_t>(f.node)];
  return n.kind == NodeKind::sequence && static_cast<size_t>(f.a) >= n.children.size();
}

bool JsonMatcher::frame_complete(const Frame& f) const {
  if (frame_done(f)) return true;
  if (f.node < 0) return false;
  const Node& n = grammar_->nodes[static_cast<size_t>(f.node)];
  switch (n.kind) {
    case NodeKind::number:
    case NodeKind::integer:
      return (f.phase == 2 || f.phase == 3 || f.phase == 5 || f.phase == 8) && number_in_range(n, f);
    case NodeKind::literals:
      for (size_t i = 0; i < n.texts.size(); ++i) {
        if ((f.m1 >> i & 1) && n.texts[i].size() == static_cast<size_t>(f.a)) return true;
      }
      return false;
    default: return false;
  }
}

bool JsonMatcher::can_end(const MatchState& s) const {
  uint32_t begin = 0;
  for (uint32_t end : s.ends) {
    bool ok = frame_complete(s.frames[end - 1]);
    for (uint32_t i = begin; ok && i + 1 < end; ++i) ok = frame_done(s.frames[i]);
    if (ok) return true;
    begin = end;
  }
  return false;
}

bool JsonMatcher::in_string_content(const MatchState& s, int32_t* room) const {
  if (s.ends.size() != 1 || s.frames.empty()) return false;
  const Frame& f = s.frames.back();
  if (f.node < 0 || f.phase != 1 || f.u8_need != 0) return false;
  const Node& n = grammar_->nodes[static_cast<size_t>(f.node)];
  if (n.kind != NodeKind::string || n.format != StringFormat::none) return false;
  *room = n.max_length < 0 ? -1 : n.max_length - f.a;
  return true;
}

void JsonMatcher::advance_content(MatchState* s, int32_t code_points, uint8_t need, uint8_t lo, uint8_t hi) const {
  Frame& f = s->frames.back();
  const Node& n = grammar_->nodes[static_cast<size_t>(f.node)];
  if (n.min_length > 0 || n.max_length >= 0) f.a += code_points;
  f.u8_need = need;
  f.u8_lo = lo;
  f.u8_hi = hi;
}

bool JsonMatcher::must_end(const MatchState& s) const {
  if (s.dead()) return false;
  for (const Frame& f : s.frames) {
    if (!frame_done(f)) return false;
  }
  return true;
}

}  // namespace llmd::engine::structured
