#include "engine/chat/prompt_tokens.hpp"

namespace llmd::engine {

std::vector<int32_t> tokenize_prompt(const Tokenizer& tok, const RenderedPrompt& prompt) {
  return tok.encode(prompt.text, /*add_special=*/false, /*parse_special=*/true, prompt.content_ranges);
}

}  // namespace llmd::engine
