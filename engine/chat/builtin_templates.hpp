// The built-in chat templates, by name. Each reproduces one family's Jinja
// template for system/user/assistant conversations (rendered the way
// Hugging Face renders templates: trim_blocks and lstrip_blocks on).
//
//   plain          BOS (when the tokenizer adds one) + contents joined by "\n\n"
//   chatml         <|im_start|>role\n...<|im_end|>\n           (Hermes, Yi, ...)
//   qwen2          chatml with default system "You are a helpful assistant."
//   qwen2.5        chatml with default system "You are Qwen, created by Alibaba Cloud. ..."
//   llama-2        <s>[INST] <<SYS>>...<</SYS>> ... [/INST] ... </s>
//   llama-3        <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
//   llama-3.1      llama-3 with the dated system header (26 Jul 2024)
//   llama-3.2      llama-3 with the dated system header (today's date)
//   mistral-v1     [INST] ... [/INST]...</s>  (Mistral 7B v0.1/v0.2)
//   mistral-v3     [INST] ...[/INST] ...</s>, system before the last user turn
//   mistral-v3-tekken  [INST]...[/INST]...</s> (Mistral Nemo)
//   mistral-v7     [SYSTEM_PROMPT] ...[/SYSTEM_PROMPT][INST] ...[/INST] ...</s>
//   phi-3          <|user|>\n...<|end|>\n<|assistant|>\n  (original Phi-3 mini)
//   phi-3.5        <|system|>/<|user|>/<|assistant|> turns ending in <|end|>
//   gemma          <start_of_turn>user|model\n...<end_of_turn>\n
//   zephyr         <|user|>\n...</s>\n
//   deepseek       User: ...\n\nAssistant: ...<｜end▁of▁sentence｜>  (DeepSeek LLM / V2)
//   deepseek-v3    <｜User｜>...<｜Assistant｜>...<｜end▁of▁sentence｜>
//   deepseek-r1    deepseek-v3 with "<think>\n" opening the answer, reasoning dropped from history
//   deepseek-r1-user-eos  deepseek-r1 with <｜end▁of▁sentence｜> after each user turn
#pragma once

#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/chat_template.hpp"

namespace llmd::engine {

// What a template may use besides the messages.
struct TemplateEnv {
  std::string bos_token;  // text of the BOS token ("" if none)
  std::string eos_token;  // text of the EOS token ("" if none)
  bool add_bos = false;   // the tokenizer adds BOS to plain text (used by "plain")
  // strftime_now(fmt) of the templates; the default formats the local time.
  std::function<std::string(const char* fmt)> strftime_now;
};

// Options a recognised template can differ in within its family.
struct TemplateOptions {
  bool bos_prefix = false;          // chatml / phi-3 variants that start with bos_token
  bool skip_empty_system = false;   // phi-3.5: an empty system message is left out
};

// Builds a built-in by name (or alias such as "llama3", "mistral-nemo");
// error "chat_template_unknown" listing the names when there is none.
Result<std::unique_ptr<ChatTemplate>> make_builtin_chat_template(std::string_view name, TemplateEnv env,
                                                                 TemplateOptions options = {});

// Canonical names, in the order of the table above.
std::vector<std::string> builtin_chat_template_names();

}  // namespace llmd::engine
