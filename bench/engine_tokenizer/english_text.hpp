// Deterministic English-like text for tokenizer benchmarks: sentences drawn
// from a list of common English words with a Zipf-like frequency, with
// capitals, punctuation, numbers, quotes, contractions and paragraph breaks,
// so that word-length and character statistics resemble prose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace llmd::bench {

std::string english_text(size_t n_bytes, uint64_t seed = 42);

}  // namespace llmd::bench
