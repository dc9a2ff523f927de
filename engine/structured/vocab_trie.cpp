#include "engine/structured/vocab_trie.hpp"

#include <algorithm>
#include <numeric>

#include "engine/tokenizer/tokenizer.hpp"

namespace llmd::engine::structured {
namespace {

// Longer texts are left out: no token of a real vocabulary comes close.
constexpr size_t kMaxPiece = 1024;

// The TextInfo of a path extended by byte c (RFC 3629 UTF-8, as JsonMatcher
// reads string content).
VocabTrie::TextInfo extend(VocabTrie::TextInfo t, uint8_t c) {
  if (!t.ok) return t;
  if (t.need) {
    if (c < t.lo || c > t.hi) return VocabTrie::TextInfo{0, 0, 0, 0, 0};
    --t.need;
    t.lo = t.need ? 0x80 : 0;
    t.hi = t.need ? 0xBF : 0;
    return t;
  }
  if (c < 0x80) {
    if (c < 0x20 || c == '"' || c == '\\') return VocabTrie::TextInfo{0, 0, 0, 0, 0};
    ++t.code_points;
    return t;
  }
  uint8_t need = 0, lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) need = 1;
  else if (c == 0xE0) need = 2, lo = 0xA0;
  else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) need = 2;
  else if (c == 0xED) need = 2, hi = 0x9F;
  else if (c == 0xF0) need = 3, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) need = 3;
  else if (c == 0xF4) need = 3, hi = 0x8F;
  else return VocabTrie::TextInfo{0, 0, 0, 0, 0};
  t.need = need, t.lo = lo, t.hi = hi;
  ++t.code_points;
  return t;
}

std::vector<std::string> pieces_of(const Tokenizer& tok, const std::vector<int32_t>& shown_control) {
  std::vector<std::string> out(static_cast<size_t>(tok.n_vocab()));
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    const bool shown = std::find(shown_control.begin(), shown_control.end(), id) != shown_control.end();
    if (tok.is_eog(id) || (tok.is_control(id) && !shown)) continue;
    out[static_cast<size_t>(id)] = std::string(tok.token_piece(id));
  }
  return out;
}

std::vector<int32_t> eog_of(const Tokenizer& tok) {
  const auto ids = tok.eog_ids();
  return {ids.begin(), ids.end()};
}

}  // namespace

VocabTrie::VocabTrie(const Tokenizer& tok, const std::vector<int32_t>& shown_control)
    : VocabTrie(pieces_of(tok, shown_control), eog_of(tok)) {}

VocabTrie::VocabTrie(const std::vector<std::string>& pieces, std::vector<int32_t> eog)
    : n_vocab_(static_cast<int32_t>(pieces.size())), eog_(std::move(eog)) {
  std::sort(eog_.begin(), eog_.end());
  eog_.erase(std::unique(eog_.begin(), eog_.end()), eog_.end());
  std::erase_if(eog_, [&](int32_t id) { return id < 0 || id >= n_vocab_; });
  pieces_ = pieces;
  for (int32_t id : eog_) pieces_[static_cast<size_t>(id)].clear();
  for (std::string& p : pieces_) {
    if (p.size() > kMaxPiece) p.clear();
  }
  build(pieces_);
}

bool VocabTrie::is_eog(int32_t id) const { return std::binary_search(eog_.begin(), eog_.end(), id); }

void VocabTrie::build(const std::vector<std::string>& pieces) {
  std::vector<int32_t> order;
  for (size_t id = 0; id < pieces.size(); ++id) {
    if (!pieces[id].empty()) order.push_back(static_cast<int32_t>(id));
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return pieces[static_cast<size_t>(a)] < pieces[static_cast<size_t>(b)] ||
           (pieces[static_cast<size_t>(a)] == pieces[static_cast<size_t>(b)] && a < b);
  });
  std::vector<uint32_t> path;                       // node per depth - 1
  std::vector<std::pair<uint32_t, int32_t>> owned;  // (node, token id), in node order
  const std::string* prev = nullptr;
  for (int32_t id : order) {
    const std::string& p = pieces[static_cast<size_t>(id)];
    size_t lcp = 0;
    if (prev) {
      const size_t n = std::min(prev->size(), p.size());
      while (lcp < n && (*prev)[lcp] == p[lcp]) ++lcp;
    }
    while (path.size() > lcp) {
      skip_[path.back()] = static_cast<uint32_t>(byte_.size());
      path.pop_back();
    }
    for (size_t k = lcp; k < p.size(); ++k) {
      text_.push_back(extend(k == 0 ? TextInfo{} : text_[path.back()], static_cast<uint8_t>(p[k])));
      path.push_back(static_cast<uint32_t>(byte_.size()));
      byte_.push_back(static_cast<uint8_t>(p[k]));
      depth_.push_back(static_cast<uint16_t>(k + 1));
      skip_.push_back(0);
    }
    max_depth_ = std::max(max_depth_, p.size());
    owned.emplace_back(path.back(), id);
    prev = &p;
  }
  while (!path.empty()) {
    skip_[path.back()] = static_cast<uint32_t>(byte_.size());
    path.pop_back();
  }
  ids_begin_.assign(byte_.size() + 1, 0);
  for (const auto& [node, id] : owned) ++ids_begin_[node + 1];
  std::partial_sum(ids_begin_.begin(), ids_begin_.end(), ids_begin_.begin());
  ids_.resize(owned.size());
  std::vector<uint32_t> fill(ids_begin_.begin(), ids_begin_.end() - 1);
  for (const auto& [node, id] : owned) ids_[fill[node]++] = id;
}

}  // namespace llmd::engine::structured
