#include "engine/tokenizer/utf8.hpp"

namespace llmd::engine::utf8 {
namespace {

constexpr const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Allowed range of the byte at index `i` (1..3) of a sequence led by `lead`.
inline bool continuation_ok(uint8_t lead, size_t i, uint8_t b) {
  if (i == 1) {
    switch (lead) {
      case 0xE0: return b >= 0xA0 && b <= 0xBF;  // no overlong 3-byte forms
      case 0xED: return b >= 0x80 && b <= 0x9F;  // no surrogates
      case 0xF0: return b >= 0x90 && b <= 0xBF;  // no overlong 4-byte forms
      case 0xF4: return b >= 0x80 && b <= 0x8F;  // nothing above U+10FFFF
      default: break;
    }
  }
  return (b & 0xC0) == 0x80;
}

// Total length of a well-formed sequence led by `lead`, or 0 if `lead` cannot
// start one.
inline size_t lead_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

}  // namespace

size_t decode(std::string_view s, size_t pos, uint32_t* cp) {
  if (pos >= s.size()) return 0;
  const auto lead = static_cast<uint8_t>(s[pos]);
  const size_t n = lead_length(lead);
  if (n == 0 || s.size() - pos < n) return 0;
  uint32_t v = n == 1 ? lead : n == 2 ? (lead & 0x1F) : n == 3 ? (lead & 0x0F) : (lead & 0x07);
  for (size_t i = 1; i < n; ++i) {
    const auto b = static_cast<uint8_t>(s[pos + i]);
    if (!continuation_ok(lead, i, b)) return 0;
    v = (v << 6) | (b & 0x3F);
  }
  if (cp) *cp = v;
  return n;
}

bool is_valid(std::string_view s, size_t* bad_offset) {
  size_t pos = 0;
  while (pos < s.size()) {
    // Fast path for ASCII runs.
    if (static_cast<uint8_t>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t n = decode(s, pos, nullptr);
    if (n == 0) {
      if (bad_offset) *bad_offset = pos;
      return false;
    }
    pos += n;
  }
  return true;
}

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

void Sanitizer::push(std::string_view bytes, std::string* out) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    if (n_pending_ > 0) {
      if (continuation_ok(pending_[0], n_pending_, b)) {
        pending_[n_pending_++] = b;
        if (n_pending_ == need_) {
          out->append(reinterpret_cast<const char*>(pending_), n_pending_);
          n_pending_ = 0;
        }
        continue;
      }
      // The sequence broke off: its maximal subpart becomes one U+FFFD and
      // this byte is looked at afresh.
      out->append(kReplacement);
      n_pending_ = 0;
    }
    if (b < 0x80) {
      out->push_back(static_cast<char>(b));
      continue;
    }
    const size_t n = lead_length(b);
    if (n == 0) {
      out->append(kReplacement);
      continue;
    }
    pending_[0] = b;
    n_pending_ = 1;
    need_ = n;
  }
}

std::string Sanitizer::push(std::string_view bytes) {
  std::string out;
  push(bytes, &out);
  return out;
}

std::string Sanitizer::finish() {
  std::string out;
  if (n_pending_ > 0) out.append(kReplacement);
  n_pending_ = 0;
  need_ = 0;
  return out;
}

std::string sanitize(std::string_view bytes) {
  Sanitizer s;
  std::string out = s.push(bytes);
  out += s.finish();
  return out;
}

}  // namespace llmd::engine::utf8
