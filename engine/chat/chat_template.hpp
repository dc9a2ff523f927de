// Chat templates: turn an OpenAI-style message list into the prompt text a
// model was trained on.
//
// BOS convention. A rendered prompt is complete: it already contains the BOS
// text (e.g. "<s>", "<|begin_of_text|>") exactly when the model's own template
// writes bos_token, and it contains the end-of-turn / EOS texts the template
// writes. Callers must therefore tokenize it with add_special = false (so no
// second BOS is added) and parse_special = true (so that "<|eot_id|>",
// "<s>", ... become their tokens). Better: tokenize a RenderedPrompt with
// tokenize_prompt() (prompt_tokens.hpp), which does exactly that but reads
// the text that came from message contents as plain text, so users cannot
// inject control tokens. The "plain" default writes the BOS text itself when
// the model's tokenizer adds one (tokenizer.ggml.add_bos_token).
//
// Roles are "system", "user" and "assistant"; other roles are an error.
// Templates whose original rejects or drops a system message (Gemma,
// Mistral v1, Phi-3 original) fold it into the first user message as
// system + "\n\n" + user, and render that exactly as the original would.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "engine/gguf/gguf_reader.hpp"

namespace llmd::engine {

struct ChatMessage {
  std::string role;  // system | user | assistant
  std::string content;
};

// A rendered prompt and the byte ranges [begin, end) of `text` that hold
// message content (everything else is template markup).
struct RenderedPrompt {
  std::string text;
  std::vector<std::pair<size_t, size_t>> content_ranges;
};

// Interface: the built-in templates and the Jinja renderer implement it.
class ChatTemplate {
 public:
  virtual ~ChatTemplate() = default;
  virtual std::string name() const = 0;
  virtual Result<std::string> render(std::span<const ChatMessage> messages, bool add_generation_prompt) const = 0;
  // The same text with the content ranges marked. The default marks none
  // (all text is markup); built-in templates mark every message content.
  virtual Result<RenderedPrompt> render_prompt(std::span<const ChatMessage> messages,
                                               bool add_generation_prompt) const {
    auto text = render(messages, add_generation_prompt);
    if (!text) return text.take_error();
    return RenderedPrompt{std::move(*text), {}};
  }
};

// Configuration key that names a model's chat template (documented in errors).
inline constexpr std::string_view kChatTemplateConfigKey = "models[].chat_template";

// Picks the template of a model: `override_name` (from the model's config,
// e.g. "chatml") wins; otherwise the GGUF's tokenizer.chat_template is
// rendered by the Jinja interpreter (jinja_chat_template.hpp); a template
// that does not parse is recognised as one of the built-ins instead, with a
// warning; a file without a template gets the "plain" default (and the log
// says so). A template that neither parses nor is recognised is an error
// ("chat_template_unrecognised") that names the configuration key above; an
// unknown override name is "chat_template_unknown". BOS/EOS texts come from
// the file's tokenizer metadata.
Result<std::unique_ptr<ChatTemplate>> select_chat_template(const gguf::GgufFile& file, std::string_view override_name);

// The template of a model whose configuration names a Jinja file instead:
// `jinja` (the file's text), rendered or recognised as above, with the
// BOS/EOS texts of `file`; `source` names the file in messages.
Result<std::unique_ptr<ChatTemplate>> select_chat_template_from_jinja(const gguf::GgufFile& file, std::string_view jinja,
                                                                     std::string_view source);

}  // namespace llmd::engine
