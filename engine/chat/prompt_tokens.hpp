// Tokenizing a rendered chat prompt: template markup with special-token
// parsing (so "<|im_start|>" is one token), message contents as plain text
// (so a user cannot type a control token), no BOS/EOS added (the template
// wrote them), and the result identical to tokenizing the whole text at once
// when the contents hold no special-token text.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/chat/chat_template.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace llmd::engine {

std::vector<int32_t> tokenize_prompt(const Tokenizer& tok, const RenderedPrompt& prompt);

}  // namespace llmd::engine
