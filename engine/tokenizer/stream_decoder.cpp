#include "engine/tokenizer/stream_decoder.hpp"

#include "engine/tokenizer/tokenizer.hpp"

namespace llmd::engine {

StreamDecoder::StreamDecoder(const Tokenizer& tok) : StreamDecoder(tok, DecodeOptions{}) {}

StreamDecoder::StreamDecoder(const Tokenizer& tok, const DecodeOptions& options)
    : tok_(tok), render_special_(options.render_special), strip_leading_space_(options.strip_leading_space) {}

std::string StreamDecoder::push(int32_t id) {
  std::string out;
  utf8_.push(tok_.piece_for(id, first_, render_special_, strip_leading_space_), &out);
  first_ = false;
  return out;
}

std::string StreamDecoder::finish() {
  first_ = true;
  return utf8_.finish();
}

}  // namespace llmd::engine
