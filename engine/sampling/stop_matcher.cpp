#include "engine/sampling/stop_matcher.hpp"

#include <algorithm>

namespace llmd::engine {

size_t incomplete_utf8_tail(std::string_view text) {
  // Walk back over at most three continuation bytes (10xxxxxx) to a lead byte.
  const size_t n = text.size();
  for (size_t back = 1; back <= std::min<size_t>(4, n); ++back) {
    const auto byte = static_cast<unsigned char>(text[n - back]);
    if ((byte & 0xC0) == 0x80) continue;  // continuation byte
    size_t need = 0;
    if ((byte & 0xE0) == 0xC0) need = 2;
    else if ((byte & 0xF0) == 0xE0) need = 3;
    else if ((byte & 0xF8) == 0xF0) need = 4;
    return need > back ? back : 0;  // ASCII, invalid lead or complete: nothing to hold
  }
  return 0;
}

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (size_t i = 0; i < stops.size(); ++i) {
    if (stops[i].empty()) continue;
    Pattern p;
    p.text = std::move(stops[i]);
    p.index = static_cast<int32_t>(i);
    // Knuth-Morris-Pratt failure function.
    p.border.assign(p.text.size(), 0);
    uint32_t k = 0;
    for (size_t j = 1; j < p.text.size(); ++j) {
      while (k > 0 && p.text[j] != p.text[k]) k = p.border[k - 1];
      if (p.text[j] == p.text[k]) ++k;
      p.border[j] = k;
    }
    patterns_.push_back(std::move(p));
  }
}

const StopMatcher::Pattern* StopMatcher::step(char c) {
  const Pattern* done = nullptr;
  for (Pattern& p : patterns_) {
    while (p.matched > 0 && p.text[p.matched] != c) p.matched = p.border[p.matched - 1];
    if (p.text[p.matched] == c) ++p.matched;
    if (p.matched == p.text.size() && (!done || p.text.size() > done->text.size())) done = &p;
  }
  return done;
}

size_t StopMatcher::hold_length(const std::string& text) const {
  size_t hold = incomplete_utf8_tail(text);
  for (const Pattern& p : patterns_) hold = std::max<size_t>(hold, p.matched);
  return std::min(hold, text.size());
}

StopResult StopMatcher::push(std::string_view piece) {
  StopResult r;
  if (stopped() || finished_) {
    r.stopped = stopped();
    r.stop_index = stop_index_;
    return r;
  }
  // The automata's states say how much of the stream's end is a partial match;
  // all of it is in held_, which always covers the longest partial match.
  for (size_t i = 0; i < piece.size(); ++i) {
    if (const Pattern* p = step(piece[i])) {
      held_.append(piece.substr(0, i + 1));
      held_.resize(held_.size() - p->text.size());  // cut the stop string and what follows
      r.emit = std::move(held_);
      held_.clear();
      r.stopped = true;
      r.stop_index = stop_index_ = p->index;
      return r;
    }
  }
  held_.append(piece);
  const size_t keep = hold_length(held_);
  r.emit.assign(held_, 0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return r;
}

std::string StopMatcher::finish() {
  finished_ = true;
  std::string rest = std::move(held_);
  held_.clear();
  return rest;
}

}  // namespace llmd::engine
