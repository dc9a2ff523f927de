#include "engine/structured/grammar_constraint.hpp"


namespace llmd::engine::structured {
namespace {

std::string cache_key(const MatchState& s) {
  std::string key(s.key());
  key.append(reinterpret_cast<const char*>(s.ends.data()), s.ends.size() * sizeof(uint32_t));
  return key;
}

void set_bit(std::vector<uint64_t>* bits, int32_t id) {
  (*bits)[static_cast<size_t>(id) / 64] |= uint64_t{1} << (static_cast<size_t>(id) % 64);
}

}  // namespace

GrammarConstraint::GrammarConstraint(GrammarPtr grammar, std::shared_ptr<const VocabTrie> vocab, bool cache)
    : matcher_(std::move(grammar)), vocab_(std::move(vocab)), state_(matcher_.initial()), use_cache_(cache) {
  levels_.resize(vocab_->max_depth() + 1);
  at_.resize(vocab_->max_depth() + 1);
  path_.resize(vocab_->max_depth() + 1);
}

std::span<const uint64_t> GrammarConstraint::allowed() {
  std::string key = cache_key(state_);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  const size_t words = (static_cast<size_t>(vocab_->n_vocab()) + 63) / 64;
  if (!use_cache_ || (cache_.size() + 1) * words * sizeof(uint64_t) > kCacheBytes) cache_.clear();
  std::vector<uint64_t>& bits = cache_[std::move(key)];
  compute(&bits);
  return bits;
}

void GrammarConstraint::compute(std::vector<uint64_t>* bits) {
  bits->assign((static_cast<size_t>(vocab_->n_vocab()) + 63) / 64, 0);
  if (finished_) return;
  if (matcher_.can_end(state_)) {
    for (int32_t id : vocab_->eog()) set_bit(bits, id);
  }
  // at_[d]: the state after the first d bytes of the current trie path, or
  // null while the path is plain string content from a state inside a
  // string: such paths are decided from the trie's TextInfo alone (the
  // commonest case, free text), and their state is made only when a child
  // needs it.
  int32_t room = 0;
  const bool content = matcher_.in_string_content(state_, &room);
  at_[0] = &state_;
  const VocabTrie& t = *vocab_;
  const size_t n = t.size();
  size_t i = 0;
  while (i < n) {
    const uint16_t d = t.depth(i);
    path_[d] = static_cast<uint32_t>(i);
    if (content) {
      const VocabTrie::TextInfo& ti = t.text(i);
      if (ti.ok && (room < 0 || ti.code_points <= room)) {
        at_[d] = nullptr;
        const auto [b, e] = t.tokens(i);
        for (const int32_t* p = b; p != e; ++p) set_bit(bits, *p);
        ++i;
        continue;
      }
    }
    const MatchState* from = at_[d - 1];
    if (!from) {
      const VocabTrie::TextInfo& pi = t.text(path_[d - 1]);
      levels_[d - 1] = state_;
      matcher_.advance_content(&levels_[d - 1], pi.code_points, pi.need, pi.lo, pi.hi);
      at_[d - 1] = from = &levels_[d - 1];
    }
    if (!matcher_.step(*from, t.byte(i), &levels_[d])) {
      i = t.skip(i);
      continue;
    }
    at_[d] = &levels_[d];
    const auto [b, e] = t.tokens(i);
    for (const int32_t* p = b; p != e; ++p) set_bit(bits, *p);
    ++i;
  }
}

bool GrammarConstraint::accept(int32_t id) {
  if (finished_ || id < 0 || id >= vocab_->n_vocab()) return false;
  if (vocab_->is_eog(id)) {
    if (!matcher_.can_end(state_)) return false;
    finished_ = true;
    return true;
  }
  const std::string& piece = vocab_->piece(id);
  if (piece.empty()) return false;
  MatchState next = state_;
  if (!matcher_.feed(&next, piece)) return false;
  state_ = std::move(next);
  finished_ = matcher_.must_end(state_);
  return true;
}

}  // namespace llmd::engine::structured
