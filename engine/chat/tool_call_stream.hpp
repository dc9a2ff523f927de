// Tool calls read while an answer streams. Text that cannot belong to a call
// goes out as it is generated; from the first sign of a call on (a format's
// start marker, or for the whole-answer formats the answer's first bytes)
// the rest is held and read with parse_tool_calls() once the answer is
// complete. Whitespace before a marker and a tail that may still become one
// are held back, so what was shown is the start of the content that
// parse_tool_calls() gives for the whole answer (up to leading whitespace,
// which the whole-answer parse drops when there are calls).
//
// One per choice; not thread-safe (the choice's events arrive in order).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/tool_calls.hpp"

namespace llmd::engine {

class ToolCallStream {
 public:
  explicit ToolCallStream(ToolCallFormat format);

  // Adds generated text; returns the part of the content that is certain
  // now (often empty while a call may be starting).
  std::string push(std::string_view text);

  // The answer is complete: `content` is the rest of the content (what
  // push() did not return) and `calls` the calls, as parse_tool_calls()
  // reads the whole answer. Call once.
  ParsedOutput finish();

 private:
  enum class Mode {
    undecided,  // whole-answer formats: the answer's start is not known yet
    markers,    // text flows until one of starts_ appears
    free,       // no call can start any more: everything is text
    held,       // a call may have started: nothing more goes out
  };

  std::string release(size_t end);  // returns all_[shown_end_, end), moves shown_end_
  std::string scan_markers();
  std::string decide_start();

  ToolCallFormat format_;
  std::vector<std::string_view> starts_;  // texts that open a call
  Mode mode_;
  std::string all_;        // everything pushed
  size_t shown_end_ = 0;   // all_[0, shown_end_) is dealt with (shown or skipped)
  std::string shown_;      // the content returned so far
};

}  // namespace llmd::engine
