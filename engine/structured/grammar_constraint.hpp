// GrammarConstraint: the TokenConstraint of one sequence under a Grammar.
//
// allowed() walks the VocabTrie depth first with the matcher: a trie node's
// state is its parent's advanced by one byte, a subtree is skipped as soon as
// its prefix is refused, and every token ending at a live node is allowed.
// Inside a string, paths of plain content are decided from the trie's
// precomputed TextInfo without stepping the matcher.
// End-of-generation tokens are allowed exactly when the document may end.
// Masks are cached by matcher state (inside an unbounded string the state
// repeats from token to token, so most steps are a lookup); the cache is
// per sequence and bounded in bytes.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/sampling/token_constraint.hpp"
#include "engine/structured/json_matcher.hpp"
#include "engine/structured/vocab_trie.hpp"

namespace llmd::engine::structured {

class GrammarConstraint final : public TokenConstraint {
 public:
  // cache = false computes every mask afresh (for measurements).
  GrammarConstraint(GrammarPtr grammar, std::shared_ptr<const VocabTrie> vocab, bool cache = true);

  std::span<const uint64_t> allowed() override;
  bool accept(int32_t id) override;
  bool finished() const override { return finished_; }

  // The document so far may end here (complete).
  bool complete() const { return matcher_.can_end(state_); }

  static constexpr size_t kCacheBytes = size_t{4} << 20;

 private:
  void compute(std::vector<uint64_t>* bits);

  JsonMatcher matcher_;
  std::shared_ptr<const VocabTrie> vocab_;
  MatchState state_;
  bool finished_ = false;
  bool use_cache_ = true;
  std::vector<MatchState> levels_;        // walk states by trie depth
  std::vector<const MatchState*> at_;     // the state at each depth (see compute)
  std::vector<uint32_t> path_;            // the trie node at each depth of the current path
  std::unordered_map<std::string, std::vector<uint64_t>> cache_;
};

}  // namespace llmd::engine::structured
