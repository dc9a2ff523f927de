#include "daemon/openai/embedding_response.hpp"

#include <bit>
#include <cstring>

#include "daemon/openai/json_text.hpp"

namespace llmd::openai {

std::string base64_encode(std::span<const uint8_t> b) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= b.size(); i += 3) {
    const uint32_t v = (uint32_t{b[i]} << 16) | (uint32_t{b[i + 1]} << 8) | b[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == b.size()) {
    const uint32_t v = uint32_t{b[i]} << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == b.size()) {
    const uint32_t v = (uint32_t{b[i]} << 16) | (uint32_t{b[i + 1]} << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string embedding_base64(std::span<const float> v) {
  std::vector<uint8_t> bytes(v.size() * 4);
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    if constexpr (std::endian::native == std::endian::big) u = __builtin_bswap32(u);
    for (int k = 0; k < 4; ++k) bytes[i * 4 + static_cast<size_t>(k)] = static_cast<uint8_t>(u >> (8 * k));
  }
  return base64_encode(bytes);
}

std::string embeddings_response(std::string_view model, const std::vector<std::vector<float>>& embeddings,
                                bool base64, int64_t prompt_tokens) {
  std::string out = "{\"object\":\"list\",\"data\":[";
  for (size_t i = 0; i < embeddings.size(); ++i) {
    if (i) out += ',';
    out += "{\"object\":\"embedding\",\"index\":";
    append_json_int(out, static_cast<int64_t>(i));
    out += ",\"embedding\":";
    if (base64) {
      out += '"';
      out += embedding_base64(embeddings[i]);
      out += '"';
    } else {
      out += '[';
      for (size_t j = 0; j < embeddings[i].size(); ++j) {
        if (j) out += ',';
        append_json_float(out, embeddings[i][j]);
      }
      out += ']';
    }
    out += '}';
  }
  out += "],\"model\":";
  append_json_string(out, model);
  out += ",\"usage\":{\"prompt_tokens\":";
  append_json_int(out, prompt_tokens);
  out += ",\"total_tokens\":";
  append_json_int(out, prompt_tokens);
  out += "}}";
  return out;
}

}  // namespace llmd::openai
