// The text side of one choice: token ids in, stop-safe UTF-8 text out.
// Detokenizes incrementally (never half a code point) and holds back any tail
// that could still become a stop string, so nothing of a stop string is sent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/sampling/stop_matcher.hpp"
#include "engine/tokenizer/stream_decoder.hpp"

namespace llmd::scheduler {

struct ChoiceText {
  std::string text;      // safe to send now
  bool stopped = false;  // a stop string completed
  int32_t stop_index = -1;
};

class ChoiceStream {
 public:
  // shown_control: control tokens shown as their text (others show nothing).
  ChoiceStream(const engine::Tokenizer& tok, const std::vector<std::string>& stops,
               const std::vector<int32_t>& shown_control = {});

  // Adds a generated token's text.
  ChoiceText push(int32_t id);
  // The generation ended for another reason: what was held back.
  std::string finish();

 private:
  engine::StreamDecoder decoder_;
  engine::StopMatcher stops_;
  bool has_stops_;
};

}  // namespace llmd::scheduler
