// The JSON of a POST /v1/embeddings answer, as OpenAI shapes it:
//   {"object":"list","data":[{"object":"embedding","index":0,"embedding":[...]}],
//    "model":"...","usage":{"prompt_tokens":N,"total_tokens":N}}
// With base64, each "embedding" is a string: the little-endian float32 bytes
// of the vector, base64-encoded (what OpenAI's clients decode).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmd::openai {

// Standard base64 (RFC 4648, with padding) of `bytes`.
std::string base64_encode(std::span<const uint8_t> bytes);

// The little-endian float32 bytes of `v`, base64-encoded.
std::string embedding_base64(std::span<const float> v);

std::string embeddings_response(std::string_view model, const std::vector<std::vector<float>>& embeddings,
                                bool base64, int64_t prompt_tokens);

}  // namespace llmd::openai
