// Recognises a Jinja chat template (tokenizer.chat_template) as one of the
// built-ins by the markers each family's templates share, and refuses the
// variants whose output the built-in would not reproduce (tool-calling
// prompts and the like).
#pragma once

#include <string>
#include <string_view>

#include "engine/chat/builtin_templates.hpp"

namespace llmd::engine::chat {

struct Recognition {
  std::string name;        // built-in name; empty when not recognised
  TemplateOptions options;
  std::string why;         // when not recognised: what the template looks like
};

Recognition recognise_template(std::string_view jinja);

}  // namespace llmd::engine::chat
