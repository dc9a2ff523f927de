#include "engine/tokenizer/special_partition.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace llmd::engine {
namespace {

inline bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

SpecialPartitioner::SpecialPartitioner(const Vocab& vocab) : vocab_(vocab) {
  const auto& list = vocab_.special_tokens();
  for (uint32_t i = 0; i < list.size(); ++i) {
    const std::string& t = vocab_.token(list[i]).text;
    if (!t.empty()) by_first_byte_[static_cast<uint8_t>(t[0])].push_back(i);
  }
}

void SpecialPartitioner::partition(std::string_view text, bool parse_special,
                                   std::span<const std::pair<size_t, size_t>> literal,
                                   std::vector<Fragment>* out) const {
  out->clear();
  if (text.empty()) return;
  out->push_back(Fragment{-1, 0, text.size()});

  const auto& list = vocab_.special_tokens();
  auto is_control = [&](int32_t id) { return (vocab_.attr(id) & (token_attr::kControl | token_attr::kUnknown)) != 0; };
  auto allowed = [&](int32_t id) { return parse_special || !is_control(id); };
  // A control token may not be taken from literal text. The ranges come in
  // order and do not overlap, so their ends are sorted too.
  auto in_literal = [&](size_t pos, size_t len) {
    auto it = std::partition_point(literal.begin(), literal.end(),
                                   [&](const std::pair<size_t, size_t>& r) { return r.second <= pos; });
    return it != literal.end() && it->first < pos + len;
  };

  // One pass over the text to learn which special tokens occur at all.
  std::vector<uint8_t> present(list.size(), 0);
  bool any = false;
  for (size_t pos = 0; pos < text.size(); ++pos) {
    const auto& bucket = by_first_byte_[static_cast<uint8_t>(text[pos])];
    for (uint32_t idx : bucket) {
      if (present[idx]) continue;
      const std::string& t = vocab_.token(list[idx]).text;
      if (t.size() <= text.size() - pos && std::memcmp(text.data() + pos, t.data(), t.size()) == 0 &&
          allowed(list[idx])) {
        present[idx] = 1;
        any = true;
      }
    }
  }
  if (!any) return;

  std::vector<Fragment> next;
  for (uint32_t idx = 0; idx < list.size(); ++idx) {
    if (!present[idx]) continue;
    const int32_t id = list[idx];
    const std::string& tok = vocab_.token(id).text;
    const uint32_t attr = vocab_.attr(id);
    const bool check_literal = !literal.empty() && is_control(id);
    next.clear();
    for (const Fragment& f : *out) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t base = f.offset, len = f.length;
      size_t search = base;
      while (true) {
        const size_t match = text.substr(0, base + len).find(tok, search);
        if (match == std::string_view::npos) {
          if (len > 0) next.push_back(Fragment{-1, base, len});
          break;
        }
        if (check_literal && in_literal(match, tok.size())) {
          search = match + 1;  // text, not the token: look further on
          continue;
        }
        size_t left_len = match - base;
        if (attr & token_attr::kLstrip) {
          while (left_len > 0 && is_space(text[base + left_len - 1])) --left_len;
        }
        if (left_len > 0) next.push_back(Fragment{-1, base, left_len});
        next.push_back(Fragment{id, match, tok.size()});
        size_t right = match + tok.size();
        size_t right_len = base + len - right;
        if (attr & token_attr::kRstrip) {
          while (right_len > 0 && is_space(text[right])) {
            ++right;
            --right_len;
          }
        }
        base = right;
        len = right_len;
        search = base;
        if (len == 0) break;
      }
    }
    out->swap(next);
  }
}

}  // namespace llmd::engine
