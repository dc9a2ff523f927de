#include "engine/tokenizer/bpe_encoder.hpp"

#include <queue>

#include "base/log.hpp"
#include "engine/tokenizer/byte_unicode.hpp"

namespace llmd::engine {

Result<std::unique_ptr<BpeEncoder>> BpeEncoder::create(const Vocab& vocab, const gguf::GgufFile& file,
                                                       const PreTokenizerRules& rules) {
  auto enc = std::unique_ptr<BpeEncoder>(new BpeEncoder(vocab));
  enc->ignore_merges_ = rules.ignore_merges;

  auto splitter = RegexSplitter::create(rules.regexes);
  if (!splitter) return splitter.take_error();
  enc->splitter_ = std::move(*splitter);

  const gguf::GgufValue* m = file.find("tokenizer.ggml.merges");
  if (!m) {
    return Error(ErrorCode::tokenizer_bad_metadata,
                 "GGUF " + file.name() + ": byte-level BPE needs metadata 'tokenizer.ggml.merges', which is absent");
  }
  const std::vector<std::string>* merges = m->as_string_array();
  if (!merges) {
    return Error(ErrorCode::tokenizer_bad_metadata,
                 "GGUF " + file.name() + ": metadata 'tokenizer.ggml.merges' must be an array of strings");
  }
  enc->merges_.reserve(merges->size());
  size_t n_bad = 0;
  for (size_t i = 0; i < merges->size(); ++i) {
    const std::string& line = (*merges)[i];
    // "left right"; the left part may itself start with a space.
    const size_t sp = line.size() > 1 ? line.find(' ', 1) : std::string::npos;
    if (sp == std::string::npos || sp + 1 >= line.size()) {
      ++n_bad;
      continue;
    }
    const std::string left = line.substr(0, sp), right = line.substr(sp + 1);
    const int32_t a = enc->intern(left);
    const int32_t b = enc->intern(right);
    const int32_t r = enc->intern(left + right);
    enc->merges_.insert(a, b, PairMap::Value{static_cast<int32_t>(i), r});  // the first rank of a pair wins
  }
  if (n_bad) log::warnf("tokenizer: %s: %zu merges are not of the form 'left right'; ignored", file.name().c_str(), n_bad);

  for (int b = 0; b < 256; ++b) {
    enc->byte_symbol_[static_cast<size_t>(b)] = enc->symbol_id(byte_unicode::encoded(static_cast<uint8_t>(b)));
  }
  return enc;
}

int32_t BpeEncoder::intern(const std::string& text) {
  if (int32_t id = vocab_.find(text); id >= 0) return id;
  auto it = extra_index_.find(text);
  if (it != extra_index_.end()) return it->second;
  const auto id = static_cast<int32_t>(vocab_.size() + extra_text_.size());
  extra_text_.push_back(text);
  extra_index_.emplace(text, id);
  return id;
}

int32_t BpeEncoder::symbol_id(std::string_view text) const {
  if (int32_t id = vocab_.find(text); id >= 0) return id;
  auto it = extra_index_.find(std::string(text));
  return it == extra_index_.end() ? -1 : it->second;
}

std::string_view BpeEncoder::symbol_text(int32_t sym) const {
  if (sym < vocab_.size()) return vocab_.token(sym).text;
  return extra_text_[static_cast<size_t>(sym - vocab_.size())];
}

void BpeEncoder::emit(int32_t sym, std::vector<int32_t>* out) const {
  if (sym >= 0 && sym < vocab_.size()) {
    out->push_back(sym);
    return;
  }
  // A symbol that is no token: fall back to single-byte tokens of its text
  // (only plain ASCII characters have those).
  if (sym < 0) return;
  for (char c : symbol_text(sym)) {
    if (int32_t id = vocab_.find(std::string_view(&c, 1)); id >= 0) out->push_back(id);
  }
}

void BpeEncoder::encode(std::string_view text, std::vector<int32_t>* out) const {
  std::vector<std::string_view> pieces;
  splitter_->split(text, &pieces);
  std::string scratch;
  if (pieces.size() < 256) {
    for (std::string_view p : pieces) encode_piece(p, &scratch, out);
    return;
  }
  // Long texts repeat their words: remember each distinct piece's ids for
  // the length of this call (the encoder itself stays stateless).
  struct Span {
    uint32_t begin, end;
  };
  std::unordered_map<std::string_view, Span> seen;
  seen.reserve(pieces.size() / 4);
  std::vector<int32_t> ids;
  for (std::string_view p : pieces) {
    if (auto it = seen.find(p); it != seen.end()) {
      out->insert(out->end(), ids.begin() + it->second.begin, ids.begin() + it->second.end);
      continue;
    }
    const auto begin = static_cast<uint32_t>(ids.size());
    encode_piece(p, &scratch, &ids);
    const auto end = static_cast<uint32_t>(ids.size());
    out->insert(out->end(), ids.begin() + begin, ids.end());
    seen.emplace(p, Span{begin, end});
  }
}

namespace {

struct Sym {
  int32_t id;    // symbol id, -1 for a character outside vocabulary and merges
  int32_t prev;
  int32_t next;
  uint32_t n_bytes;  // raw bytes covered (for byte fallback of unknown characters)
  uint32_t start;    // first raw byte covered
};

struct Pair {
  int32_t rank;
  int32_t left;   // index into the symbol list
  int32_t right;
  int32_t left_id;
  int32_t right_id;
  int32_t result;  // symbol id of the merged text
};

// Lowest rank first, then leftmost.
struct PairOrder {
  bool operator()(const Pair& a, const Pair& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

void BpeEncoder::encode_piece(std::string_view piece, std::string* scratch, std::vector<int32_t>* out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    scratch->clear();
    byte_unicode::encode(piece, scratch);
    if (int32_t id = vocab_.find(*scratch); id >= 0) {
      out->push_back(id);
      return;
    }
  }
  if (piece.size() == 1) {
    emit(byte_symbol_[static_cast<uint8_t>(piece[0])], out);
    return;
  }

  std::vector<Sym> sym(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) {
    sym[i] = Sym{byte_symbol_[static_cast<uint8_t>(piece[i])], static_cast<int32_t>(i) - 1,
                 i + 1 == piece.size() ? -1 : static_cast<int32_t>(i) + 1, 1, static_cast<uint32_t>(i)};
  }
  std::priority_queue<Pair, std::vector<Pair>, PairOrder> queue;
  auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const int32_t a = sym[static_cast<size_t>(l)].id, b = sym[static_cast<size_t>(r)].id;
    if (a < 0 || b < 0) return;
    const PairMap::Value* m = merges_.find(a, b);
    if (!m) return;
    queue.push(Pair{m->rank, l, r, a, b, m->result});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) try_pair(i, i + 1);

  while (!queue.empty()) {
    const Pair p = queue.top();
    queue.pop();
    Sym& l = sym[static_cast<size_t>(p.left)];
    Sym& r = sym[static_cast<size_t>(p.right)];
    // Stale when either side has changed since the pair was queued.
    if (l.n_bytes == 0 || r.n_bytes == 0 || l.next != p.right || l.id != p.left_id || r.id != p.right_id) continue;
    l.id = p.result;
    l.n_bytes += r.n_bytes;
    r.n_bytes = 0;
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<size_t>(r.next)].prev = p.left;
    try_pair(l.prev, p.left);
    try_pair(p.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = sym[static_cast<size_t>(i)].next) {
    const Sym& s = sym[static_cast<size_t>(i)];
    if (s.id >= 0) {
      emit(s.id, out);
    } else {
      // A character without a symbol: its single-byte tokens, if any.
      for (uint32_t k = 0; k < s.n_bytes; ++k) {
        std::string_view ch = byte_unicode::encoded(static_cast<uint8_t>(piece[s.start + k]));
        for (char c : ch) {
          if (int32_t id = vocab_.find(std::string_view(&c, 1)); id >= 0) out->push_back(id);
        }
      }
    }
  }
}

}  // namespace llmd::engine
