#include "engine/sampling/stop_matcher.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/sampling/rng.hpp"

namespace llmd::engine {
namespace {

struct Outcome {
  std::string text;  // everything emitted, finish() included
  bool stopped = false;
  int32_t stop_index = -1;
};

Outcome feed(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
  StopMatcher m(stops);
  Outcome o;
  for (const std::string& piece : pieces) {
    const StopResult r = m.push(piece);
    o.text += r.emit;
    o.stopped = r.stopped;
    o.stop_index = r.stop_index;
  }
  o.text += m.finish();
  return o;
}

// Whole-text reference: the stop completed first (earliest end), on a tie the
// longest; the output is the text before it.
Outcome reference(const std::vector<std::string>& stops, const std::string& text) {
  Outcome o;
  size_t best_end = std::string::npos, best_start = 0;
  for (size_t i = 0; i < stops.size(); ++i) {
    if (stops[i].empty()) continue;
    const size_t at = text.find(stops[i]);
    if (at == std::string::npos) continue;
    const size_t end = at + stops[i].size();
    if (best_end == std::string::npos || end < best_end || (end == best_end && at < best_start)) {
      best_end = end;
      best_start = at;
      o.stop_index = static_cast<int32_t>(i);
    }
  }
  o.stopped = best_end != std::string::npos;
  o.text = o.stopped ? text.substr(0, best_start) : text;
  return o;
}

// What must be held back after `seen`: the longest suffix that is a proper
// prefix of a stop string, or an unfinished UTF-8 character.
size_t reference_hold(const std::vector<std::string>& stops, const std::string& seen) {
  size_t hold = incomplete_utf8_tail(seen);
  for (const std::string& s : stops)
    for (size_t len = std::min(seen.size(), s.size() ? s.size() - 1 : 0); len > 0; --len)
      if (seen.compare(seen.size() - len, len, s, 0, len) == 0) {
        hold = std::max(hold, len);
        break;
      }
  return hold;
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t j = 1; j < len; ++j)
      if ((static_cast<unsigned char>(s[i + j]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

TEST(StopMatcher, StopsAndDropsTheRest) {
  const Outcome o = feed({"END"}, {"abc", "ENDxyz", "more"});
  EXPECT_EQ(o.text, "abc");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.stop_index, 0);
}

TEST(StopMatcher, HoldsBackPossibleStartThenReleasesIt) {
  StopMatcher m({"END"});
  StopResult r = m.push("abcE");
  EXPECT_EQ(r.emit, "abc");
  EXPECT_EQ(m.held_bytes(), 1u);
  r = m.push("N");
  EXPECT_EQ(r.emit, "");
  r = m.push("x");
  EXPECT_EQ(r.emit, "ENx");
  EXPECT_FALSE(r.stopped);
  r = m.push("EN");
  EXPECT_EQ(r.emit, "");
  EXPECT_EQ(m.finish(), "EN");  // generation ended for another reason
  EXPECT_EQ(m.push("more").emit, "");
}

TEST(StopMatcher, SpansManyPieces) {
  const Outcome o = feed({"<|end|>"}, {"Hello", " <", "|", "en", "d", "|", ">", " tail"});
  EXPECT_EQ(o.text, "Hello ");
  EXPECT_TRUE(o.stopped);
}

TEST(StopMatcher, OverlappingPartialMatches) {
  EXPECT_EQ(feed({"abcabd"}, {"abcabcabd"}).text, "abc");
  EXPECT_EQ(feed({"abcabd"}, {"a", "b", "c", "a", "b", "c", "a", "b", "d"}).text, "abc");
  EXPECT_EQ(feed({"aab"}, {"a", "a", "a", "a", "b"}).text, "aa");
  const Outcome none = feed({"abcabd"}, {"abcab", "cab", "c"});
  EXPECT_FALSE(none.stopped);
  EXPECT_EQ(none.text, "abcabcabc");
}

TEST(StopMatcher, FirstCompletedWinsThenLongest) {
  // "ab" completes before "xabcd" would.
  Outcome o = feed({"xabcd", "ab"}, {"x", "a", "b", "cd"});
  EXPECT_EQ(o.text, "x");
  EXPECT_EQ(o.stop_index, 1);
  // Both end at the same byte: the longer one is cut.
  o = feed({"bc", "abc"}, {"zab", "c"});
  EXPECT_EQ(o.text, "z");
  EXPECT_EQ(o.stop_index, 1);
}

TEST(StopMatcher, EmptyStopsIgnoredAndNoStopsPassThrough) {
  const Outcome o = feed({"", ""}, {"plain ", "text"});
  EXPECT_EQ(o.text, "plain text");
  EXPECT_FALSE(o.stopped);
  StopMatcher m({});
  EXPECT_EQ(m.push("abc").emit, "abc");
}

TEST(StopMatcher, Utf8StopStringsAndSplitCharacters) {
  const std::string text = "Voilà. Ça 🙂 va。Fin";
  EXPECT_EQ(feed({"。"}, {text}).text, "Voilà. Ça 🙂 va");
  EXPECT_EQ(feed({"🙂"}, {text}).text, "Voilà. Ça ");
  // One byte per piece: every emitted chunk is still whole characters.
  StopMatcher m({"Ça 🙂 vb"});
  std::string all;
  for (const char c : text) {
    const StopResult r = m.push(std::string(1, c));
    EXPECT_TRUE(valid_utf8(r.emit)) << r.emit;
    all += r.emit;
  }
  all += m.finish();
  EXPECT_EQ(all, text);
}

TEST(StopMatcher, IncompleteUtf8Tail) {
  EXPECT_EQ(incomplete_utf8_tail(""), 0u);
  EXPECT_EQ(incomplete_utf8_tail("abc"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("a\xC3"), 1u);
  EXPECT_EQ(incomplete_utf8_tail("a\xC3\xA9"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("\xF0\x9F\x99"), 3u);
  EXPECT_EQ(incomplete_utf8_tail("\xF0\x9F\x99\x82"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("\x80\x80\x80\x80"), 0u);  // invalid: not held
}

TEST(StopMatcher, LongStopString) {
  const std::string stop(5000, 'z');
  std::string text = "head" + std::string(4999, 'z') + "y" + stop + "tail";
  std::vector<std::string> pieces;
  for (size_t i = 0; i < text.size(); i += 7) pieces.push_back(text.substr(i, 7));
  const Outcome o = feed({stop}, pieces);
  EXPECT_EQ(o.text, "head" + std::string(4999, 'z') + "y");
}

// Random texts, stop sets and splits (byte-level, empty pieces included): the
// output equals whole-text matching, and after every push exactly the minimal
// tail is held back.
TEST(StopMatcher, RandomSplitsMatchWholeText) {
  const std::vector<std::string> alphabet = {"a", "b", "c", "ab", "é", "🙂", " "};
  Rng rng(2718);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng.next() % n); };
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const size_t len = pick(40);
    for (size_t i = 0; i < len; ++i) text += alphabet[pick(alphabet.size())];
    std::vector<std::string> stops;
    const size_t n_stops = 1 + pick(4);
    for (size_t i = 0; i < n_stops; ++i) {
      std::string s;
      if (!text.empty() && pick(2) == 0) {  // a piece of the text, so matches happen
        const size_t at = pick(text.size());
        s = text.substr(at, 1 + pick(8));
      } else {
        const size_t slen = 1 + pick(4);
        for (size_t j = 0; j < slen; ++j) s += alphabet[pick(alphabet.size())];
      }
      stops.push_back(s);
    }
    const Outcome want = reference(stops, text);

    StopMatcher m(stops);
    std::string emitted, seen;
    bool stopped = false;
    int32_t index = -1;
    for (size_t at = 0; at <= text.size() && !stopped;) {
      const size_t take = std::min(text.size() - at, pick(6));
      const std::string piece = text.substr(at, take);
      at += take;
      seen += piece;
      const StopResult r = m.push(piece);
      emitted += r.emit;
      stopped = r.stopped;
      index = r.stop_index;
      if (!stopped) {
        ASSERT_EQ(emitted.size(), seen.size() - reference_hold(stops, seen)) << "text '" << text << "'";
        ASSERT_EQ(emitted, seen.substr(0, emitted.size()));
      }
      if (at == text.size() && take == 0) break;
    }
    if (!stopped) emitted += m.finish();
    ASSERT_EQ(emitted, want.text) << "text '" << text << "' stop '" << stops[0] << "'";
    ASSERT_EQ(stopped, want.stopped);
    ASSERT_EQ(index, want.stop_index);
  }
}

}  // namespace
}  // namespace llmd::engine
