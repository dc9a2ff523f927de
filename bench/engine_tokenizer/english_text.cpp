#include "english_text.hpp"

#include <cmath>
#include <string_view>
#include <vector>

namespace llmd::bench {
namespace {

// Roughly in order of frequency in written English.
constexpr std::string_view kWords[] = {
    "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
    "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
    "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who",
    "so", "no", "she", "other", "its", "may", "these", "what", "them", "than", "some", "him", "time", "into", "only",
    "do", "could", "new", "about", "two", "then", "first", "also", "after", "any", "like", "should", "our", "over",
    "such", "where", "most", "made", "between", "many", "those", "me", "even", "through", "years", "before", "must",
    "well", "people", "much", "because", "each", "state", "work", "good", "world", "how", "own", "might", "both",
    "life", "under", "same", "day", "being", "still", "part", "here", "little", "while", "great", "without", "since",
    "long", "general", "against", "every", "number", "used", "however", "water", "system", "house", "during",
    "government", "small", "place", "case", "found", "point", "form", "never", "large", "again", "change", "order",
    "children", "country", "school", "family", "history", "night", "morning", "question", "interest", "always",
    "around", "possible", "different", "important", "public", "information", "business", "already", "together",
    "nothing", "although", "understand", "development", "experience", "remember", "something", "evidence", "whether",
    "national", "community", "political", "economic", "available", "particular", "education", "certainly",
    "relationship", "environment", "technology", "probably", "everything", "especially", "individual", "knowledge",
    "building", "language", "reason", "kitchen", "garden", "window", "mountain", "river", "village", "summer",
    "winter", "teacher", "doctor", "student", "market", "company", "problem", "result", "answer", "journey",
    "morning", "evening", "quickly", "slowly", "carefully", "suddenly", "beautiful", "difficult", "simple", "quiet",
    "ancient", "modern", "yellow", "green", "brown", "heavy", "bright", "friendly", "strange", "careful", "walked",
    "looked", "thought", "asked", "wanted", "seemed", "turned", "called", "opened", "believed", "happened",
    "explained", "discovered", "considered", "continued", "returned", "received", "described", "followed",
};

constexpr std::string_view kCapitalized[] = {"London", "Mary", "John", "America", "Paris", "Thomas", "Europe",
                                              "Monday", "Elizabeth", "Chicago", "Robert", "December"};

struct Rng {
  uint64_t s;
  uint64_t next() {  // splitmix64
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

}  // namespace

std::string english_text(size_t n_bytes, uint64_t seed) {
  constexpr size_t n_words = sizeof kWords / sizeof kWords[0];
  std::vector<double> cumulative(n_words);
  double total = 0;
  for (size_t i = 0; i < n_words; ++i) {
    total += 1.0 / std::pow(static_cast<double>(i) + 2.7, 1.07);
    cumulative[i] = total;
  }
  Rng rng{seed};
  auto word = [&]() -> std::string_view {
    const double u = rng.uniform() * total;
    size_t lo = 0, hi = n_words - 1;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return kWords[lo];
  };

  std::string out;
  out.reserve(n_bytes + 256);
  size_t sentences_in_paragraph = 0;
  while (out.size() < n_bytes) {
    const size_t len = 6 + rng.below(18);
    const bool quoted = rng.below(12) == 0;
    if (quoted) out += '"';
    for (size_t i = 0; i < len; ++i) {
      std::string w;
      const size_t r = rng.below(100);
      if (r < 3) w = kCapitalized[rng.below(sizeof kCapitalized / sizeof kCapitalized[0])];
      else if (r < 5) w = std::to_string(rng.below(r == 3 ? 2025 : 100));
      else w = word();
      if (i == 0 && !w.empty() && w[0] >= 'a' && w[0] <= 'z') w[0] = static_cast<char>(w[0] - 'a' + 'A');
      if (i > 0) out += ' ';
      out += w;
      if (rng.below(40) == 0 && w.size() > 2) out += rng.below(2) ? "'s" : "n't";
      if (i + 1 < len && rng.below(9) == 0) out += rng.below(5) ? "," : (rng.below(2) ? ";" : " -");
    }
    const size_t end = rng.below(20);
    out += end < 16 ? "." : end < 18 ? "?" : "!";
    if (quoted) out += '"';
    if (++sentences_in_paragraph >= 3 + rng.below(6)) {
      out += "\n\n";
      sentences_in_paragraph = 0;
    } else {
      out += ' ';
    }
  }
  out.resize(n_bytes);
  return out;
}

}  // namespace llmd::bench
