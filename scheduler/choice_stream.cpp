#include "scheduler/choice_stream.hpp"

#include "engine/tokenizer/tokenizer.hpp"

namespace llmd::scheduler {
namespace {

// A continuation keeps the space its first token carries, and control tokens
// (which the model may emit without ending) are not shown as text.
// Control tokens the caller needs to see (a tool-call format's markers) are
// the exception.
engine::DecodeOptions continuation_options(const std::vector<int32_t>& shown_control) {
  engine::DecodeOptions o;
  o.render_special = false;
  o.strip_leading_space = false;
  o.shown_control = shown_control;
  return o;
}

}  // namespace

ChoiceStream::ChoiceStream(const engine::Tokenizer& tok, const std::vector<std::string>& stops,
                           const std::vector<int32_t>& shown_control)
    : decoder_(tok, continuation_options(shown_control)), stops_(stops), has_stops_(!stops.empty()) {}

ChoiceText ChoiceStream::push(int32_t id) {
  ChoiceText out;
  std::string piece = decoder_.push(id);
  if (!has_stops_) {
    out.text = std::move(piece);
    return out;
  }
  engine::StopResult r = stops_.push(piece);
  out.text = std::move(r.emit);
  out.stopped = r.stopped;
  out.stop_index = r.stop_index;
  return out;
}

std::string ChoiceStream::finish() {
  std::string rest = decoder_.finish();
  if (!has_stops_) return rest;
  std::string out = stops_.push(rest).emit;
  if (!stops_.stopped()) out += stops_.finish();
  return out;
}

}  // namespace llmd::scheduler
