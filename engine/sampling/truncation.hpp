// Truncation of the next-token distribution: top-k, top-p (nucleus) and min-p
// choose which tokens may be drawn. Each works on weights w_i ∝ probability
// (exp of the tempered, max-shifted logits) or, for top-k, on the logits.
//
//   top-k: the k tokens with the largest logits, ties → lower id.
//   top-p: of the tokens in order (weight desc, id asc), the shortest prefix
//          whose weight sum reaches top_p · (sum over the tokens still in play).
//   min-p: the tokens with weight ≥ min_p · (largest weight); the largest
//          weight is exactly 1 because logits are shifted by their maximum.
//
// Dense top-p (over a whole vocabulary) avoids sorting it. A first pass
// collects the tokens with weight ≥ 1/256; when a few of them reach the
// target, which is the usual case for a model's peaked distribution, the
// nucleus lies among them. Otherwise a radix selection on the weights' float
// bits (which order like the weights) finds the bucket where the running sum
// reaches the target, narrowing it until it holds few tokens. A weighted
// quickselect then finds the last nucleus token in linear time.
//
// Every result is canonical (a function of the inputs only, not of the
// standard library's sort or heap internals), so a seed reproduces across builds.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/sampling/choice_steps.hpp"

namespace llmd::engine {

// The min(k, size) entries with the largest values, ties → lower id, in no
// particular order; each weight is the value.
void top_k_candidates(std::span<const float> values, int32_t k, std::vector<Candidate>* out);

// Orders by weight descending, then id ascending.
void sort_candidates(std::vector<Candidate>* cands);

// cands sorted: keeps the shortest prefix whose weight sum (in double) reaches
// top_p · total; keeps all when the sum never reaches it.
void keep_top_p_prefix(std::vector<Candidate>* cands, double total, float top_p);

// The candidate at which the running weight sum, in order (weight desc, id
// asc), first reaches target: the last token of the nucleus. The last one in
// that order when the sum never reaches target; {-1, 0} when there are no
// candidates. Permutes *cands.
Candidate nucleus_end(std::vector<Candidate>* cands, double target);

// Reused memory for top_p_end.
struct TopPScratch {
  std::vector<int32_t> ids;
  std::vector<Candidate> cands;
  std::vector<double> histogram;
};

// Top-p over a whole vocabulary of weights (all in [0, 1]) summing to total:
// the last token of the nucleus. The nucleus is that token and every token
// ordered before it (weight desc, id asc); nullopt when it is every token.
std::optional<Candidate> top_p_end(std::span<const float> weights, double total, float top_p,
                                   TopPScratch* scratch);

// Drops candidates with weight below min_weight, keeping the order.
void keep_at_least(std::vector<Candidate>* cands, float min_weight);

}  // namespace llmd::engine
