#include "engine/tokenizer/stream_decoder.hpp"

#include <algorithm>

#include "engine/tokenizer/tokenizer.hpp"

namespace llmd::engine {

StreamDecoder::StreamDecoder(const Tokenizer& tok) : StreamDecoder(tok, DecodeOptions{}) {}

StreamDecoder::StreamDecoder(const Tokenizer& tok, const DecodeOptions& options)
    : tok_(tok),
      render_special_(options.render_special),
      strip_leading_space_(options.strip_leading_space),
      shown_control_(options.shown_control) {
  std::sort(shown_control_.begin(), shown_control_.end());
}

std::string StreamDecoder::push(int32_t id) {
  std::string out;
  const bool render =
      render_special_ || std::binary_search(shown_control_.begin(), shown_control_.end(), id);
  utf8_.push(tok_.piece_for(id, first_, render, strip_leading_space_), &out);
  first_ = false;
  return out;
}

std::string StreamDecoder::finish() {
  first_ = true;
  return utf8_.finish();
}

}  // namespace llmd::engine
