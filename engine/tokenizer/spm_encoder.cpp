#include "engine/tokenizer/spm_encoder.hpp"

#include <cstdio>
#include <queue>

namespace llmd::engine {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t start;  // byte offset in the fragment
  uint32_t len;    // 0 once merged into its left neighbour
};

struct Bigram {
  int32_t left;
  int32_t right;
  float score;
  uint32_t size;
};

// Highest score first; on equal scores the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

// Bytes taken by the character that starts with `lead` (by its high bits,
// so a stray continuation byte stands alone).
inline uint32_t char_bytes(uint8_t lead) {
  static constexpr uint8_t kByHighNibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kByHighNibble[lead >> 4];
}

}  // namespace

SpmEncoder::SpmEncoder(const Vocab& vocab) : vocab_(vocab) {
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    int32_t id = vocab_.find(name);
    if (id < 0) {
      const char c = static_cast<char>(b);
      id = vocab_.find(std::string_view(&c, 1));
    }
    if (id < 0) id = vocab_.unk_id();
    byte_token_[static_cast<size_t>(b)] = id;
  }
  words_independent_ = true;
  for (int32_t id = 0; id < vocab_.size() && words_independent_; ++id) {
    std::string_view t = vocab_.token(id).text;
    while (t.substr(0, kSpaceMark.size()) == kSpaceMark) t.remove_prefix(kSpaceMark.size());
    if (t.find(kSpaceMark) != std::string_view::npos) words_independent_ = false;
  }
}

void SpmEncoder::encode(std::string_view text, std::vector<int32_t>* out) const {
  if (!words_independent_) {
    encode_chunk(text, out);
    return;
  }
  // Cut before every U+2581 that follows another character.
  const size_t m = kSpaceMark.size();
  size_t start = 0;
  for (size_t pos = 1; pos + m <= text.size(); ++pos) {
    if (text.compare(pos, m, kSpaceMark) != 0) continue;
    if (pos >= m && text.compare(pos - m, m, kSpaceMark) == 0) continue;
    encode_chunk(text.substr(start, pos - start), out);
    start = pos;
  }
  encode_chunk(text.substr(start), out);
}

void SpmEncoder::encode_chunk(std::string_view text, std::vector<int32_t>* out) const {
  if (text.empty()) return;
  std::vector<Symbol> sym;
  sym.reserve(text.size());
  for (uint32_t off = 0; off < text.size();) {
    uint32_t n = char_bytes(static_cast<uint8_t>(text[off]));
    if (n > text.size() - off) n = static_cast<uint32_t>(text.size() - off);
    const auto idx = static_cast<int32_t>(sym.size());
    sym.push_back(Symbol{idx - 1, off + n == text.size() ? -1 : idx + 1, off, n});
    off += n;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const Symbol& a = sym[static_cast<size_t>(l)];
    const Symbol& b = sym[static_cast<size_t>(r)];
    const int32_t id = vocab_.find(text.substr(a.start, a.len + b.len));
    if (id < 0) return;
    queue.push(Bigram{l, r, vocab_.token(id).score, a.len + b.len});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) try_pair(i - 1, i);

  while (!queue.empty()) {
    const Bigram bg = queue.top();
    queue.pop();
    Symbol& l = sym[static_cast<size_t>(bg.left)];
    Symbol& r = sym[static_cast<size_t>(bg.right)];
    // Skip pairs that an earlier merge made stale.
    if (l.len == 0 || r.len == 0 || l.len + r.len != bg.size) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<size_t>(r.next)].prev = bg.left;
    try_pair(l.prev, bg.left);
    try_pair(bg.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = sym[static_cast<size_t>(i)].next) {
    const Symbol& s = sym[static_cast<size_t>(i)];
    const std::string_view piece = text.substr(s.start, s.len);
    const int32_t id = vocab_.find(piece);
    if (id >= 0) {
      out->push_back(id);
      continue;
    }
    for (char c : piece) {
      const int32_t b = byte_token_[static_cast<uint8_t>(c)];
      if (b >= 0) out->push_back(b);
    }
  }
}

}  // namespace llmd::engine
