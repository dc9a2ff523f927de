// A validated POST /v1/embeddings request. What needs the model (token ids
// against its vocabulary, lengths against its context, `dimensions` against
// its width, whether it embeds at all) is checked in the handler.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/openai/api_request.hpp"

namespace llmd::openai {

struct EmbeddingsRequest {
  std::string model;
  std::vector<PromptInput> inputs;  // one embedding each, in order
  bool base64 = false;              // encoding_format "base64": little-endian float32, base64
  std::optional<int64_t> dimensions;
  std::optional<scheduler::Priority> priority;  // extension, as for completions
};

// Inputs in one request (OpenAI's own limit).
inline constexpr int32_t kMaxEmbeddingInputs = 2048;

// Parses a request body: nullopt on success with `out` filled, else the 400
// to answer. Fields: model, input (a string, an array of strings, an array of
// token ids or an array of arrays of token ids; nothing empty),
// encoding_format ("float" | "base64"), dimensions (>= 1), user (a string,
// not used), priority; any other field is refused by name.
std::optional<ApiError> parse_embeddings_request(std::string_view body, EmbeddingsRequest* out);

}  // namespace llmd::openai
